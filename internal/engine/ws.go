package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// wsState tracks the run's WebSocket connections by recorded ConnID.
type wsState struct {
	r     *runner
	mu    sync.Mutex
	conns map[uint64]*wsConn
	// open counts each flow's connections not closed yet.
	open map[string]int
	// pushes holds recent HTTP mutations per flow, to time the server
	// pushes they cause.
	pushes map[string][]*mutation
	// early holds, per flow, pushes that arrived before any mutation they
	// could belong to had answered.
	early map[string][]*earlyPush
}

type wsConn struct {
	id       uint64
	flow     string
	copy     int // traffic copy (schedule.Event.Copy)
	endpoint string
	intended time.Duration
	extended bool // recorded with permessage-deflate

	ready chan struct{} // closed when the handshake ended
	conn  *websocket.Conn
	open  time.Duration // when the handshake completed

	queue    chan wsOut
	closed   bool // a close (recorded or synthesized) is queued
	recorded atomic.Int64
	sent     atomic.Int64
	received atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	readDone chan struct{}
	// endErr is the error that ended the read loop; set before readDone
	// closes.
	endErr error

	ackMu   sync.Mutex
	pending map[string]time.Duration // ackId -> send offset
}

type wsOut struct {
	ev   schedule.Event
	end  *traffic.WSClose // set for the close
	plan correlate.Plan   // values of earlier responses the message sends back
}

// mutation is an HTTP request that changed state and may cause a push.
type mutation struct {
	sent    time.Duration
	keys    []string
	matched map[uint64]bool
	failed  bool
}

const (
	maxWSMessage = 64 << 20
	wsQueue      = 4096
	pushWindow   = 5 * time.Second
	closeGrace   = time.Second
	minKeyBytes  = 8
)

func newWSState(r *runner) *wsState {
	return &wsState{r: r, conns: map[uint64]*wsConn{}, open: map[string]int{}, pushes: map[string][]*mutation{}, early: map[string][]*earlyPush{}}
}

func (s *wsState) dispatch(ctx context.Context, ev schedule.Event) {
	r := s.r
	switch ev.Record.Kind {
	case traffic.KindWSOpen:
		o := ev.Record.WSOpen
		r.schedule(traffic.ResultWSConnect)
		c := &wsConn{
			id: o.ConnID, flow: o.Flow, copy: ev.Copy, intended: ev.At,
			endpoint: wsEndpoint(r.cfg.Endpoint, o.Upgrade.Request.URL),
			extended: strings.Contains(o.Extensions, "permessage-deflate"),
			ready:    make(chan struct{}), queue: make(chan wsOut, wsQueue),
			readDone: make(chan struct{}), pending: map[string]time.Duration{},
		}
		s.mu.Lock()
		if old := s.conns[o.ConnID]; old != nil && !old.closed {
			// A reused id: end the old connection first.
			s.closeLocked(old, ev, &traffic.WSClose{FromClient: true, Code: traffic.CloseNormal})
		}
		s.conns[o.ConnID] = c
		s.open[c.flow]++
		s.mu.Unlock()
		var plan correlate.Plan
		if r.cfg.Correlator != nil {
			plan = r.cfg.Correlator.Plan(ev)
		}
		r.wg.Add(1)
		go s.run(ctx, c, ev, plan)
	case traffic.KindWSMessage:
		m := ev.Record.WSMessage
		s.mu.Lock()
		c := s.conns[m.ConnID]
		s.mu.Unlock()
		if !m.FromClient {
			r.ignored.Add(1)
			if c != nil && !m.Opcode.IsControl() {
				c.recorded.Add(1)
			}
			return
		}
		if m.Opcode == traffic.OpPong {
			// The WebSocket library answers pings itself.
			r.ignored.Add(1)
			return
		}
		r.schedule(traffic.ResultWSSend)
		if c == nil || c.closed {
			r.emit(traffic.Result{Kind: traffic.ResultWSSend, Flow: m.Flow, Copy: ev.Copy, Intended: ev.At, NotSent: traffic.NotSentNoConn,
				Endpoint: "WS (connection not in corpus)"})
			return
		}
		var plan correlate.Plan
		if r.cfg.Correlator != nil {
			plan = r.cfg.Correlator.Plan(ev)
		}
		select {
		case c.queue <- wsOut{ev: ev, plan: plan}:
		default:
			r.emit(traffic.Result{Kind: traffic.ResultWSSend, Endpoint: c.endpoint, Flow: m.Flow, Copy: ev.Copy, Intended: ev.At, NotSent: traffic.NotSentInFlight})
		}
	case traffic.KindWSClose:
		cl := ev.Record.WSClose
		s.mu.Lock()
		defer s.mu.Unlock()
		c := s.conns[cl.ConnID]
		if c == nil || c.closed {
			r.ignored.Add(1)
			return
		}
		s.closeLocked(c, ev, cl)
	}
}

