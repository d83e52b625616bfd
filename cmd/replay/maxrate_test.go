package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// --speed max replays as fast as the target answers, at most
// --max-in-flight requests at once: a corpus recorded over two seconds
// goes out in a fraction of that, nothing is "not sent", the server never
// has more than the limit at once, and the report says it was a max-rate
// run (no schedule to lag behind).
func TestMaxRateRun(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, total := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		total++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	c := smallCorpus(t, dir, 200) // one request every 10 ms: 2 s recorded
	results := filepath.Join(dir, "r.json")
	start := time.Now()
	code, stdout, stderr := runReplay(t, "run", c, "--target", srv.URL, "--speed", "max", "--max-in-flight", "4", "-q", "--out", "json="+results)
	took := time.Since(start)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if took > time.Second {
		t.Errorf("a max-rate run of 2 s recorded took %s", took)
	}
	if most > 4 || total != 200 {
		t.Errorf("server saw %d requests, at most %d at once; want 200, at most 4", total, most)
	}
	if !strings.Contains(stdout, "speed: max") || strings.Contains(stdout, "schedule_lag") {
		t.Errorf("the report does not say it was a max-rate run:\n%s", stdout)
	}
	s := readResultsT(t, results)
	if a, err := s.Accounting(); err != nil || a.Completed != 200 || !s.Meta.MaxRate {
		t.Errorf("accounting %v (%v), max_rate %v", a, err, s.Meta.MaxRate)
	}
}
