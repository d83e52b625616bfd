package proxy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/reprise/reprise/internal/traffic"
)

// DefaultQueueSize is how many records may wait for the sink before the
// proxy starts dropping (and counting) them.
const DefaultQueueSize = 16384

// recorder hands records to the sink from its own goroutine, so a slow or
// failing sink never holds up the traffic: when the queue is full or the
// sink fails, records are counted as lost and proxying goes on.
type recorder struct {
	sink traffic.Sink
	log  *slog.Logger
	ch   chan traffic.Record
	done chan struct{}

	mu     sync.RWMutex
	closed bool

	written  atomic.Int64
	lost     atomic.Int64
	warnOnce sync.Once
	errMu    sync.Mutex
	firstErr error
}

func newRecorder(sink traffic.Sink, queue int, log *slog.Logger) *recorder {
	r := &recorder{sink: sink, log: log, ch: make(chan traffic.Record, queue), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *recorder) run() {
	defer close(r.done)
	ctx := context.Background()
	for rec := range r.ch {
		if err := r.sink.Write(ctx, rec); err != nil {
			r.fail(err)
			continue
		}
		r.written.Add(1)
	}
}

// put queues rec without ever blocking.
func (r *recorder) put(rec traffic.Record) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.lost.Add(1)
		return
	}
	select {
	case r.ch <- rec:
	default:
		r.fail(errQueueFull)
	}
}

type queueFullError struct{}

func (queueFullError) Error() string { return "recording queue full: the sink cannot keep up" }

var errQueueFull error = queueFullError{}

func (r *recorder) fail(err error) {
	r.lost.Add(1)
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
	r.warnOnce.Do(func() {
		r.log.Warn("recording failed; proxying continues, records are being lost", "err", err)
	})
}

// close stops accepting records and waits until every queued record has
// been handed to the sink.
func (r *recorder) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *recorder) err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.firstErr
}
