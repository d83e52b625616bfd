package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// h1Transport is one client's connections to a plain-HTTP target: an
// HTTP/1.1 round tripper that writes the request and reads its answer on
// the calling goroutine. net/http's transport hands every request to two
// goroutines of its connection (a writer and a reader) and back over
// channels; at tens of thousands of requests a second on one core those
// hand-offs and the run-queue waits they cause are a large part of a
// request's cost. What goes on the wire and how an answer is framed are
// net/http's: the request is written as Request.Write writes it
// (writeRequest, or Request.Write itself for anything unusual), and the
// answer read as http.ReadResponse reads it (readHead for the common
// head, ReadResponse itself for the rest).
//
// It keeps net/http's client behaviour where a replay can see it:
//   - at most maxConns connections (0: no bound of its own), requests
//     queueing for one beyond that; at most maxIdle kept idle, for at
//     most idleFor;
//   - a request whose reused connection the server closed before any
//     byte of an answer came is sent again on another connection, once
//     per connection, whatever its method (as net/http does for requests
//     resendable marks); a pooled
//     connection the server already closed is never written to;
//   - the request's deadline and context bound it, through the answer's
//     body: the deadline is the connection's, and the context's end cuts
//     it (see h1Until);
//   - httptrace events (GetConn, DNS and connect from the dialer, GotConn,
//     WroteRequest, GotFirstResponseByte, Got1xxResponse) as net/http
//     gives them, so request phases mean the same.
//
// Requests for any other host or scheme, and through a proxy, go to
// other, a net/http transport.
type h1Transport struct {
	addr     string // host:port of the target
	host     string // the target's URL host, as requests name it
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	maxConns int
	maxIdle  int
	idleFor  time.Duration
	other    http.RoundTripper
	now      func() time.Time
	maxHead  int64 // bound of an answer's head

	mu      sync.Mutex
	idle    []*h1Conn // most recently used last
	open    int
	waiters []*h1Waiter
}

// h1Conn is one connection with its buffers.
type h1Conn struct {
	t     *h1Transport
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	idled time.Time // when it went idle
	used  bool      // it carried a request before
	keys  []string  // header names being written
	probe *prober
	head  headLimit // what br reads from
	// watched is the context whose end cuts the connection (see watch).
	watched context.Context
	unwatch func() bool
}

// h1Waiter is a request waiting for a connection: it receives an idle
// connection, or nil granting it a slot to dial one.
type h1Waiter struct {
	ch chan *h1Conn
}

// maxHeadBytes bounds an answer's head, as net/http's transport does
// by default.
const maxHeadBytes = 10 << 20

// maxH1Attempts bounds how many connections a request is tried on, each
// failing before any byte of an answer came.
const maxH1Attempts = 4

func newH1Transport(addr, host string, maxConns, maxIdle int, idleFor time.Duration,
	dial func(ctx context.Context, network, addr string) (net.Conn, error), other http.RoundTripper) *h1Transport {
	return &h1Transport{addr: addr, host: host, dial: dial, maxConns: maxConns, maxIdle: max(maxIdle, 1),
		idleFor: idleFor, other: other, now: time.Now, maxHead: maxHeadBytes}
}

// RoundTrip sends req and reads its answer's head; the body is read
// through the connection, which goes back to the pool at its end.
// Request events go to the request's httptrace.ClientTrace.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host != t.host {
		return t.other.RoundTrip(req)
	}
	var ev h1Events = noEvents{}
	if ct := httptrace.ContextClientTrace(req.Context()); ct != nil {
		ev = clientTrace{ct}
	}
	u := h1Until{ctx: req.Context()}
	u.deadline, _ = u.ctx.Deadline()
	return t.roundTrip(req, ev, u)
}

// h1Until bounds a request: its context cancels it (cutting its
// connection), its deadline ends it (the connection's deadline).
type h1Until struct {
	ctx      context.Context
	deadline time.Time // zero: none
	// sticky: ctx outlives the request (the run's context, the lane's
	// own requests): its cancellation is watched once per connection
	// rather than once per request.
	sticky bool
}

// h1Events receives the events of a request in the lane's own client:
// the request's phases straight (no closures, no trace in the context),
// or an httptrace.ClientTrace.
type h1Events interface {
	GetConn(hostPort string)
	// ConnectStart and ConnectDone bracket a dial.
	ConnectStart()
	ConnectDone()
	GotConn(httptrace.GotConnInfo)
	// WroteRequest: the request is in the connection's buffer.
	WroteRequest(error)
	GotFirstResponseByte()
	Got1xxResponse(code int, h http.Header) error
}