// closeLocked queues the end of c; its session result follows.
func (s *wsState) closeLocked(c *wsConn, ev schedule.Event, cl *traffic.WSClose) {
	s.r.schedule(traffic.ResultWSSession) // the session result is now owed
	c.closed = true
	if s.open[c.flow]--; s.open[c.flow] == 0 {
		delete(s.open, c.flow)
	}
	c.queue <- wsOut{ev: ev, end: cl}
	close(c.queue)
}

// finish closes every connection the corpus left open, as if the client
// closed it normally at the end of the schedule.
func (s *wsState) finish(ctx context.Context, last time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c.closed {
			continue
		}
		s.closeLocked(c, schedule.Event{At: last}, &traffic.WSClose{FromClient: true, Code: traffic.CloseNormal, Reason: "end of corpus"})
	}
}

// run dials c, then sends its queued messages in order until its close.
func (s *wsState) run(ctx context.Context, c *wsConn, ev schedule.Event, plan correlate.Plan) {
	r := s.r
	defer r.wg.Done()
	connected := s.dial(ctx, c, ev, plan)
	close(c.ready)
	if connected {
		go s.read(c)
	}
	for out := range c.queue {
		if out.end != nil {
			s.end(ctx, c, out, connected)
			return
		}
		s.send(ctx, c, out, connected)
	}
}

func (s *wsState) dial(ctx context.Context, c *wsConn, ev schedule.Event, plan correlate.Plan) bool {
	r := s.r
	o := ev.Record.WSOpen
	res := traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: c.endpoint, Flow: c.flow, Copy: c.copy, Intended: ev.At, Expected: 101}
	fail := func(reason string) bool {
		if ctx.Err() != nil {
			reason = traffic.NotSentRunEnded
		}
		res.NotSent = reason
		if plan != nil {
			plan.Done(0, nil, nil, errNotSent)
		}
		r.emit(res)
		return false
	}
	q := o.Upgrade.Request
	if plan != nil {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := plan.Wait(wctx)
		cancel()
		if err != nil {
			return fail(traffic.NotSentDependency)
		}
		q.Header = q.Header.Clone()
		plan.Apply(&q)
	}
	if !r.acquire(ctx, ev.At+r.cfg.MaxLag) {
		return fail(traffic.NotSentInFlight)
	}
	defer r.release()
	scheme := "ws"
	if r.cfg.Target.Scheme == "https" {
		scheme = "wss"
	}
	u, err := r.targetURL(q.URL, scheme)
	if err != nil {
		return fail(traffic.NotSentNoConn)
	}
	if r.cfg.AuthToken != "" {
		qs := u.Query()
		changed := false
		for _, k := range []string{"token", "access_token"} {
			if qs.Has(k) {
				qs.Set(k, r.cfg.AuthToken)
				changed = true
			}
		}
		if changed {
			u.RawQuery = qs.Encode()
		}
	}
	h := r.header(q.Header)
	r.reorigin(h, q.Host)
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
		NetDialContext:    r.dial,
		Proxy:             r.cfg.Proxy,
		TLSClientConfig:   r.tlsCfg.Clone(),
		HandshakeTimeout:  r.cfg.Timeout,
		EnableCompression: c.extended,
		Subprotocols:      subprotocols,
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	res.Sent = r.now()
	res.BytesSent = int64(len(u.String()))
	conn, resp, err := dialer.DialContext(dctx, u.String(), h)
	done := r.now()
	res.Service = done - res.Sent
	res.Latency = max(done-ev.At, res.Service)
	res.Connecting = res.Service
	if resp != nil {
		res.Status = resp.StatusCode
		res.BytesReceived = responseHeadSize(resp)
	}
	if err != nil {
		res.Error = classify(err)
		if errors.Is(err, websocket.ErrBadHandshake) {
			res.Error = ErrHandshake
		}
		if plan != nil {
			plan.Done(res.Status, nil, nil, err)
		}
		r.emit(res)
		return false
	}
	c.conn = conn
	c.open = done
	if plan != nil {
		plan.Done(res.Status, resp.Header, nil, nil)
	}
	r.emit(res)
	return true
}

