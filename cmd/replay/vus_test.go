package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
)

// tokenLog is the built-in Happy server in-process, noting the bearer
// token of every HTTP request in arrival order.
type tokenLog struct {
	mu     sync.Mutex
	tokens []string
}

func loggedHappy(t *testing.T, tokens []string) (string, *tokenLog) {
	t.Helper()
	srv, err := happyapi.New(happyapi.Config{Tokens: tokens, TicketLimit: happyapi.RateLimit{N: 1000, Per: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	log := &tokenLog{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			log.mu.Lock()
			log.tokens = append(log.tokens, tok)
			log.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts.URL, log
}

func sixUsers() []string {
	var tokens []string
	for u := 0; u < 6; u++ {
		tokens = append(tokens, fmt.Sprintf("user-token-%02d", u))
	}
	return tokens
}

// One virtual user for 5s: it replays one recorded user at a time (each
// user's two requests, then its socket, 121ms per iteration), cycling
// through the six users in order; the summary has k6's vus, vus_max,
// iterations and iteration_duration lines, and every iteration opens its
// socket with the ticket its own request fetched.
func TestUsersOneVU(t *testing.T) {
	dir := t.TempDir()
	tokens := sixUsers()
	target, log := loggedHappy(t, tokens)
	c := ticketCorpus(t, dir, tokens)
	out := filepath.Join(dir, "vu.json")
	code, stdout, stderr := runReplay(t, "run", c, "--target", target, "--users", "1", "--duration", "5s", "-q", "--out", "json="+out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`load      1 virtual user \(--users\)`,
		`corpus: 6 recorded users \(12 flows\)`,
		`an iteration replays a user from its first record to the end of its last: 121ms at 1x`,
		`vus\.+: 1 +min=1 +max=1\n`,
		`vus_max\.+: 1 +min=1 +max=1\n`,
		`iterations\.+: 41 +[0-9.]+/s +1 interrupted\n`,
		`iteration_duration\.+: avg=12\d`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("output lacks %s:\n%s", want, stdout)
		}
	}
	// 5s / 121ms: iterations start at 0, 121ms, ..., 4.961s; the last
	// is cut at 5s after its two requests and its socket's messages.
	s := readResultsT(t, out)
	if it := s.Iterations; it == nil || it.Complete != 41 || it.Interrupted != 1 || it.Duration.Count() != 41 {
		t.Fatalf("iterations %+v, want 41 whole and 1 cut", s.Iterations)
	}
	if s.Meta.VUsMax != 1 || s.Meta.Multiply != 0 {
		t.Fatalf("vus_max %d, multiply %d", s.Meta.VUsMax, s.Meta.Multiply)
	}
	for i, sec := range s.Series {
		if sec.VUs > 1 {
			t.Fatalf("second %d has %d VUs", i, sec.VUs)
		}
	}
	ws := wsTotals(s)
	if ws.Connects != 42 || ws.Sessions != 42 {
		t.Fatalf("%d sockets attempted, %d opened; want one per iteration (42), each with its own ticket", ws.Connects, ws.Sessions)
	}
	// The server saw one user at a time: user u's two requests, then
	// user u+1's, in turn.
	log.mu.Lock()
	seen := append([]string(nil), log.tokens...)
	log.mu.Unlock()
	if len(seen) != 2*42 {
		t.Fatalf("server saw %d requests, want 84", len(seen))
	}
	for i, tok := range seen {
		if want := tokens[(i/2)%6]; tok != want {
			t.Fatalf("request %d came with %s, want %s (one user at a time, in turn): %v", i, tok, want, seen)
		}
	}
}

// The smoke profile is what the Happy team's k6 README says: 1 VU for
// 30s (cut short here by --duration).
func TestProfileSmokeIsOneVU(t *testing.T) {
	dir := t.TempDir()
	tokens := sixUsers()
	target, log := loggedHappy(t, tokens)
	c := ticketCorpus(t, dir, tokens)
	code, stdout, stderr := runReplay(t, "run", c, "--target", target, "--profile", "smoke", "--duration", "1s", "-q")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`profile smoke \(quick validation: 1 VU for 30s\), 30s`,
		`VUs over time: 0s 0 -> 0s 1 -> 30s 1 \(peak 1 VU\)`,
		`vus\.+: 1 +min=1 +max=1\n`,
		`vus_max\.+: 1 +min=1 +max=1\n`,
		`iterations\.+: 8 `,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("output lacks %s:\n%s", want, stdout)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for i, tok := range log.tokens {
		if want := tokens[(i/2)%6]; tok != want {
			t.Fatalf("request %d came with %s, want %s: one user at a time", i, tok, want)
		}
	}
}

// Two shards of a VU run, side by side, each run their share of the VUs
// over their own users; merged, they count what the whole run counts.
func TestMergeVUShards(t *testing.T) {
	dir := t.TempDir()
	tokens := sixUsers()
	target, _ := loggedHappy(t, tokens)
	c := ticketCorpus(t, dir, tokens)
	args := func(out string, extra ...string) []string {
		return append([]string{"run", c, "--target", target, "--users", "4", "--duration", "2s", "-q", "--out", "json=" + out}, extra...)
	}
	whole := filepath.Join(dir, "whole.json")
	if code, stdout, stderr := runReplay(t, args(whole)...); code != exitOK {
		t.Fatalf("whole run: exit %d\n%s%s", code, stdout, stderr)
	}
	shards := []string{filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json")}
	var wg sync.WaitGroup
	for i, p := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, stdout, stderr := runReplay(t, args(p, "--shard", fmt.Sprintf("%d/2", i))...); code != exitOK {
				t.Errorf("shard %d: exit %d\n%s%s", i, code, stdout, stderr)
			}
		}()
	}
	wg.Wait()
	merged := filepath.Join(dir, "merged.json")
	code, stdout, stderr := runReplay(t, "merge", shards[0], shards[1], "--out", "json="+merged)
	if code != exitOK {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`vus_max\.+: 4 +min=4 +max=4\n`).MatchString(stdout) {
		t.Errorf("merged summary lacks vus_max 4:\n%s", stdout)
	}
	w, m := readResultsT(t, whole), readResultsT(t, merged)
	for i, p := range shards {
		if s := readResultsT(t, p); s.Meta.VUsMax != 2 || s.Iterations == nil || s.Iterations.Complete == 0 {
			t.Fatalf("shard %d: vus_max %d, iterations %+v: want 2 VUs, each iterating", i, s.Meta.VUsMax, s.Iterations)
		}
	}
	if m.Meta.VUsMax != 4 || w.Meta.VUsMax != 4 {
		t.Fatalf("vus_max: whole %d, merged %d", w.Meta.VUsMax, m.Meta.VUsMax)
	}
	wi, mi := w.Iterations, m.Iterations
	if wi.Complete != mi.Complete || wi.Interrupted != mi.Interrupted || mi.Duration.Count() != mi.Complete {
		t.Fatalf("iterations: whole %+v, merged %+v", wi, mi)
	}
	var wv, mv []int64
	for _, sec := range w.Series {
		wv = append(wv, sec.VUs)
	}
	for _, sec := range m.Series {
		mv = append(mv, sec.VUs)
	}
	if fmt.Sprint(wv) != fmt.Sprint(mv) {
		t.Fatalf("VUs per second: whole %v, merged %v", wv, mv)
	}
	wa, _ := w.Accounting()
	ma, _ := m.Accounting()
	if wa.String() != ma.String() || len(wa.Failed) != 0 {
		t.Fatalf("accounting: whole %s, merged %s", wa, ma)
	}
}
