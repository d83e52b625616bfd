package engine

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

const (
	maxWSMessage = 64 << 20
	// wsQueue bounds the client messages waiting for one connection; more
	// are not sent (in-flight limit).
	wsQueue    = 4096
	closeGrace = time.Second
)

// wsState holds a lane's WebSocket connections by recorded ConnID, and
// the push matching of their flows.
//
// Ownership: dispatch and finish run on the dispatcher's goroutine; mu
// guards conns (connections not closed yet: a close removes its
// connection) and open. Each connection's own goroutine owns its socket's
// writes; its reader goroutine owns reads. pushes has a mutex of its own.
type wsState struct {
	l     *lane
	mu    sync.Mutex
	conns map[uint64]*wsConn
	// open counts each flow's connections not closed yet.
	open   map[string]int
	pushes *pushes
}

type wsConn struct {
	id       uint64
	seq      uint64 // the open event's
	flow     string
	copy     int // traffic copy (schedule.Event.Copy)
	endpoint string
	label    string
	intended time.Duration
	extended bool // recorded with permessage-deflate

	conn *websocket.Conn
	open time.Duration // when the handshake completed

	queue    outQueue
	recorded atomic.Int64 // server messages the corpus held
	sent     atomic.Int64
	received atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	readDone chan struct{}
	// endErr is the error that ended the read loop; set before readDone
	// closes.
	endErr error

	callMu  sync.Mutex
	pending map[string]time.Duration // call id -> send offset
}

// wsOut is one thing a connection's goroutine has to do: send a client
// message, or close (end set).
type wsOut struct {
	// after are answers a client close waits for first.
	after []<-chan struct{}
	ev    schedule.Event
	t     *ticket
	end   *traffic.WSClose  // set for the close
	plan  correlate.Plan    // values of earlier responses the message sends back
	rw    correlate.Rewrite // the copy's own values
}

func newWSState(l *lane) *wsState {
	return &wsState{l: l, conns: map[uint64]*wsConn{}, open: map[string]int{}, pushes: newPushes(l.cfg.Profile)}
}

// dispatch takes a WebSocket event; it runs on the dispatcher's goroutine.
func (s *wsState) dispatch(ctx context.Context, ev schedule.Event) {
	l := s.l
	switch ev.Record.Kind {
	case traffic.KindWSOpen:
		o := ev.Record.WSOpen
		if ev.Facts == nil {
			ev.Facts = analysis.Of(ev.Record, analysis.Options{Route: l.cfg.Endpoint, Label: l.cfg.Profile.SocketLabel})
		}
		c := &wsConn{
			id: o.ConnID, seq: ev.Seq, flow: o.Flow, copy: ev.Copy, intended: ev.At,
			endpoint: ev.Facts.Endpoint.Name,
			label:    ev.Facts.Endpoint.Label,
			extended: strings.Contains(o.Extensions, "permessage-deflate"),
			readDone: make(chan struct{}), pending: map[string]time.Duration{},
		}
		c.queue.init()
		plan := l.plan(ev)
		t := l.owe(traffic.ResultWSConnect, ev, c.endpoint, c.label, c.flow, plan)
		t.res.Expected = 101
		s.mu.Lock()
		if old := s.conns[o.ConnID]; old != nil {
			// A reused id: end the old connection first.
			s.closeLocked(old, ev, &traffic.WSClose{FromClient: true, Code: traffic.CloseNormal})
		}
		s.conns[o.ConnID] = c
		s.open[c.flow]++
		s.mu.Unlock()
		rw := l.rewrite(ev)
		l.wg.Add(1)
		go s.run(ctx, c, ev, t, rw)
	case traffic.KindWSMessage:
		m := ev.Record.WSMessage
		s.mu.Lock()
		c := s.conns[m.ConnID]
		s.mu.Unlock()
		if !m.FromClient {
			l.ignored.Add(1)
			if c != nil && !m.Opcode.IsControl() {
				c.recorded.Add(1)
			}
			return
		}
		if m.Opcode == traffic.OpPong {
			// The WebSocket library answers pings itself.
			l.ignored.Add(1)
			return
		}
		if c == nil {
			t := l.owe(traffic.ResultWSSend, ev, "WS (connection not in corpus)", "", m.Flow, nil)
			t.notSent(ctx, traffic.NotSentNoConn)
			return
		}
		plan := l.plan(ev)
		t := l.owe(traffic.ResultWSSend, ev, c.endpoint, c.label, m.Flow, plan)
		t.res.Seq = c.seq
		if !c.queue.put(wsOut{ev: ev, t: t, plan: plan, rw: l.rewrite(ev)}) {
			t.notSent(ctx, traffic.NotSentInFlight)
		}
	case traffic.KindWSClose:
		cl := ev.Record.WSClose
		s.mu.Lock()
		defer s.mu.Unlock()
		c := s.conns[cl.ConnID]
		if c == nil {
			l.ignored.Add(1)
			return
		}
		var after []<-chan struct{}
		if cl.FromClient && ev.Facts != nil {
			// The recorded client closed once the answers it had by then
			// were in: pushes they cause still find the socket open.
			after = l.answeredBefore(poolKey{ev.Facts.User, ev.Copy}, cl.Start)
		}
		s.closeLocked(c, ev, cl)
		c.queue.lastAfter(after)
	}
}