func (s *wsState) send(ctx context.Context, c *wsConn, out wsOut, connected bool) {
	r := s.r
	ev := out.ev
	m := ev.Record.WSMessage
	payload := m.Payload
	res := traffic.Result{Kind: traffic.ResultWSSend, Endpoint: c.endpoint, Flow: c.flow, Copy: c.copy, Intended: ev.At}
	reason := traffic.NotSentNoConn
	notSent := func() {
		res.NotSent = reason
		if ctx.Err() != nil {
			res.NotSent = traffic.NotSentRunEnded
		}
		r.emit(res)
	}
	if !connected {
		notSent()
		return
	}
	if wait := ev.At - r.now(); wait > 0 {
		// Queued ahead of time only when the dispatcher ran early; keep
		// the schedule.
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if out.plan != nil {
		// The message sends back values of earlier responses: it waits
		// for them, as a request would, and carries the live ones.
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := out.plan.Wait(wctx)
		cancel()
		if err != nil {
			reason = traffic.NotSentDependency
			notSent()
			return
		}
		payload = out.plan.ApplyText(payload)
	}
	if c.ended() {
		// The server ended the connection (its session result says how):
		// what the client had left to say cannot go out.
		notSent()
		return
	}
	res.Sent = r.now()
	deadline := time.Now().Add(r.cfg.Timeout)
	var err error
	switch m.Opcode {
	case traffic.OpPing:
		err = c.conn.WriteControl(websocket.PingMessage, payload, deadline)
	case traffic.OpClose:
		// Close frames come through the close record.
		err = nil
	default:
		if m.Opcode == traffic.OpText {
			s.noteAck(c, payload, res.Sent)
		}
		c.conn.SetWriteDeadline(deadline)
		op := websocket.TextMessage
		if m.Opcode == traffic.OpBinary {
			op = websocket.BinaryMessage
		}
		err = c.conn.WriteMessage(op, payload)
	}
	done := r.now()
	res.Service = done - res.Sent
	res.Latency = max(done-ev.At, res.Service)
	res.BytesSent = int64(len(payload))
	if errors.Is(err, websocket.ErrCloseSent) {
		// The library failed the connection (a protocol error) while the
		// message waited.
		res = traffic.Result{Kind: res.Kind, Endpoint: res.Endpoint, Flow: res.Flow, Copy: res.Copy, Intended: res.Intended}
		notSent()
		return
	}
	if err != nil {
		res.Error = classify(err)
	} else {
		c.sent.Add(1)
		c.bytesOut.Add(int64(len(payload)))
	}
	r.emit(res)
}

// end closes c as recorded and reports its session.
func (s *wsState) end(ctx context.Context, c *wsConn, out wsOut, connected bool) {
	r := s.r
	// A session is timed from its open, so it spans open to close.
	res := traffic.Result{Kind: traffic.ResultWSSession, Endpoint: c.endpoint, Flow: c.flow, Copy: c.copy, Intended: c.intended, Sent: c.open}
	if !connected {
		res.NotSent = traffic.NotSentNoConn
		if ctx.Err() != nil {
			res.NotSent = traffic.NotSentRunEnded
		}
		res.MsgsRecorded = int(c.recorded.Load())
		r.emit(res)
		return
	}
	if wait := out.ev.At - r.now(); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	cl := out.end
	res.Sent = r.now()
	serverEnded := false
	select {
	case <-c.readDone:
		serverEnded = true
	default:
	}
	if cl.FromClient || !serverEnded {
		code := cl.Code
		if code == 0 || code == traffic.CloseNoStatus || code == traffic.CloseAbnormal {
			code = traffic.CloseNormal
		}
		c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, cl.Reason), time.Now().Add(closeGrace))
	}
	t := time.NewTimer(closeGrace)
	select {
	case <-c.readDone:
	case <-t.C:
	}
	t.Stop()
	c.conn.Close()
	<-c.readDone
	done := r.now()
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
	r.emit(res)
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
// to acked client messages and pushes that follow mutations.
func (s *wsState) read(c *wsConn) {
	defer close(c.readDone)
	c.conn.SetPongHandler(func(string) error { return nil })
	// Messages are read whole (to match acks and pushes): a server that
	// sends more than this in one message ends the session as a protocol
	// error instead of exhausting memory.
	c.conn.SetReadLimit(maxWSMessage)
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
		at := s.r.now()
		c.received.Add(1)
		c.bytesIn.Add(int64(len(msg)))
		if op == websocket.TextMessage {
			s.matchAck(c, msg, at)
			s.matchPush(c, msg, at)
		}
	}
}

