package proxy

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// errBodySealed is what a read of a request body gets once the handler
// has finished with the exchange: the server's body must not be touched
// after the handler returns.
var errBodySealed = errors.New("proxy: request body read after the exchange ended")

// teeBody passes a body through while keeping its first max bytes and
// counting the rest. It never buffers more than max bytes and never delays
// a read. Reads are serialized, so bytes are kept in the order they were
// read even when the transport and the handler both read.
type teeBody struct {
	rc    io.ReadCloser
	max   int64
	clock func() time.Duration

	readMu sync.Mutex // held across a whole Read
	sealed atomic.Bool

	mu      sync.Mutex
	data    []byte
	n       int64
	started bool // Read was called
	eof     bool
	err     error
	last    time.Duration // when the last byte was read
}

func newTeeBody(rc io.ReadCloser, max int64, clock func() time.Duration) *teeBody {
	return &teeBody{rc: rc, max: max, clock: clock}
}

func (t *teeBody) Read(p []byte) (int, error) {
	if t.sealed.Load() {
		return 0, errBodySealed
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	if t.sealed.Load() {
		return 0, errBodySealed
	}
	return t.readLocked(p)
}

// readLocked reads with readMu held.
func (t *teeBody) readLocked(p []byte) (int, error) {
	t.mu.Lock()
	t.started = true
	done := t.eof
	t.mu.Unlock()
	if done {
		// Once the body has ended, a further read (http.Transport reads
		// once more to check the end of a Content-Length body) must not
		// reach the server's body, which may be closed by now.
		return 0, io.EOF
	}
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

// seal makes every later Read fail without touching the underlying body.
// A Read already in progress finishes (wait for it by taking readMu).
func (t *teeBody) seal() { t.sealed.Store(true) }

// rest returns how many bytes of the body are still to come (-1 when
// unknown, as for a chunked body) and whether reading them makes sense:
// not when the body has ended or failed, and not when the client waits
// for 100 Continue before sending it and nobody ever asked for it (the
// upstream answered first, so the client will not send it).
func (t *teeBody) rest(declared int64, expectContinue bool) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.eof || t.err != nil || (expectContinue && !t.started) {
		return 0, false
	}
	if declared < 0 {
		return -1, true
	}
	left := declared - t.n
	return left, left > 0
}

// atEOF reports whether the body was read to its end.
func (t *teeBody) atEOF() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.eof
}

// drainLocked reads up to limit more bytes of the body, keeping them like
// any read, so the record holds what the client sent after the upstream
// stopped reading. The caller holds readMu. A failure is kept and
// recorded with the exchange.
func (t *teeBody) drainLocked(limit int64) {
	buf := make([]byte, 32<<10)
	for limit > 0 {
		n, err := t.readLocked(buf[:min(int64(len(buf)), limit)])
		limit -= int64(n)
		if err != nil {
			return
		}
	}
}

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