// closeLocked queues the end of c, which owes its session result from
// now on, and forgets it: later records of its id are of a new
// connection, or of none.
func (s *wsState) closeLocked(c *wsConn, ev schedule.Event, cl *traffic.WSClose) {
	t := s.l.owe(traffic.ResultWSSession, ev, c.endpoint, c.label, c.flow, nil)
	t.res.Seq = c.seq
	// A session is timed from its open, so it spans open to close.
	t.res.Intended = c.intended
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	if s.open[c.flow]--; s.open[c.flow] <= 0 {
		delete(s.open, c.flow)
		s.pushes.forget(c.flow)
	}
	c.queue.close(wsOut{ev: ev, t: t, end: cl})
}

// finish closes every connection the corpus left open, as if the client
// closed it normally at the end of the schedule.
func (s *wsState) finish(last time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		s.closeLocked(c, schedule.Event{At: last}, &traffic.WSClose{FromClient: true, Code: traffic.CloseNormal, Reason: "end of corpus"})
	}
}

// flowHasOpen reports whether flow has an open WebSocket connection.
func (s *wsState) flowHasOpen(flow string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[flow] > 0
}

// run dials c, then sends its queued messages in order until its close.
func (s *wsState) run(ctx context.Context, c *wsConn, ev schedule.Event, t *ticket, rw correlate.Rewrite) {
	defer s.l.wg.Done()
	connected := s.dial(ctx, c, ev, t, rw)
	if connected {
		go s.read(c)
	}
	for {
		out, ok := c.queue.get()
		if !ok {
			return
		}
		if out.end != nil {
			s.end(ctx, c, out, connected)
			return
		}
		s.send(ctx, c, out, connected)
	}
}

func (s *wsState) dial(ctx context.Context, c *wsConn, ev schedule.Event, t *ticket, rw correlate.Rewrite) bool {
	l := s.l
	o := ev.Record.WSOpen
	live, ok := l.dependencies(ctx, t.plan)
	if !ok {
		t.notSent(ctx, traffic.NotSentDependency)
		return false
	}
	q := rw.Request(o.Upgrade.Request, live)
	deadline := max(ev.At, l.now()) + l.cfg.MaxLag
	if l.cfg.MaxRate {
		deadline = math.MaxInt64
	}
	if !l.acquire(ctx, deadline) {
		t.notSent(ctx, traffic.NotSentInFlight)
		return false
	}
	defer l.release()
	scheme := "ws"
	if l.cfg.Target.Scheme == "https" {
		scheme = "wss"
	}
	u, err := l.targetURL(q.URL, scheme)
	if err != nil {
		t.notSent(ctx, traffic.NotSentNoConn)
		return false
	}
	if l.cfg.AuthToken != "" {
		qs := u.Query()
		changed := false
		for _, k := range traffic.TokenParams {
			if qs.Has(k) {
				qs.Set(k, l.cfg.AuthToken)
				changed = true
			}
		}
		if changed {
			u.RawQuery = qs.Encode()
		}
	}
	h := l.header(q.Header)
	l.reorigin(h, q.Host)
	for _, k := range []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Accept"} {
		h.Del(k)
	}
	var subprotocols []string
	if p := h.Get("Sec-Websocket-Protocol"); p != "" {
		h.Del("Sec-Websocket-Protocol")
		for _, s := range strings.Split(p, ",") {
			subprotocols = append(subprotocols, strings.TrimSpace(s))
		}
	}
	dialer := websocket.Dialer{
		NetDialContext:    l.dial,
		Proxy:             l.cfg.Proxy,
		TLSClientConfig:   l.tlsCfg.Clone(),
		HandshakeTimeout:  l.cfg.Timeout,
		EnableCompression: c.extended,
		Subprotocols:      subprotocols,
	}
	dctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	res := t.res
	res.Sent = l.now()
	res.BytesSent = int64(len(u.String()))
	conn, resp, err := dialer.DialContext(dctx, u.String(), h)
	done := l.now()
	res.Service = done - res.Sent
	res.Latency = max(done-ev.At, res.Service)
	res.Connecting = res.Service
	if resp != nil {
		res.Status = resp.StatusCode
		res.BytesReceived = responseHeadSize(resp)
	}
	if err != nil {
		res.Error = l.classify(err)
		if errors.Is(err, websocket.ErrBadHandshake) {
			res.Error = ErrHandshake
		}
		if t.plan != nil {
			t.plan.Done(res.Status, nil, nil, err)
		}
		t.settle(res)
		return false
	}
	c.conn = conn
	c.open = done
	if t.plan != nil {
		t.plan.Done(res.Status, resp.Header, nil, nil)
	}
	t.settle(res)
	return true
}

