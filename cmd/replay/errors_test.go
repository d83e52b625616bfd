package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// smallCorpus writes n GET exchanges 10 ms apart and returns its path.
func smallCorpus(t *testing.T, dir string, n int, opts ...corpus.WriterOption) string {
	t.Helper()
	path := filepath.Join(dir, "small.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.example:8787"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		err := w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "f", Start: time.Duration(i) * 10 * time.Millisecond,
			Request:  traffic.Request{Method: "GET", URL: "/v1/sessions"},
			Response: &traffic.Response{Status: 200},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func okServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// oneLine checks that stderr is exactly one line mentioning every want.
func oneLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want one:\n%s", len(lines), stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Fatalf("stderr %q does not mention %q", stderr, w)
		}
	}
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 5, corpus.WithBlockSize(1024))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), data...)
	corrupt[len(corrupt)*2/3] ^= 0x55
	target := okServer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"empty corpus", []string{"run", write("empty.rpz", nil), "--target", target}, exitError, []string{"empty"}},
		{"not a corpus", []string{"run", write("text.rpz", []byte("GET / HTTP/1.1\r\n\r\n")), "--target", target}, exitError, []string{"not a reprise corpus"}},
		{"corrupt corpus", []string{"run", write("corrupt.rpz", corrupt), "--target", target, "-q"}, exitError, []string{"corrupt"}},
		{"missing corpus", []string{"run", filepath.Join(dir, "nope.rpz"), "--target", target}, exitError, []string{"nope.rpz", "no such file"}},
		{"unreachable target", []string{"run", good, "--target", dead}, exitError, []string{"unreachable", "connection refused"}},
		{"no target", []string{"run", good}, exitUsage, []string{"--target is required"}},
		{"bad target", []string{"run", good, "--target", "localhost:8787"}, exitUsage, []string{"--target", "http://"}},
		{"bad speed", []string{"run", good, "--target", target, "--speed", "fast"}, exitUsage, []string{"--speed"}},
		{"zero speed", []string{"run", good, "--target", target, "--speed", "0"}, exitUsage, []string{"--speed"}},
		{"bad threshold", []string{"run", good, "--target", target, "--threshold", "p95<<1s"}, exitUsage, []string{"--threshold"}},
		{"bad shard", []string{"run", good, "--target", target, "--shard", "3/2"}, exitUsage, []string{"--shard"}},
		{"bad out", []string{"run", good, "--target", target, "--out", "xml=r.xml"}, exitUsage, []string{"--out", "json, html"}},
		{"bad header", []string{"run", good, "--target", target, "--header", "NoColon"}, exitUsage, []string{"--header"}},
		{"unknown flag", []string{"run", good, "--target", target, "--sped", "10"}, exitUsage, []string{"sped"}},
		{"bad run tag", []string{"run", good, "--target", target, "--run-tag", "a/b"}, exitUsage, []string{"--run-tag"}},
		{"two corpora", []string{"run", good, good, "--target", target}, exitUsage, []string{"one corpus"}},
		{"recorded origin", []string{"run", good, "--target", "http://recorded.example:8787"}, exitError, []string{"origin", "--allow-origin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runReplay(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			oneLine(t, stderr, tc.want...)
			if code == exitUsage && stdout != "" {
				t.Errorf("a bad command line printed more than its one line:\n%s", stdout)
			}
		})
	}
}

// A corpus whose recorder died mid-run (no index, tail cut) replays what
// it holds and says so.
func TestRunTruncatedCorpus(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 200, corpus.WithBlockSize(1024))
	data, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.rpz")
	os.WriteFile(cut, data[:len(data)*3/4], 0o600)
	target := okServer(t)
	code, _, stderr := runReplay(t, "run", cut, "--target", target, "--speed", "100", "-q")
	if code != exitError {
		t.Fatalf("a cut corpus replayed without --allow-truncated: exit %d", code)
	}
	oneLine(t, stderr, "not closed by its recorder", "--allow-truncated")
	code, stdout, stderr := runReplay(t, "run", cut, "--target", target, "--speed", "100", "-q", "--allow-truncated")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "corpus tail cut") {
		t.Fatalf("report does not say the tail was cut:\n%s", stdout)
	}
	code, stdout, _ = runReplay(t, "inspect", cut)
	if code != exitOK || !strings.Contains(stdout, "tail cut") {
		t.Fatalf("inspect exit %d:\n%s", code, stdout)
	}
}

// Thresholds decide the exit code: 99 on a breach, 0 when met.
func TestRunThresholdExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 20)
	target := okServer(t)
	if code, out, errOut := runReplay(t, "run", good, "--target", target, "--speed", "10", "--threshold", "p95<5s", "--threshold", "error_rate<1%", "-q"); code != exitOK {
		t.Fatalf("met thresholds: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runReplay(t, "run", good, "--target", target, "--speed", "10", "--threshold", "rate>=1000000/s", "-q")
	if code != exitBreach {
		t.Fatalf("breached threshold: exit %d\n%s%s", code, out, errOut)
	}
	oneLine(t, errOut, "breached")
	if !strings.Contains(out, "✗ rate>=1000000/s") {
		t.Fatalf("report lacks the breached threshold:\n%s", out)
	}
}

func TestRunWritesHTML(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 20)
	out := filepath.Join(dir, "r.html")
	if code, o, e := runReplay(t, "run", good, "--target", okServer(t), "--speed", "10", "--out", "html="+out, "-q"); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "<!doctype html>") || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "GET /v1/sessions") {
		t.Fatalf("not the HTML report:\n%.300s", b)
	}
}

