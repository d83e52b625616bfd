package replay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
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
