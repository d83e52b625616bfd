package proxy

import (
	"io"
	"sync"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// teeBody passes a body through while keeping its first max bytes and
// counting the rest. It never buffers more than max bytes and never delays
// a read.
type teeBody struct {
	rc    io.ReadCloser
	max   int64
	clock func() time.Duration

	mu   sync.Mutex
	data []byte
	n    int64
	eof  bool
	err  error
	last time.Duration // when the last byte was read
}

func newTeeBody(rc io.ReadCloser, max int64, clock func() time.Duration) *teeBody {
	return &teeBody{rc: rc, max: max, clock: clock}
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.mu.Lock()
	if n > 0 {
		t.last = t.clock()
		if room := t.max - int64(len(t.data)); room > 0 {
			t.data = append(t.data, p[:min(int64(n), room)]...)
		}
		t.n += int64(n)
	}
	switch {
	case err == io.EOF:
		t.eof = true
		if t.last == 0 {
			t.last = t.clock()
		}
	case err != nil && t.err == nil:
		t.err = err
	}
	t.mu.Unlock()
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// body returns the recorded body. declared is the length announced by the
// message (-1 when unknown), used for Size when the body was not read to
// its end.
func (t *teeBody) body(declared int64) (traffic.Body, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := traffic.Body{Data: append([]byte(nil), t.data...), Size: t.n}
	if !t.eof {
		if declared >= 0 {
			b.Size = max(declared, t.n)
		} else {
			b.Size = -1
		}
	}
	b.Truncated = b.Size != int64(len(b.Data))
	return b, t.err
}

// lastRead returns when the last byte was read (zero if none).
func (t *teeBody) lastRead() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// readErr returns the first error reading the body met, if any.
func (t *teeBody) readErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
