package proxy

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// recordingSink keeps records in order, for parser tests that need no
// locking subtleties.
type recordingSink struct {
	mu      sync.Mutex
	records []traffic.Record
}

func (s *recordingSink) Write(_ context.Context, r traffic.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	return nil
}

func (s *recordingSink) Close() error { return nil }

// newTestProxy returns an unserved Proxy over a recordingSink.
func newTestProxy(t testing.TB) *Proxy {
	t.Helper()
	p, err := New(Config{Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, Sink: &recordingSink{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