type noEvents struct{}

func (noEvents) GetConn(string)                        {}
func (noEvents) ConnectStart()                         {}
func (noEvents) ConnectDone()                          {}
func (noEvents) GotConn(httptrace.GotConnInfo)         {}
func (noEvents) WroteRequest(error)                    {}
func (noEvents) GotFirstResponseByte()                 {}
func (noEvents) Got1xxResponse(int, http.Header) error { return nil }

// clientTrace gives a request's events to its httptrace.ClientTrace.
// The dialer reports DNS and connect events to it through the context,
// and net/http's Request.Write its header and WroteRequest events.
type clientTrace struct{ t *httptrace.ClientTrace }

func (c clientTrace) GetConn(hostPort string) {
	if c.t.GetConn != nil {
		c.t.GetConn(hostPort)
	}
}
func (c clientTrace) ConnectStart() {}
func (c clientTrace) ConnectDone()  {}
func (c clientTrace) GotConn(i httptrace.GotConnInfo) {
	if c.t.GotConn != nil {
		c.t.GotConn(i)
	}
}
func (c clientTrace) WroteRequest(err error) {
	if c.t.WroteRequest != nil {
		c.t.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
}
func (c clientTrace) GotFirstResponseByte() {
	if c.t.GotFirstResponseByte != nil {
		c.t.GotFirstResponseByte()
	}
}
func (c clientTrace) Got1xxResponse(code int, h http.Header) error {
	if c.t.Got1xxResponse != nil {
		return c.t.Got1xxResponse(code, textproto.MIMEHeader(h))
	}
	return nil
}

// roundTrip is RoundTrip for a request to the target, its events to ev,
// bounded by u.
func (t *h1Transport) roundTrip(req *http.Request, ev h1Events, u h1Until) (*http.Response, error) {
	if err := validateRequest(req); err != nil {
		closeBody(req)
		return nil, err
	}
	r := req
	for attempt := 1; ; attempt++ {
		ev.GetConn(t.addr)
		pc, err := t.get(u, ev)
		if err != nil {
			closeBody(r)
			return nil, err
		}
		info := httptrace.GotConnInfo{Conn: pc.c, Reused: pc.used}
		if pc.used {
			info.WasIdle, info.IdleTime = true, t.now().Sub(pc.idled)
		}
		ev.GotConn(info)
		resp, answered, err := pc.roundTrip(u, r, ev)
		if err == nil {
			return resp, nil
		}
		// A reused connection the server closed as the request went
		// (its keep-alive timeout ran out): the server read nothing of
		// it, so it goes again on another connection.
		if !pc.used || answered || attempt == maxH1Attempts || u.ctx.Err() != nil || !isClosedByPeer(err) {
			return nil, err
		}
		body, gerr := rewind(req)
		if gerr != nil {
			return nil, err
		}
		r2 := *req
		r2.Body = body
		r = &r2
	}
}

// rewind returns a fresh copy of a request's body for another attempt.
func rewind(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	if b, ok := req.Body.(*replayBody); ok {
		return newReplayBody(b.data), nil
	}
	if req.GetBody == nil {
		return nil, errors.New("request body cannot be sent again")
	}
	return req.GetBody()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// isClosedByPeer reports whether err is the server closing or resetting
// the connection.
func isClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		classify(err) == ErrReset
}

// roundTrip writes req on the connection and reads the answer's head.
// answered says some byte of an answer came (so the server read the
// request).
func (pc *h1Conn) roundTrip(u h1Until, req *http.Request, ev h1Events) (resp *http.Response, answered bool, err error) {
	// Cancelling the request cuts its connection; the error then reads
	// as the context's.
	pc.c.SetDeadline(u.deadline)
	var stop func() bool
	if u.sticky {
		pc.watch(u.ctx)
	} else {
		stop = context.AfterFunc(u.ctx, pc.cut)
	}
	fail := func(e error) (*http.Response, bool, error) {
		pc.done(u, stop, false)
		if ce := u.ctx.Err(); ce != nil {
			e = ce
		}
		return nil, answered, e
	}
	// Checked after the deadline is set: a cancellation from now on
	// cuts the connection.
	if err := u.ctx.Err(); err != nil {
		return fail(err)
	}
	if err := pc.write(req, ev); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	// An answer's head is bounded, as net/http bounds it (a server
	// sending headers without end is not read into memory without end).
	pc.head.left = pc.t.maxHead
	if _, err := pc.br.Peek(1); err != nil {
		return fail(err)
	}
	answered = true
	ev.GotFirstResponseByte()
	length := int64(-1) // of a body framed by readHead
	for informational := 0; ; informational++ {
		var ok bool
		if resp, length, ok = readHead(pc.br, req); ok {
			break
		}
		length = -1
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(malformed(err))
		}
		// 1xx answers (100 Continue, 103 Early Hints) come before the
		// answer; 101 is an answer.
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if informational == 5 {
			return fail(errors.New("net/http: too many 1xx informational responses"))
		}
		if err := ev.Got1xxResponse(resp.StatusCode, resp.Header); err != nil {
			return fail(err)
		}
	}
	pc.head.left = math.MaxInt64
	keep := !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	if length == 0 || resp.Body == http.NoBody {
		resp.Body = http.NoBody
		pc.done(u, stop, keep)
		return resp, true, nil
	}
	// rc is nil when readHead read the head: the body is the next
	// length bytes.
	resp.Body = &h1Body{rc: resp.Body, pc: pc, u: u, stop: stop, keep: keep, left: length}
	return resp, true, nil
}

