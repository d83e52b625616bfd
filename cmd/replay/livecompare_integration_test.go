//go:build integration

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// cpuHog keeps one core busy in bursts, on for on and off for off, until
// stopped: the disturbance of a shared machine, starting and stopping
// during a run. Each burst is bounded, and stop waits for the last.
func cpuHog(on, off time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		for ctx.Err() == nil {
			for end := time.Now().Add(on); time.Now().Before(end); {
				n++
			}
			select {
			case <-ctx.Done():
			case <-time.After(off):
			}
		}
		_ = n
	}()
	return func() { cancel(); <-done }
}

// Two instances of one release of the built-in server, compared live
// with the shipped corpus ten times while a CPU hog starts and stops:
// unchanged every time.
func TestLiveSameReleaseUnderCPUHog(t *testing.T) {
	dir := t.TempDir()
	c := happyCorpus(t, dir)
	const reps = 10
	unchanged := 0
	for i := range reps {
		t.Run(fmt.Sprintf("rep %d", i), func(t *testing.T) {
			a, b := releaseServer(t, nil), releaseServer(t, nil)
			stop := cpuHog(400*time.Millisecond, 600*time.Millisecond)
			code, stdout, stderr := runReplay(t, "compare", c, "--a", a, "--b", b, "--speed", "30", "-q")
			stop()
			if code != exitOK || !strings.Contains(stdout, "verdict: UNCHANGED") {
				t.Errorf("exit %d, want 0 and UNCHANGED\n%s%s", code, stdout, stderr)
				return
			}
			unchanged++
		})
	}
	t.Logf("UNCHANGED in %d of %d comparisons of one release with itself under a CPU hog", unchanged, reps)
}

// A release 15 ms slower on GET /health, whose answers say "ok" for
// "healthy", compared live under the CPU hog: flagged on that endpoint's
// latency and that field, on no other endpoint, exit 3.
func TestLiveSlowReleaseUnderCPUHog(t *testing.T) {
	dir := t.TempDir()
	c := happyCorpus(t, dir)
	a, b := releaseServer(t, nil), releaseServer(t, slowerHealth(15*time.Millisecond, true))
	out := filepath.Join(dir, "cmp.json")
	stop := cpuHog(400*time.Millisecond, 600*time.Millisecond)
	code, stdout, stderr := runReplay(t, "compare", c, "--a", a, "--b", b, "--speed", "30", "-q", "--out", "json="+out)
	stop()
	if code != exitRegression {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitRegression, stdout, stderr)
	}
	onlyHealthRegressed(t, readLiveDoc(t, out), stdout)
}

// healthCorpus writes a corpus of n GET /health requests from ten
// clients, spaced by gap.
func healthCorpus(t *testing.T, dir string, n int, gap time.Duration) string {
	t.Helper()
	path := filepath.Join(dir, "health.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.example:8787"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		body := `{"status":"healthy"}`
		rec := traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprintf("client-%d", i%10), ConnID: uint64(i%10 + 1), Start: time.Duration(i) * gap,
			Request: traffic.Request{Method: "GET", URL: "/health", Host: "recorded.example:8787", Scheme: "http", Proto: "HTTP/1.1"},
			Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
				Body: traffic.Body{Data: []byte(body), Size: int64(len(body))}}}}
		if err := w.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Sensitivity with 200 pairs: a release slower on its one endpoint by
// 0.5 to 10 ms (a timer's delay: it adds about 0.3 to 0.8 ms to what it
// says), three comparisons each, under the CPU hog. What is found, and
// the paired shift measured with its 95% interval, is logged (the
// README gives it); 2 ms and more must be found every time, and the
// release against itself never.
func TestLiveSensitivity200Pairs(t *testing.T) {
	dir := t.TempDir()
	c := healthCorpus(t, dir, 200, 20*time.Millisecond)
	for _, tc := range []struct {
		delay time.Duration
		args  []string
	}{
		{0, nil}, {500 * time.Microsecond, nil}, {time.Millisecond, nil}, {2 * time.Millisecond, nil},
		{5 * time.Millisecond, nil}, {10 * time.Millisecond, nil},
	} {
		found := 0
		var shifts []string
		for range 3 {
			a := releaseServer(t, nil)
			var b string
			if tc.delay == 0 {
				b = releaseServer(t, nil)
			} else {
				b = releaseServer(t, slowerHealth(tc.delay, false))
			}
			out := filepath.Join(dir, "cmp.json")
			stop := cpuHog(400*time.Millisecond, 600*time.Millisecond)
			code, stdout, stderr := runReplay(t, append([]string{"compare", c, "--a", a, "--b", b, "-q", "--out", "json=" + out}, tc.args...)...)
			stop()
			for _, e := range readLiveDoc(t, out).Endpoints {
				for _, cmp := range e.Comparisons {
					if e.Endpoint == "GET /health" && cmp.Metric == "latency paired shift" {
						shifts = append(shifts, fmt.Sprintf("%+.2fms [%+.2f, %+.2f]", cmp.Delta, cmp.CILow, cmp.CIHigh))
					}
				}
			}
			switch code {
			case exitRegression:
				found++
			case exitOK:
			default:
				t.Fatalf("delay %s: exit %d\n%s%s", tc.delay, code, stdout, stderr)
			}
		}
		t.Logf("slower by %s %s (measured paired shifts %s): found in %d of 3 comparisons of 200 pairs",
			tc.delay, strings.Join(tc.args, " "), strings.Join(shifts, " "), found)
		switch {
		case tc.delay == 0 && found > 0:
			t.Errorf("the release against itself was flagged in %d of 3 %s", found, strings.Join(tc.args, " "))
		case tc.delay >= 2*time.Millisecond && found < 3:
			t.Errorf("slower by %s: found in %d of 3, want every time", tc.delay, found)
		}
	}
}