func TestRunWritesJSON(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 20)
	out := filepath.Join(dir, "r.json")
	if code, o, e := runReplay(t, "run", good, "--target", okServer(t), "--speed", "10", "--out", "json="+out, "-q"); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"format": "reprise-results"`, `"scheduled": 20`, `"hist":`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("results lack %s", want)
		}
	}
}

// --abort-threshold stops a run whose target is failing, as k6's
// abortOnFail does: the events after the stop are never sent, the report
// covers what was, and the exit code is the breach's. A healthy target
// runs to the end.
func TestAbortThreshold(t *testing.T) {
	dir := t.TempDir()
	corpusPath := smallCorpus(t, dir, 300) // 3 s of requests
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer failing.Close()
	for _, tc := range []struct {
		name   string
		target string
		code   int
	}{
		{"failing target stops early", failing.URL, exitBreach},
		{"healthy target runs to the end", okServer(t), exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := filepath.Join(t.TempDir(), "r.json")
			code, stdout, stderr := runReplay(t, "run", corpusPath, "--target", tc.target, "-q",
				"--abort-threshold", "error_rate<10%", "--abort-grace", "0s", "--out", "json="+results)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			b, err := os.ReadFile(results)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Meta struct {
					Scheduled int64  `json:"scheduled"`
					Aborted   string `json:"aborted"`
				} `json:"meta"`
				Accounting struct {
					OK bool `json:"ok"`
				} `json:"accounting"`
			}
			json.Unmarshal(b, &doc)
			if !doc.Accounting.OK {
				t.Errorf("accounting does not add up after the stop")
			}
			if tc.code == exitOK {
				if doc.Meta.Scheduled != 300 || stderr != "" {
					t.Fatalf("healthy run scheduled %d of 300 (stderr %q)", doc.Meta.Scheduled, stderr)
				}
				return
			}
			oneLine(t, stderr, "breached", "run stopped after", "error_rate<10%")
			if !strings.Contains(doc.Meta.Aborted, "error_rate<10%") {
				t.Errorf("results document says aborted %q", doc.Meta.Aborted)
			}
			if doc.Meta.Scheduled == 0 || doc.Meta.Scheduled >= 250 {
				t.Errorf("the stopped run scheduled %d of 300 events, want it stopped about a second in", doc.Meta.Scheduled)
			}
			if !strings.Contains(stdout, "STOPPED EARLY by an abort threshold: error_rate<10%") || !strings.Contains(stdout, "note: run stopped after") {
				t.Errorf("the report does not say the run was stopped:\n%s", stdout)
			}
		})
	}
}

// A threshold naming an endpoint the corpus does not have is refused
// before anything is sent, not after the run.
func TestUnknownEndpointThresholdBeforeRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	corpusPath := smallCorpus(t, t.TempDir(), 20)
	for _, flag := range []string{"--threshold", "--abort-threshold"} {
		code, _, stderr := runReplay(t, "run", corpusPath, "--target", srv.URL, "-q", flag, "GET /nope: p95<1s")
		if code != exitUsage {
			t.Fatalf("%s: exit %d, want %d", flag, code, exitUsage)
		}
		oneLine(t, stderr, "GET /nope", "known: GET /v1/sessions")
	}
	if n := hits.Load(); n > 1 { // the preflight dial opens no request
		t.Fatalf("the target got %d requests before the threshold was refused", n)
	}
}

// Every run gives its client-made values variants of its own and says
// which tag they came from; --run-tag gives the same again, --exact-ids
// sends the recorded ones.
func TestRunTagNote(t *testing.T) {
	c := smallCorpus(t, t.TempDir(), 5)
	code, stdout, stderr := runReplay(t, "run", c, "--target", okServer(t), "-q", "--run-tag", "nightly-7")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "run tag nightly-7: client-made values (tags, ids, keys) were this run's own") {
		t.Errorf("no note of the run tag:\n%s", stdout)
	}
	code, stdout, _ = runReplay(t, "run", c, "--target", okServer(t), "-q")
	if code != exitOK || !regexp.MustCompile(`run tag r[0-9a-f]{6}: client-made values`).MatchString(stdout) {
		t.Errorf("a run without flags names no random run tag (exit %d):\n%s", code, stdout)
	}
	code, stdout, _ = runReplay(t, "run", c, "--target", okServer(t), "-q", "--exact-ids")
	if code != exitOK || strings.Contains(stdout, "run tag") {
		t.Errorf("--exact-ids still varies the ids (exit %d):\n%s", code, stdout)
	}
	if code, _, stderr := runReplay(t, "run", c, "--target", okServer(t), "-q", "--exact-ids", "--run-tag", "x"); code != exitUsage {
		t.Errorf("--exact-ids with --run-tag: exit %d, want %d: %s", code, exitUsage, stderr)
	}
}