func (s *wsState) send(ctx context.Context, c *wsConn, out wsOut, connected bool) {
	l := s.l
	ev, t := out.ev, out.t
	m := ev.Record.WSMessage
	if !connected {
		t.notSent(ctx, traffic.NotSentNoConn)
		return
	}
	// Queued ahead of time only when the dispatcher ran early; keep the
	// schedule.
	l.sleepUntil(ctx, ev.At)
	// The message may send back values of earlier responses: it waits
	// for them, as a request would, and carries the live ones.
	live, ok := l.dependencies(ctx, out.plan)
	if !ok {
		t.notSent(ctx, traffic.NotSentDependency)
		return
	}
	payload := m.Payload
	if m.Opcode == traffic.OpText {
		payload = out.rw.Text(payload, live)
	}
	if c.ended() {
		// The server ended the connection (its session result says how):
		// what the client had left to say cannot go out.
		t.notSent(ctx, traffic.NotSentNoConn)
		return
	}
	res := t.res
	res.Sent = l.now()
	deadline := time.Now().Add(l.cfg.Timeout)
	var err error
	switch m.Opcode {
	case traffic.OpPing:
		err = c.conn.WriteControl(websocket.PingMessage, payload, deadline)
	case traffic.OpClose:
		// Close frames come through the close record.
	default:
		if m.Opcode == traffic.OpText {
			c.noteCall(l.cfg.Profile, payload, res.Sent)
		}
		c.conn.SetWriteDeadline(deadline)
		op := websocket.TextMessage
		if m.Opcode == traffic.OpBinary {
			op = websocket.BinaryMessage
		}
		err = c.conn.WriteMessage(op, payload)
	}
	done := l.now()
	if errors.Is(err, websocket.ErrCloseSent) {
		// The library failed the connection (a protocol error) while the
		// message waited.
		t.notSent(ctx, traffic.NotSentNoConn)
		return
	}
	res.Service = done - res.Sent
	res.Latency = max(done-ev.At, res.Service)
	res.BytesSent = int64(len(payload))
	if err != nil {
		res.Error = l.classify(err)
	} else {
		c.sent.Add(1)
		c.bytesOut.Add(int64(len(payload)))
	}
	t.settle(res)
}

// end closes c as recorded and reports its session.
func (s *wsState) end(ctx context.Context, c *wsConn, out wsOut, connected bool) {
	l := s.l
	t := out.t
	res := t.res
	res.Sent = c.open
	if !connected {
		res.MsgsRecorded = int(c.recorded.Load())
		res.NotSent = traffic.NotSentNoConn
		if ctx.Err() != nil {
			res.NotSent = traffic.NotSentRunEnded
		}
		t.settle(res)
		return
	}
	l.sleepUntil(ctx, out.ev.At)
	for _, ch := range out.after {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	cl := out.end
	res.Sent = l.now()
	serverEnded := c.ended()
	if cl.FromClient || !serverEnded {
		code := cl.Code
		if code == 0 || code == traffic.CloseNoStatus || code == traffic.CloseAbnormal {
			code = traffic.CloseNormal
		}
		c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, cl.Reason), time.Now().Add(closeGrace))
	}
	timer := time.NewTimer(closeGrace)
	select {
	case <-c.readDone:
	case <-timer.C:
	}
	timer.Stop()
	c.conn.Close()
	<-c.readDone
	done := l.now()
	res.Latency = done - c.open
	res.Service = res.Latency
	res.MsgsSent = int(c.sent.Load())
	res.MsgsReceived = int(c.received.Load())
	res.MsgsRecorded = int(c.recorded.Load())
	res.BytesSent = c.bytesOut.Load()
	res.BytesReceived = c.bytesIn.Load()
	if serverEnded {
		// The server ended the connection before its recorded close.
		switch kind := classifyWSEnd(c.endErr); {
		case kind == ErrWSProto:
			res.Error = kind
		case kind == ErrAbnormal:
			// Unless the recording ended the same way.
			if cl.FromClient || cl.Code != traffic.CloseAbnormal {
				res.Error = kind
			}
		case cl.FromClient:
			res.Error = ErrServerClosed
		}
	}
	t.settle(res)
}

