package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The hidden diagnostics of replay run write what they promise: a CPU and
// an allocation profile (gzipped protocol buffers, as go tool pprof reads
// them) and an execution trace (go tool trace's format, which opens with
// its "go 1.N trace" header), without changing the run.
func TestRunDiagnostics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	dir := t.TempDir()
	c := smallCorpus(t, dir, 50)
	cpu, mem, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof"), filepath.Join(dir, "run.trace")
	code, stdout, stderr := runReplay(t, "run", c, "--target", srv.URL, "--speed", "max", "-q",
		"--cpuprofile", cpu, "--memprofile", mem, "--trace", tr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for path, head := range map[string][]byte{cpu: {0x1f, 0x8b}, mem: {0x1f, 0x8b}, tr: []byte("go 1.")} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 64 || !bytes.HasPrefix(b, head) {
			t.Errorf("%s: %d bytes starting %q, want %q", filepath.Base(path), len(b), b[:min(len(b), 8)], head)
		}
	}
	code, _, stderr = runReplay(t, "run", c, "--target", srv.URL, "-q", "--trace", filepath.Join(dir, "no", "such", "dir", "t"))
	if code == exitOK || !bytes.Contains([]byte(stderr), []byte("--trace")) {
		t.Errorf("a trace that cannot be written: exit %d, %s", code, stderr)
	}
}