// noteAck remembers when a client message carrying an ackId left.
func (s *wsState) noteAck(c *wsConn, payload []byte, at time.Duration) {
	if !bytes.Contains(payload, []byte(`"ackId"`)) {
		return
	}
	id := ackID(payload)
	if id == "" {
		return
	}
	c.ackMu.Lock()
	c.pending[id] = at
	c.ackMu.Unlock()
}

func (s *wsState) matchAck(c *wsConn, msg []byte, at time.Duration) {
	if !bytes.Contains(msg, []byte(`"ackId"`)) {
		return
	}
	id := ackID(msg)
	if id == "" {
		return
	}
	c.ackMu.Lock()
	sent, ok := c.pending[id]
	delete(c.pending, id)
	c.ackMu.Unlock()
	if ok {
		s.r.cfg.Results(traffic.Result{Kind: traffic.ResultWSRoundTrip, Endpoint: c.endpoint, Flow: c.flow, Copy: c.copy, Intended: sent, Sent: sent, Latency: at - sent, Service: at - sent})
	}
}

// ackID finds an "ackId" at the top level of a JSON object or one level
// down (inside data or payload).
func ackID(msg []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(msg, &top) != nil {
		return ""
	}
	if id := rawString(top["ackId"]); id != "" {
		return id
	}
	for _, k := range []string{"data", "payload"} {
		var inner map[string]json.RawMessage
		if json.Unmarshal(top[k], &inner) == nil {
			if id := rawString(inner["ackId"]); id != "" {
				return id
			}
		}
	}
	return ""
}