// write writes req to the connection's buffer: with writeRequest when it
// can, else net/http's Request.Write (which reports to a ClientTrace
// itself). As with net/http's transport, the request counts as written
// (WroteRequest) before the buffer is flushed.
func (pc *h1Conn) write(req *http.Request, ev h1Events) error {
	ct, traced := ev.(clientTrace)
	if traced && (ct.t.WroteHeaderField != nil || ct.t.WroteHeaders != nil) {
		return req.Write(pc.bw)
	}
	ok, err := writeRequest(pc.bw, req, &pc.keys)
	if !ok {
		err = req.Write(pc.bw)
		if !traced {
			ev.WroteRequest(err)
		}
		return err
	}
	if err != nil {
		closeBody(req)
	}
	ev.WroteRequest(err)
	return err
}

// malformed marks an error reading an answer that is the answer's fault
// (a header line without a colon, a bad status line or length) rather
// than the connection's.
func malformed(err error) error {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || classify(err) == ErrReset {
		return err
	}
	return &malformedError{err}
}

type malformedError struct{ err error }

func (e *malformedError) Error() string { return "malformed HTTP response: " + e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// done ends a request on the connection, its cancellation stopped: back
// to the pool when it can carry another (keep), closed otherwise.
func (pc *h1Conn) done(u h1Until, stop func() bool, keep bool) {
	if (stop != nil && !stop()) || u.ctx.Err() != nil {
		// The cancellation fired: the connection's deadline is gone.
		keep = false
	}
	if keep {
		pc.t.put(pc)
	} else {
		pc.close()
	}
}

// headLimit reads a connection, at most left bytes (while an answer's
// head is read; unbounded for its body).
type headLimit struct {
	c    net.Conn
	left int64
}

// errHeadTooLarge is net/http's error for a head over its bound.
var errHeadTooLarge = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxHeadBytes)

func (h *headLimit) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.c.Read(p)
	h.left -= int64(n)
	return n, err
}

// cut ends what waits on the connection.
func (pc *h1Conn) cut() { pc.c.SetDeadline(aLongTimeAgo) }

// watch cuts the connection when ctx ends, from now until it closes or
// another context is watched.
func (pc *h1Conn) watch(ctx context.Context) {
	if pc.watched == ctx {
		return
	}
	if pc.unwatch != nil {
		pc.unwatch()
	}
	pc.watched, pc.unwatch = ctx, context.AfterFunc(ctx, pc.cut)
}

// aLongTimeAgo is a deadline in the past: set on a connection, it ends
// what is waiting on it.
var aLongTimeAgo = time.Unix(1, 0)

