// Package traffictest provides in-memory fakes of traffic's contracts for
// tests, in the manner of net/http/httptest.
package traffictest

import (
	"context"
	"errors"
	"sync"

	"github.com/reprise/reprise/internal/traffic"
)

// Sink is an in-memory traffic.Sink that keeps every record written.
type Sink struct {
	mu      sync.Mutex
	records []traffic.Record
	closed  bool
	// Err, when set, is returned by every Write (to simulate a full disk).
	Err error
}

var _ traffic.Sink = (*Sink)(nil)

// Write keeps r.
func (s *Sink) Write(ctx context.Context, r traffic.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if s.closed {
		return errors.New("traffictest: write after close")
	}
	s.records = append(s.records, r)
	return nil
}

// Close marks the sink closed.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Records returns a copy of what was written so far.
func (s *Sink) Records() []traffic.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]traffic.Record(nil), s.records...)
}

// Closed reports whether Close was called.
func (s *Sink) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Exchanges returns the exchanges written so far, in write order.
func (s *Sink) Exchanges() []traffic.Exchange {
	var out []traffic.Exchange
	for _, r := range s.Records() {
		if r.Kind == traffic.KindExchange {
			out = append(out, *r.Exchange)
		}
	}
	return out
}