func rawString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// sendMutation registers an HTTP mutation of flow as it is sent, with the
// values of its path and request body; answerMutation adds those of its
// response (a created id), or withdraws it when it failed.
func (s *wsState) sendMutation(flow, path string, reqBody []byte, sent time.Duration) *mutation {
	keys := map[string]bool{}
	for _, seg := range strings.Split(path, "/") {
		if len(seg) >= minKeyBytes {
			keys[seg] = true
		}
	}
	collectStrings(reqBody, keys)
	m := &mutation{sent: sent, matched: map[uint64]bool{}}
	for k := range keys {
		m.keys = append(m.keys, k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.pushes[flow]
	// Drop what is too old to be matched.
	i := 0
	for i < len(list) && sent-list[i].sent > pushWindow {
		i++
	}
	s.pushes[flow] = append(list[i:], m)
	return m
}

// answerMutation completes m. A push often reaches its socket before the
// response: pushes that matched nothing when they arrived are matched
// again now that the response's values are known.
func (s *wsState) answerMutation(flow string, m *mutation, ok bool, respBody []byte) {
	var found []traffic.Result
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		for _, r := range found {
			s.r.cfg.Results(r)
		}
	}()
	if !ok {
		m.failed = true
		return
	}
	keys := map[string]bool{}
	for _, k := range m.keys {
		keys[k] = true
	}
	collectStrings(respBody, keys)
	m.keys = m.keys[:0]
	for k := range keys {
		m.keys = append(m.keys, k)
	}
	// Per connection, the earliest unmatched push since the send that
	// shares the most values with this mutation is its push.
	best := map[uint64]*earlyPush{}
	bestN := map[uint64]int{}
	for _, e := range s.early[flow] {
		if e.matched || e.at < m.sent || m.matched[e.conn.id] || m.sent < e.conn.open {
			continue
		}
		n := 0
		for k := range e.keys {
			if keys[k] {
				n++
			}
		}
		if n > bestN[e.conn.id] {
			best[e.conn.id], bestN[e.conn.id] = e, n
		}
	}
	for id, e := range best {
		e.matched = true
		m.matched[id] = true
		found = append(found, pushResult(e.conn, m, e.at))
	}
}

// earlyPush is a push candidate that matched no mutation when it arrived.
type earlyPush struct {
	conn    *wsConn
	keys    map[string]bool
	at      time.Duration
	matched bool
}

func pushResult(c *wsConn, m *mutation, at time.Duration) traffic.Result {
	return traffic.Result{Kind: traffic.ResultWSPush, Endpoint: c.endpoint, Flow: c.flow, Copy: c.copy,
		Intended: m.sent, Sent: m.sent, Latency: at - m.sent, Service: at - m.sent}
}

func (s *wsState) matchPush(c *wsConn, msg []byte, at time.Duration) {
	keys, ok := pushKeys(msg)
	if !ok {
		return
	}
	s.mu.Lock()
	list := s.pushes[c.flow]
	// The push belongs to the mutation it shares the most telling values
	// with: a value weighs less the more pending mutations carry it (a
	// user id in every response tells little, the message id one POST
	// returned tells much). Among equals, the oldest, since a connection
	// delivers in order. Mutations sent before the connection opened
	// cannot have pushed to it.
	var hit *mutation
	best := 0.0
	for _, m := range list {
		if m.failed || at-m.sent > pushWindow || m.matched[c.id] || at < m.sent || m.sent < c.open {
			continue
		}
		score := 0.0
		for _, k := range m.keys {
			if keys[k] {
				score += 1 / float64(carriers(list, k))
			}
		}
		if score > best {
			hit, best = m, score
		}
	}
	if hit != nil {
		hit.matched[c.id] = true
		// Older mutations on the same values whose push has not come by
		// now never will on this connection: drop them for it.
		for _, m := range list {
			if m.sent < hit.sent && !m.matched[c.id] && sharesKey(m, hit) {
				m.matched[c.id] = true
			}
		}
	}
	if hit == nil {
		// Its mutation may not have answered yet: keep it for a while.
		early := s.early[c.flow]
		i := 0
		for i < len(early) && at-early[i].at > pushWindow {
			i++
		}
		s.early[c.flow] = append(early[i:], &earlyPush{conn: c, keys: keys, at: at})
	}
	s.mu.Unlock()
	if hit != nil {
		s.r.cfg.Results(pushResult(c, hit, at))
	}
}

// carriers counts the mutations of list whose values include k.
func carriers(list []*mutation, k string) int {
	n := 0
	for _, m := range list {
		for _, x := range m.keys {
			if x == k {
				n++
				break
			}
		}
	}
	return max(n, 1)
}

func sharesKey(a, b *mutation) bool {
	for _, x := range a.keys {
		for _, y := range b.keys {
			if x == y {
				return true
			}
		}
	}
	return false
}

// pushKeys decodes a server message once: it may be the push of an HTTP
// mutation when it is a JSON object whose "type" is "update", or that has
// neither a "type" nor an "event" (replies, pongs, acknowledgements,
// broadcasts, presence and connection events name kinds of their own).
// Its string values are what matches it to its mutation.
func pushKeys(msg []byte) (map[string]bool, bool) {
	var top map[string]any
	if json.Unmarshal(msg, &top) != nil {
		return nil, false
	}
	if t, has := top["type"]; has {
		if t != "update" {
			return nil, false
		}
	} else if _, has := top["event"]; has {
		return nil, false
	}
	keys := map[string]bool{}
	addStrings(top, keys)
	return keys, true
}

// collectStrings adds the JSON string values (not keys) of at least
// minKeyBytes found in body to keys.
func collectStrings(body []byte, keys map[string]bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || (body[0] != '{' && body[0] != '[') {
		return
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	addStrings(v, keys)
}

// addStrings adds the string values of at least minKeyBytes in a decoded
// JSON value to keys.
func addStrings(v any, keys map[string]bool) {
	switch t := v.(type) {
	case string:
		if len(t) >= minKeyBytes && len(t) <= 256 {
			keys[t] = true
		}
	case map[string]any:
		for _, x := range t {
			addStrings(x, keys)
		}
	case []any:
		for _, x := range t {
			addStrings(x, keys)
		}
	}
}

// flowHasOpen reports whether flow has an open WebSocket connection.
func (s *wsState) flowHasOpen(flow string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[flow] > 0
}

// isMutation reports whether method changes state.
func isMutation(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "":
		return false
	}
	return true
}

// wsEndpoint names a WebSocket connection's endpoint: "WS /template",
// labelled with its clientType when the URL gives one
// ("WS /v1/updates [session-scoped]").
func wsEndpoint(name func(method, path string) string, rawURL string) string {
	ep := name("WS", rawURL)
	if u, err := url.Parse(rawURL); err == nil {
		if t := u.Query().Get("clientType"); t != "" {
			ep += " [" + t + "]"
		}
	}
	return ep
}
