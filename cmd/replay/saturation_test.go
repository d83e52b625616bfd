package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
)

// Ten copies of the shipped corpus at ten times its pace (about 2,000
// requests a second) against a server that starts 50 a second: the run
// ends on time plus its grace, the report names the saturation, the
// client never holds more connections than --max-conns, and the server
// answers normally afterwards.
func TestSaturatedTargetIsReportedNotWedged(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a timed load test: not under -short or the race detector")
	}
	srv, err := happyapi.New(happyapi.Config{AnyToken: true, MaxRate: 50, MaxQueue: 200,
		AuthLimit: happyapi.RateLimit{N: -1}, TicketLimit: happyapi.RateLimit{N: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	corpus := happyCorpus(t, t.TempDir())
	const maxConns = 64
	start := time.Now()
	results := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runReplay(t, "run", corpus, "--target", srv.URL(), "--speed", "10", "--multiply", "10",
		"--duration", "4s", "--grace", "1s", "--timeout", "2s", "--max-conns", "64", "-q", "--out", "json="+results)
	took := time.Since(start)
	if code != exitOK && code != exitError {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// corpus reading and the check of the target come first; the run
	// itself is 4 s plus 1 s of grace
	if took > 9*time.Second {
		t.Errorf("the run took %s: it did not end on time", took)
	}
	if !strings.Contains(stdout, "note: target saturated at about ") {
		t.Errorf("the report does not name the saturation:\n%s", stdout)
	}
	if peak := readResultsT(t, results).Meta.PeakConns; peak < 2 || peak > maxConns {
		t.Errorf("the replay held %d connections at once, want 2 to --max-conns %d", peak, maxConns)
	}
	// The server closes its side of a connection the client gave up on
	// (a request timed out in its queue) only when it notices: it may hold
	// some more for a moment, not thousands.
	st := srv.State()
	if st.PeakConns > 2*maxConns {
		t.Errorf("the server saw %d connections at once, --max-conns %d", st.PeakConns, maxConns)
	}
	// afterwards, the server answers at once: nothing of the run is left
	// in its queue for long
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get(srv.URL() + "/health")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server does not answer after the run: %v (state %s)", err, srv.State())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("took %s, server %s", took.Round(time.Millisecond), st)
}

// A run whose requests the target refuses as unauthorised says so and
// names the flags that give it credentials; the endpoint table says what
// failed ("401×5").
func TestUnauthorizedRunNamesTheFlags(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }))
	defer srv.Close()
	_, stdout, _ := runReplay(t, "run", smallCorpus(t, t.TempDir(), 5), "--target", srv.URL, "-q")
	for _, want := range []string{"5 of 5 failures are 401/403", "--auth-token", "--auth-tokens FILE", "--any-token", "401×5"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

// The shipped corpus replayed twice at one built-in server that keeps its
// state, with no extra flag: no failure either time (every run gives the
// values its client made variants of its own).
func TestShippedCorpusTwiceAtOneServer(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("two replays of the shipped corpus at ten times its pace: not under -short or the race detector")
	}
	target := happyTarget(t)
	corpus := happyCorpus(t, t.TempDir())
	for run := 1; run <= 2; run++ {
		results := filepath.Join(t.TempDir(), "r.json")
		code, stdout, stderr := runReplay(t, "run", corpus, "--target", target, "--speed", "10", "-q", "--out", "json="+results)
		if code != exitOK {
			t.Fatalf("run %d: exit %d\n%s%s", run, code, stdout, stderr)
		}
		s := readResultsT(t, results)
		a, err := s.Accounting()
		if err != nil || a.Completed != a.Scheduled || s.Overall.Failed != 0 {
			t.Errorf("run %d: %v (%v), %d failed\n%s", run, a, err, s.Overall.Failed, stdout)
		}
	}
}