// ended reports whether the server side of c has ended.
func (c *wsConn) ended() bool {
	select {
	case <-c.readDone:
		return true
	default:
		return false
	}
}

// read counts server messages until the connection ends, timing replies
// to calls and pushes that follow mutations.
func (s *wsState) read(c *wsConn) {
	defer close(c.readDone)
	c.conn.SetPongHandler(func(string) error { return nil })
	// Messages are read whole (to match replies and pushes): a server
	// that sends more than this in one message ends the session as a
	// protocol error instead of exhausting memory.
	c.conn.SetReadLimit(maxWSMessage)
	prof := s.l.cfg.Profile
	for {
		op, msg, err := c.conn.ReadMessage()
		if err == nil && op == websocket.TextMessage && !utf8.Valid(msg) {
			// RFC 6455 section 8.1: fail the connection, as browsers do.
			err = errInvalidUTF8
			c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(closeGrace))
		}
		if err != nil {
			c.endErr = err
			return
		}
		at := s.l.now()
		n := c.received.Add(1)
		c.bytesIn.Add(int64(len(msg)))
		if obs := s.l.cfg.Observe; obs != nil {
			obs(Observation{Seq: c.seq, Kind: traffic.ResultWSSession, Endpoint: c.endpoint, Label: c.label, Body: msg, Index: int(n - 1), Text: op == websocket.TextMessage})
		}
		if op == websocket.TextMessage {
			if sent, ok := c.reply(prof, msg); ok {
				s.l.cfg.Results(traffic.Result{Kind: traffic.ResultWSRoundTrip, Endpoint: c.endpoint, Label: c.label, Flow: c.flow, Copy: c.copy, Intended: sent, Sent: sent, Latency: at - sent, Service: at - sent})
			}
			s.pushes.received(c, msg, at, s.l.cfg.Results)
		}
	}
}

// noteCall remembers when a client message that expects a reply left.
func (c *wsConn) noteCall(p Profile, payload []byte, at time.Duration) {
	id := p.CallID(payload)
	if id == "" {
		return
	}
	c.callMu.Lock()
	c.pending[id] = at
	c.callMu.Unlock()
}

// reply matches a server message to the call it answers: when the call
// was sent.
func (c *wsConn) reply(p Profile, msg []byte) (time.Duration, bool) {
	id := p.CallID(msg)
	if id == "" {
		return 0, false
	}
	c.callMu.Lock()
	sent, ok := c.pending[id]
	delete(c.pending, id)
	c.callMu.Unlock()
	return sent, ok
}

// sendMutation registers an HTTP mutation of flow as it is sent when the
// flow has a WebSocket open that a push could reach (nil otherwise).
func (s *wsState) sendMutation(flow, path string, reqBody []byte, sent time.Duration) *mutation {
	if !s.flowHasOpen(flow) {
		return nil
	}
	return s.pushes.send(flow, path, reqBody, sent)
}

// answerMutation completes m with its response.
func (s *wsState) answerMutation(flow string, m *mutation, ok bool, respBody []byte) {
	s.pushes.answer(flow, m, ok, respBody, s.l.cfg.Results)
}

// outQueue is a connection's queue of things to do: client messages in
// order, then its close. The dispatcher puts; the connection's goroutine
// gets. It holds at most wsQueue messages, and no memory once drained.
type outQueue struct {
	mu     sync.Mutex
	items  []wsOut
	closed bool
	ready  chan struct{} // a token when items or closed changed
}

func (q *outQueue) init() { q.ready = make(chan struct{}, 1) }

func (q *outQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// put queues a message; false when the queue is full.
func (q *outQueue) put(o wsOut) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items) >= wsQueue {
		return false
	}
	q.items = append(q.items, o)
	q.signal()
	return true
}

// close queues the close, the last item.
func (q *outQueue) close(o wsOut) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, o)
	q.closed = true
	q.signal()
}

// lastAfter sets what the last item queued (the close) waits for.
func (q *outQueue) lastAfter(after []<-chan struct{}) {
	if len(after) == 0 {
		return
	}
	q.mu.Lock()
	if n := len(q.items); n > 0 {
		q.items[n-1].after = after
	}
	q.mu.Unlock()
}

// get waits for the next item; false once the close was taken.
func (q *outQueue) get() (wsOut, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			o := q.items[0]
			q.items[0] = wsOut{}
			q.items = q.items[1:]
			if len(q.items) == 0 {
				q.items = nil
			}
			q.mu.Unlock()
			return o, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return wsOut{}, false
		}
		<-q.ready
	}
}
