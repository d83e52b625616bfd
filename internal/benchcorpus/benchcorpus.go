// Package benchcorpus makes the synthetic corpora benchmarks replay and
// read: bench/gencorpus run once per test binary and set of flags, with
// the go command, into a temporary directory removed when the test
// binary's TestMain calls Cleanup (or by the system otherwise).
package benchcorpus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var made struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

// Path returns a corpus made by `go run ./bench/gencorpus ARGS -out F`,
// made once per args in this process. A benchmark that cannot make one
// (no go command) is skipped.
func Path(tb testing.TB, args ...string) string {
	tb.Helper()
	made.Lock()
	defer made.Unlock()
	key := strings.Join(args, " ")
	if p, ok := made.paths[key]; ok {
		return p
	}
	if made.dir == "" {
		dir, err := os.MkdirTemp("", "reprise-bench-")
		if err != nil {
			tb.Fatal(err)
		}
		made.dir, made.paths = dir, map[string]string{}
	}
	out := filepath.Join(made.dir, fmt.Sprintf("corpus-%d.rpz", len(made.paths)))
	gobin, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("no go command to make a benchmark corpus: %v", err)
	}
	cmd := exec.Command(gobin, append(append([]string{"run", "./bench/gencorpus"}, args...), "-out", out)...)
	cmd.Dir = root()
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Skipf("gencorpus %s: %v: %s", key, err, msg)
	}
	made.paths[key] = out
	return out
}

// Cleanup removes the corpora made so far.
func Cleanup() {
	made.Lock()
	defer made.Unlock()
	if made.dir != "" {
		os.RemoveAll(made.dir)
		made.dir, made.paths = "", nil
	}
}

// root is the module's root directory, two above this file's.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
