package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

func writeCorpus(t *testing.T, origin string, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.rpz")
	w, err := corpus.Create(path, traffic.Header{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "f", Start: time.Duration(i) * time.Millisecond,
			Request: traffic.Request{Method: "GET", URL: "/v1/sessions/0123456789abcdef"}, Response: &traffic.Response{Status: 200}}})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	path := writeCorpus(t, "http://prod.example", 20)
	out, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 100}, Engine: engine.Config{Target: target}, Preflight: true})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Snapshot
	if s.Meta.Scheduled != 20 || s.Overall.Requests != 20 || s.Meta.Speed != 100 || s.Meta.Duration <= 0 {
		t.Fatalf("meta %+v, requests %d", s.Meta, s.Overall.Requests)
	}
	if a, err := s.Accounting(); err != nil || a.Completed != 20 {
		t.Fatalf("accounting %v %v", a, err)
	}
	if s.Endpoint("GET /v1/sessions/{id}") == nil {
		t.Fatalf("endpoints %v: the id was not templated", s.EndpointNames())
	}
}

func TestRunRefusals(t *testing.T) {
	path := writeCorpus(t, "http://127.0.0.1:18181", 3)
	same, _ := url.Parse("http://127.0.0.1:18181")
	if _, err := Run(context.Background(), Options{Corpus: path, Engine: engine.Config{Target: same}}); !errors.Is(err, ErrOrigin) {
		t.Fatalf("recorded origin: err = %v", err)
	}
	if _, err := Run(context.Background(), Options{Corpus: path}); err == nil {
		t.Fatal("no target accepted")
	}
	dead, _ := url.Parse("http://127.0.0.1:1")
	if _, err := Run(context.Background(), Options{Corpus: path, Engine: engine.Config{Target: dead}, Preflight: true}); err == nil {
		t.Fatal("an unreachable target passed the preflight")
	}
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		origin, target string
		want           bool
	}{
		{"http://api.example", "http://API.example:80", true},
		{"https://api.example", "https://api.example:443", true},
		{"https://api.example", "http://api.example", false},
		{"http://127.0.0.1:8787", "http://127.0.0.1:8788", false},
		{"", "http://x", false},
	} {
		u, _ := url.Parse(tc.target)
		if got := sameHost(tc.origin, u); got != tc.want {
			t.Errorf("sameHost(%q, %q) = %v", tc.origin, tc.target, got)
		}
	}
}

// Lanes: one run sends every event to two targets at the same intended
// times; each target gets every request, with client-made values of its
// own, and each has results of its own.
func TestRunLanes(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	server := func(name string) *url.URL {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen[name] = append(seen[name], string(b))
			mu.Unlock()
			w.Write([]byte(`{"ok":true}`))
		}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		return u
	}
	a, b := server("a"), server("b")
	path := filepath.Join(t.TempDir(), "c.rpz")
	w, err := corpus.Create(path, traffic.Header{Origin: "http://prod.example"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		body := `{"tag":"tag-0000000` + string(rune('0'+i)) + `"}`
		w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "f", Start: time.Duration(i) * time.Millisecond,
			Request:  traffic.Request{Method: "POST", URL: "/v1/sessions", Body: traffic.Body{Data: []byte(body)}},
			Response: &traffic.Response{Status: 200}}})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var observed [2]int
	results := [2]map[uint64]bool{{}, {}}
	out, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: a},
		Also: []Lane{{Name: "b", Target: b}}, RunTag: "r1",
		Observe: func(lane int, o engine.Observation) {
			mu.Lock()
			observed[lane]++
			mu.Unlock()
		},
		Result: func(lane int, r traffic.Result) {
			mu.Lock()
			results[lane][r.Seq] = true
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Also) != 1 || out.Snapshot.Overall.Requests != 10 || out.Also[0].Snapshot.Overall.Requests != 10 {
		t.Fatalf("lanes: %d extra, requests %d", len(out.Also), out.Snapshot.Overall.Requests)
	}
	if out.Snapshot.Meta.Target != a.String() || out.Also[0].Snapshot.Meta.Target != b.String() || out.Also[0].RunTag != "r1-b" {
		t.Fatalf("targets %q %q, tag %q", out.Snapshot.Meta.Target, out.Also[0].Snapshot.Meta.Target, out.Also[0].RunTag)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen["a"]) != 10 || len(seen["b"]) != 10 || observed != [2]int{10, 10} {
		t.Fatalf("a got %d, b got %d, observed %v", len(seen["a"]), len(seen["b"]), observed)
	}
	if len(results[0]) != 10 || !maps.Equal(results[0], results[1]) {
		t.Fatalf("results by seq: a %v, b %v: want the same 10 events in each lane", results[0], results[1])
	}
	for _, x := range seen["a"] {
		for _, y := range seen["b"] {
			if x == y {
				t.Fatalf("both targets got %s: the lanes share their client-made values", x)
			}
		}
	}
}

// A corpus written in completion order (as a proxy writes it) whose first
// exchange is a long poll: the survey finds how far out of order the
// corpus is, so the poll goes out first, in its place, not late after the
// requests that started while it was pending.
func TestCompletionOrderedCorpusReplaysInStartOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.rpz")
	w, err := corpus.Create(path, traffic.Header{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(flow, url string, start, took time.Duration) {
		w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: flow, Start: start, Timing: traffic.Timing{Total: took},
			Request: traffic.Request{Method: "GET", URL: url}, Response: &traffic.Response{Status: 200}}})
	}
	ms := time.Millisecond
	for i := 0; i < 30; i++ {
		write("user", fmt.Sprint("/v1/sessions?page=", i), 50*ms+time.Duration(i)*100*ms, 5*ms)
	}
	// written when it ended, 3 s after it started
	write("poller", "/v1/updates?poll=1", 0, 3*time.Second)
	write("user", "/v1/sessions?page=30", 3100*ms, 5*ms)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var arrived []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	out, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: target}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Schedule.Late != 0 {
		t.Errorf("%d records went out late", out.Schedule.Late)
	}
	// Sent 5 ms before the next request (at --speed 10), the poll
	// arrives first, or nearly on a busy machine; late, it came 27th.
	if i := slices.Index(arrived, "/v1/updates"); len(arrived) != 32 || i < 0 || i > 2 {
		t.Errorf("the poll, first in start order, arrived in place %d of %d", i+1, len(arrived))
	}
}