// h1Body is an answer's body read through its connection: through rc
// (net/http's body reader) when http.ReadResponse read the head, else
// the next left bytes of the connection.
type h1Body struct {
	rc   io.ReadCloser
	left int64
	pc   *h1Conn
	u    h1Until
	stop func() bool
	keep bool
	over bool // the connection was given back or closed
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.over {
		return 0, io.EOF
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.pc.br.Read(p)
		b.left -= int64(n)
		switch {
		case b.left == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	}
	switch {
	case err == io.EOF:
		b.over = true
		b.pc.done(b.u, b.stop, b.keep)
	case err != nil:
		b.over = true
		b.pc.done(b.u, b.stop, false)
		if ce := b.u.ctx.Err(); ce != nil {
			err = ce
		}
	}
	return n, err
}

// Close before the end of the body closes the connection (what is left
// of the answer is not read), as net/http's transport does.
func (b *h1Body) Close() error {
	if !b.over {
		b.over = true
		b.pc.done(b.u, b.stop, false)
	}
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}

// get returns a connection for a request: an idle one still open, a new
// one when the bound allows, else the first one given back. An idle
// connection the server closed (or that sat idle past idleFor) is closed
// here, never written to.
func (t *h1Transport) get(u h1Until, ev h1Events) (*h1Conn, error) {
	t.mu.Lock()
	for len(t.idle) > 0 {
		pc := t.idle[len(t.idle)-1]
		t.idle[len(t.idle)-1] = nil
		t.idle = t.idle[:len(t.idle)-1]
		t.mu.Unlock()
		if (t.idleFor <= 0 || t.now().Sub(pc.idled) <= t.idleFor) && pc.probe.alive() {
			return pc, nil
		}
		pc.closeConn()
		t.mu.Lock()
		t.open--
	}
	if t.maxConns <= 0 || t.open < t.maxConns {
		t.open++
		t.mu.Unlock()
		return t.connect(u, ev)
	}
	w := &h1Waiter{ch: make(chan *h1Conn, 1)}
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	var timeout <-chan time.Time
	if !u.deadline.IsZero() {
		tm := time.NewTimer(time.Until(u.deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	var err error
	select {
	case pc := <-w.ch:
		if pc == nil {
			return t.connect(u, ev)
		}
		return pc, nil
	case <-u.ctx.Done():
		err = u.ctx.Err()
	case <-timeout:
		err = context.DeadlineExceeded
	}
	t.mu.Lock()
	for i, o := range t.waiters {
		if o == w {
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			t.mu.Unlock()
			return nil, err
		}
	}
	t.mu.Unlock()
	// Handed something as it gave up: pass it on.
	if pc := <-w.ch; pc != nil {
		t.put(pc)
	} else {
		t.release()
	}
	return nil, err
}

// connect dials a connection for a slot already counted in open.
func (t *h1Transport) connect(u h1Until, ev h1Events) (*h1Conn, error) {
	ctx := u.ctx
	if !u.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, u.deadline)
		defer cancel()
	}
	ev.ConnectStart()
	c, err := t.dial(ctx, "tcp", t.addr)
	ev.ConnectDone()
	if err != nil {
		t.release()
		return nil, err
	}
	pc := &h1Conn{t: t, c: c, bw: bufio.NewWriterSize(c, 4<<10), probe: newProber(c)}
	pc.head.c, pc.head.left = c, math.MaxInt64
	pc.br = bufio.NewReaderSize(&pc.head, 4<<10)
	return pc, nil
}

// put gives a connection back after a request: to the first request
// waiting, else to the idle list.
func (t *h1Transport) put(pc *h1Conn) {
	pc.used = true
	pc.idled = t.now()
	// The request's deadline is not the idle connection's.
	pc.c.SetDeadline(time.Time{})
	t.mu.Lock()
	if t.handOff(pc) {
		return
	}
	if len(t.idle) >= t.maxIdle {
		t.open--
		t.mu.Unlock()
		pc.closeConn()
		return
	}
	t.idle = append(t.idle, pc)
	t.mu.Unlock()
}

// close closes a connection in use and frees its slot.
func (pc *h1Conn) close() {
	pc.closeConn()
	pc.t.release()
}

// closeConn closes the connection, its slot left to the caller.
func (pc *h1Conn) closeConn() {
	if pc.unwatch != nil {
		pc.unwatch()
	}
	pc.c.Close()
}

// release frees a connection slot: to the first request waiting, which
// dials, or back to the count.
func (t *h1Transport) release() {
	t.mu.Lock()
	if t.handOff(nil) {
		return
	}
	t.open--
	t.mu.Unlock()
}

// handOff gives pc (nil: a free slot) to the first request waiting, if
// any. Called with t.mu held, it releases it when it hands off.
func (t *h1Transport) handOff(pc *h1Conn) bool {
	if len(t.waiters) == 0 {
		return false
	}
	w := t.waiters[0]
	t.waiters = t.waiters[1:]
	t.mu.Unlock()
	w.ch <- pc
	return true
}

// CloseIdleConnections closes the connections no request is using.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.open -= len(idle)
	t.mu.Unlock()
	for _, pc := range idle {
		pc.closeConn()
	}
	if ci, ok := t.other.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
