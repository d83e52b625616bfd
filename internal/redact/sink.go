package redact

import (
	"context"
	"sync/atomic"

	"github.com/reprise/reprise/internal/traffic"
)

// Sink is a traffic.Sink that redacts every record before passing it on,
// so any recorder (proxy, sniffer, pcap or HAR import) keeps secrets off
// disk by writing through it.
type Sink struct {
	next     traffic.Sink
	r        *Redactor
	redacted atomic.Int64
}

var _ traffic.Sink = (*Sink)(nil)

// NewSink returns a Sink that redacts with r and writes to next.
func NewSink(next traffic.Sink, r *Redactor) *Sink {
	return &Sink{next: next, r: r}
}

// Write redacts rec and writes the result to the next sink. rec itself is
// not modified.
func (s *Sink) Write(ctx context.Context, rec traffic.Record) error {
	out, changed := s.r.Record(rec)
	if changed && rec.Kind != traffic.KindHeader {
		s.redacted.Add(1)
	}
	return s.next.Write(ctx, out)
}

// Close closes the next sink.
func (s *Sink) Close() error { return s.next.Close() }

// Redacted returns how many records had something replaced.
func (s *Sink) Redacted() int64 { return s.redacted.Load() }

// Redactor returns the redactor the sink applies.
func (s *Sink) Redactor() *Redactor { return s.r }
