package capture

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/reprise/reprise/internal/traffic"
)

// AsyncSink decouples a capture from its output: Write puts the record on
// a bounded queue and returns at once; a goroutine writes the queue to the
// real sink. When the queue is full the record is dropped and counted, so
// a slow disk never stalls packet processing (and never makes the kernel
// drop packets behind our back).
type AsyncSink struct {
	open func() (traffic.Sink, error)

	queue   chan traffic.Record
	done    chan struct{}
	dropped atomic.Int64
	written atomic.Int64

	mu      sync.Mutex
	closed  bool
	err     error
	out     traffic.Sink
	closing sync.Once
}

var _ traffic.Sink = (*AsyncSink)(nil)

// NewAsyncSink returns an AsyncSink holding up to queue records. open is
// called once, from the writer goroutine, when the first record arrives
// (or at Close if none did), so the output can be created with facts known
// only then (the clock origin of a live capture).
func NewAsyncSink(open func() (traffic.Sink, error), queue int) *AsyncSink {
	if queue <= 0 {
		queue = 1
	}
	s := &AsyncSink{open: open, queue: make(chan traffic.Record, queue), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *AsyncSink) run() {
	defer close(s.done)
	ctx := context.Background()
	for r := range s.queue {
		if s.failed() {
			s.dropped.Add(1)
			continue
		}
		if err := s.ensureOpen(); err != nil {
			s.dropped.Add(1)
			continue
		}
		if err := s.out.Write(ctx, r); err != nil {
			s.setErr(err)
			s.dropped.Add(1)
			continue
		}
		s.written.Add(1)
	}
}

func (s *AsyncSink) ensureOpen() error {
	if s.out != nil {
		return nil
	}
	out, err := s.open()
	if err != nil {
		s.setErr(err)
		return err
	}
	s.out = out
	return nil
}

func (s *AsyncSink) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

func (s *AsyncSink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// Write queues r. It never blocks: a full queue drops r (see Dropped).
// It fails once the output has failed, or after Close.
func (s *AsyncSink) Write(ctx context.Context, r traffic.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return errors.New("write to closed capture output")
	}
	select {
	case s.queue <- r:
	default:
		s.dropped.Add(1)
	}
	return nil
}

// Dropped is the number of records lost because the queue was full or the
// output failed.
func (s *AsyncSink) Dropped() int64 { return s.dropped.Load() }

// Written is the number of records handed to the output.
func (s *AsyncSink) Written() int64 { return s.written.Load() }

// Close drains the queue into the output and closes it.
func (s *AsyncSink) Close() error {
	s.closing.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.queue)
	})
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil && s.err == nil {
		out, err := s.open()
		if err != nil {
			s.err = err
			return err
		}
		s.out = out
	}
	var cerr error
	if s.out != nil {
		cerr = s.out.Close()
		s.out = nil
	}
	return errors.Join(s.err, cerr)
}
