//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
)

// happyTarget starts the built-in Happy server in-process, as replay demo
// does, and returns its URL.
func happyTarget(t *testing.T) string {
	t.Helper()
	srv, err := happyapi.New(happyapi.Config{AnyToken: true,
		AuthLimit: happyapi.RateLimit{N: -1}, TicketLimit: happyapi.RateLimit{N: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return srv.URL()
}

type interruptedDoc struct {
	Meta struct {
		Scheduled   int64 `json:"scheduled"`
		Interrupted *struct {
			At     int64    `json:"at_ns"`
			Reason string   `json:"reason"`
			Shards []string `json:"shards"`
		} `json:"interrupted"`
		RunID    string `json:"run_id"`
		CorpusID string `json:"corpus_id"`
	} `json:"meta"`
	Accounting struct {
		OK bool `json:"ok"`
	} `json:"accounting"`
}

func readDoc(t *testing.T, path string) interruptedDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d interruptedDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// SIGTERM in the middle of a replay of the shipped corpus against the
// built-in server (through the same signal.NotifyContext main uses):
// the summary and the --out results cover what was sent, say so first
// and in the JSON, and the exit code is 130. Then compare and merge name
// the partial run.
func TestInterruptedRunIsPartial(t *testing.T) {
	dir := t.TempDir()
	corpusPath := happyCorpus(t, dir)
	target := happyTarget(t)
	results := filepath.Join(dir, "out", "partial.json")
	html := filepath.Join(dir, "out", "partial.html")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go func() {
		select {
		case <-time.After(1500 * time.Millisecond):
			// The run lasts 13 s: it is well under way, and the signal is
			// caught by NotifyContext (still registered until run returns).
			syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		case <-done:
		}
	}()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"replay", "run", corpusPath, "--target", target, "--speed", "10", "-q",
		"--out", "json=" + results, "--out", "html=" + html}, &stdout, &stderr)
	close(done)
	took := time.Since(start)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitInterrupted, stdout.String(), stderr.String())
	}
	if took > 8*time.Second {
		t.Errorf("the interrupted run took %s: the signal did not stop it", took)
	}
	oneLine(t, stderr.String(), "interrupted after", "terminated signal received", "--out results", `"interrupted"`)
	if got := firstLine(stdout.String()); !strings.HasPrefix(got, "INTERRUPTED after ") || !strings.Contains(got, "(terminated signal received): partial results") {
		t.Errorf("summary's first line: %q", got)
	}
	doc := readDoc(t, results)
	in := doc.Meta.Interrupted
	if in == nil || in.Reason != "terminated signal received" || in.At <= 0 || in.At > int64(7*time.Second) {
		t.Fatalf("results meta.interrupted = %+v, want about 1.5s, terminated signal received", in)
	}
	if !doc.Accounting.OK || doc.Meta.Scheduled == 0 || doc.Meta.Scheduled >= 3041 {
		t.Errorf("accounting ok %v, %d of 3041 events scheduled", doc.Accounting.OK, doc.Meta.Scheduled)
	}
	if doc.Meta.RunID == "" || !strings.HasPrefix(doc.Meta.CorpusID, "sha256:") {
		t.Errorf("run id %q, corpus id %q", doc.Meta.RunID, doc.Meta.CorpusID)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("html report of the partial run: %v", err)
	}
	if strings.Contains(stdout.String(), doc.Meta.RunID) {
		t.Errorf("the run id is printed in the summary: it belongs in the results only")
	}

	// compare names the partial run, whatever the verdict
	code, out, errOut := runReplay(t, "compare", results, results)
	if code != exitOK || !strings.Contains(out, "warning: partial run: A interrupted after") ||
		!strings.Contains(out, "verdict: UNCHANGED (PARTIAL: A interrupted after") {
		t.Errorf("compare of the partial run with itself: exit %d\n%s%s", code, out, errOut)
	}
}

// Cancelling run()'s context while the target is being dialled stops
// before anything is sent: exit 130, no report, no results, no
// directories.
func TestInterruptedBeforeTheRun(t *testing.T) {
	dir := t.TempDir()
	corpusPath := smallCorpus(t, dir, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "new", "r.json")
	code := run(ctx, []string{"replay", "run", corpusPath, "--target", okServer(t), "-q", "--out", "json=" + out}, &stdout, &stderr)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, stderr.String())
	}
	oneLine(t, stderr.String(), "interrupted before the run started", "nothing was sent")
	if _, err := os.Stat(filepath.Dir(out)); err == nil {
		t.Errorf("%s was made for a run that never started", filepath.Dir(out))
	}
}
