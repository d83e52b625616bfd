package happyapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket client types (the clientType query parameter).
const (
	ClientUser    = "user-scoped"
	ClientSession = "session-scoped"
	ClientMachine = "machine-scoped"
)

// maxWSMessage bounds one client message.
const maxWSMessage = 1 << 20

// serverMsg is the envelope of every server-originated message.
type serverMsg struct {
	Type      string `json:"type"`
	Payload   any    `json:"payload"`
	Timestamp int64  `json:"timestamp"`
	MessageID string `json:"messageId"`
	AckID     any    `json:"ackId,omitempty"`
}

func (s *Server) frame(typ string, payload any, ackID any) []byte {
	b, err := json.Marshal(serverMsg{Type: typ, Payload: payload, Timestamp: s.nowMs(), MessageID: randomHex(8), AckID: ackID})
	if err != nil {
		b, _ = json.Marshal(serverMsg{Type: "error", Payload: map[string]any{"message": "unencodable payload"}, Timestamp: s.nowMs(), MessageID: randomHex(8), AckID: ackID})
	}
	return b
}

// newUpdate builds the update frame for a change of u's data; u.mu must be
// held (it takes the next update sequence number).
func (s *Server) newUpdate(u *user, body map[string]any) []byte {
	u.updateSeq++
	now := s.nowMs()
	return s.frame("update", map[string]any{"id": randomHex(12), "seq": u.updateSeq, "body": body, "createdAt": now}, nil)
}

type wsConn struct {
	s          *Server
	id         string
	user       string
	clientType string
	sessionID  string
	machineID  string
	opened     time.Time
	c          *websocket.Conn
	send       chan []byte
	done       chan struct{}
	closeOnce  sync.Once
	closeCode  int
	closeText  string
}

// enqueue queues a frame for the writer; a connection whose queue is full
// is dropped (policy violation), as a fan-out service must not block on
// one slow reader.
func (c *wsConn) enqueue(b []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.send <- b:
		return true
	case <-c.done:
		return false
	default:
		c.s.hub.dropped.Add(1)
		c.close(websocket.ClosePolicyViolation, "slow consumer")
		return false
	}
}

func (c *wsConn) close(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
	})
}

func (c *wsConn) writeLoop() {
	var ping <-chan time.Time
	if c.s.cfg.WSPingInterval > 0 {
		t := time.NewTicker(c.s.cfg.WSPingInterval)
		defer t.Stop()
		ping = t.C
	}
	defer c.c.Close()
	for {
		select {
		case b := <-c.send:
			c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.c.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
			c.s.hub.sent.Add(1)
		case <-ping:
			if err := c.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			if c.closeCode != websocket.CloseAbnormalClosure {
				c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
			}
			return
		}
	}
}

func (c *wsConn) readLoop() {
	defer func() {
		c.close(websocket.CloseNormalClosure, "")
		c.s.hub.remove(c)
	}()
	c.c.SetReadLimit(maxWSMessage)
	for {
		_, data, err := c.c.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.close(ce.Code, "")
			} else {
				c.close(websocket.CloseAbnormalClosure, "")
			}
			return
		}
		c.s.hub.received.Add(1)
		c.s.handleClientMessage(c, data)
	}
}

// clientMsg is what a client sends: {event, data, ackId?}.
type clientMsg struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	AckID any             `json:"ackId"`
}

// handleClientMessage answers one client message. A message carrying an
// ackId always gets exactly one reply carrying the same ackId.
func (s *Server) handleClientMessage(c *wsConn, data []byte) {
	var m clientMsg
	if err := json.Unmarshal(data, &m); err != nil || m.Event == "" {
		c.enqueue(s.frame("error", map[string]any{"message": "invalid message: want {event, data, ackId?}"}, m.AckID))
		return
	}
	var d map[string]any
	if len(m.Data) > 0 {
		json.Unmarshal(m.Data, &d) // data may be any JSON; only objects are inspected
	}
	str := func(k string) string { v, _ := d[k].(string); return v }
	now := s.nowMs()
	switch m.Event {
	case "ping":
		ts := any(now)
		if v, ok := d["timestamp"]; ok {
			ts = v
		}
		c.enqueue(s.frame("pong", map[string]any{"timestamp": ts, "serverTime": now}, m.AckID))
	case "rpc-request", "rpc-call":
		method := str("method")
		if method == "" {
			c.enqueue(s.frame("rpc-response", map[string]any{"ok": false, "error": "method is required"}, m.AckID))
			return
		}
		reply := s.frame("rpc-response", map[string]any{"ok": true, "method": method, "result": d["params"]}, m.AckID)
		if s.cfg.RPCDelay > 0 {
			time.AfterFunc(s.cfg.RPCDelay, func() { c.enqueue(reply) })
		} else {
			c.enqueue(reply)
		}
	case "session-alive", "session-end":
		sid := str("sid")
		active := m.Event == "session-alive"
		// Activity of a session the user does not have is not relayed
		// (the real server checks ownership the same way).
		if s.touchSession(c.user, sid, active, now) {
			s.hub.relay(c, s.frame("ephemeral", map[string]any{"type": "activity", "id": sid, "active": active, "activeAt": now, "thinking": d["thinking"]}, nil), true)
		}
		s.ack(c, m)
	case "machine-alive":
		s.hub.relay(c, s.frame("ephemeral", map[string]any{"type": "machine-activity", "id": str("machineId"), "active": true, "activeAt": now}, nil), true)
		s.ack(c, m)
	case "ephemeral", "usage-report":
		s.hub.relay(c, s.frame("ephemeral", json.RawMessage(orNull(m.Data)), nil), false)
		s.ack(c, m)
	default:
		c.enqueue(s.frame("error", map[string]any{"message": "unknown event: " + m.Event}, m.AckID))
	}
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func (s *Server) ack(c *wsConn, m clientMsg) {
	if m.AckID != nil {
		c.enqueue(s.frame("ack", map[string]any{"event": m.Event, "ok": true}, m.AckID))
	}
}

// touchSession records session activity reported over a WebSocket.
// touchSession marks the user's session active or not, and reports
// whether the user has that session at all.
func (s *Server) touchSession(userID, sid string, active bool, now int64) bool {
	if sid == "" {
		return false
	}
	u := s.user(userID)
	u.mu.Lock()
	defer u.mu.Unlock()
	ss := u.sessions[sid]
	if ss != nil && ss.archivedAt == 0 {
		ss.Active, ss.ActiveAt = active, now
	}
	return ss != nil
}

// handleWebSocket upgrades GET /v1/updates and /v1/websocket.
func (s *Server) handleWebSocket(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		s.errorJSON(w, http.StatusUpgradeRequired, "Expected WebSocket upgrade")
		return
	}
	q := r.URL.Query()
	var userID string
	switch {
	case q.Get("ticket") != "":
		id, ok := s.verifyTicket(q.Get("ticket"))
		if !ok {
			s.errorJSON(w, http.StatusUnauthorized, "Invalid or expired ticket")
			return
		}
		userID = id
	case q.Get("token") != "":
		id, ok := s.userForToken(q.Get("token"))
		if !ok {
			s.errorJSON(w, http.StatusUnauthorized, msgInvalidToken)
			return
		}
		userID = id
	default:
		id, problem := s.authenticate(r)
		if problem != "" {
			s.errorJSON(w, http.StatusUnauthorized, problem)
			return
		}
		userID = id
	}
	ct := q.Get("clientType")
	if ct == "" {
		ct = ClientUser
	}
	c := &wsConn{s: s, id: randomHex(8), user: userID, clientType: ct, opened: time.Now(), send: make(chan []byte, s.cfg.WSWriteBuffer), done: make(chan struct{})}
	switch ct {
	case ClientUser:
	case ClientSession:
		c.sessionID = q.Get("sessionId")
		if c.sessionID == "" {
			s.validation(w, "sessionId is required for session-scoped connections")
			return
		}
	case ClientMachine:
		c.machineID = q.Get("machineId")
		if c.machineID == "" {
			s.validation(w, "machineId is required for machine-scoped connections")
			return
		}
	default:
		s.validation(w, "clientType must be user-scoped, session-scoped or machine-scoped")
		return
	}
	s.user(userID) // a token's first use creates the account
	conn, err := s.upgrade.Upgrade(w, r, http.Header{"X-Request-Id": {w.Header().Get("X-Request-ID")}})
	if err != nil {
		return // the upgrader has answered
	}
	c.c = conn
	c.enqueue(mustJSON(map[string]any{"event": "connected", "data": map[string]any{
		"connectionId": c.id, "userId": userID, "clientType": ct, "timestamp": s.nowMs(),
	}}))
	s.hub.add(c)
	go c.writeLoop()
	go c.readLoop()
}

func mustJSON(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

func (s *Server) wsTicket(w http.ResponseWriter, r *http.Request, u *user) {
	if ok, retry := s.ticketLimit.allow(u.id, time.Now()); !ok {
		s.tooMany(w, retry)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"ticket": s.issueTicket(u.id)})
}

func (s *Server) wsStats(w http.ResponseWriter, r *http.Request, u *user) {
	conns := s.hub.list(u.id)
	by := map[string]int{ClientUser: 0, ClientSession: 0, ClientMachine: 0}
	sessions, machines := map[string]bool{}, map[string]bool{}
	var oldest any
	for _, c := range conns {
		by[c.clientType]++
		if c.sessionID != "" {
			sessions[c.sessionID] = true
		}
		if c.machineID != "" {
			machines[c.machineID] = true
		}
		if o, ok := oldest.(int64); !ok || c.opened.UnixMilli() < o {
			oldest = c.opened.UnixMilli()
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"totalConnections": len(conns),
		"byType":           by,
		"activeSessions":   len(sessions),
		"activeMachines":   len(machines),
		"oldestConnection": oldest,
	})
}

func (s *Server) wsBroadcast(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Message *struct {
			Type      string          `json:"type"`
			Payload   json.RawMessage `json:"payload"`
			Timestamp *int64          `json:"timestamp"`
		} `json:"message"`
		Filter *struct {
			Type      string `json:"type"`
			SessionID string `json:"sessionId"`
			MachineID string `json:"machineId"`
		} `json:"filter"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Message == nil || req.Message.Type == "" {
		s.validation(w, "message.type is required")
		return
	}
	match := func(*wsConn) bool { return true }
	if f := req.Filter; f != nil {
		switch f.Type {
		case "all", "":
		case "user-scoped-only":
			match = func(c *wsConn) bool { return c.clientType == ClientUser }
		case "session":
			if f.SessionID == "" {
				s.validation(w, "filter.sessionId is required for a session filter")
				return
			}
			match = func(c *wsConn) bool { return c.sessionID == f.SessionID }
		case "machine":
			if f.MachineID == "" {
				s.validation(w, "filter.machineId is required for a machine filter")
				return
			}
			match = func(c *wsConn) bool { return c.machineID == f.MachineID }
		default:
			s.validation(w, "filter.type must be all, user-scoped-only, session or machine")
			return
		}
	}
	ts := s.nowMs()
	if req.Message.Timestamp != nil {
		ts = *req.Message.Timestamp
	}
	b, err := json.Marshal(map[string]any{"type": req.Message.Type, "payload": json.RawMessage(orNull(req.Message.Payload)), "timestamp": ts})
	if err != nil {
		s.validation(w, "message.payload is not valid JSON")
		return
	}
	delivered := 0
	for _, c := range s.hub.list(u.id) {
		if match(c) && c.enqueue(b) {
			delivered++
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"success": true, "delivered": delivered})
}

// hub tracks live connections by user.
type hub struct {
	mu       sync.Mutex
	byUser   map[string]map[*wsConn]struct{}
	accepted int64
	open     int

	received, sent, dropped atomic.Int64
}

func newHub() *hub { return &hub{byUser: map[string]map[*wsConn]struct{}{}} }

func (h *hub) add(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.byUser[c.user]
	if m == nil {
		m = map[*wsConn]struct{}{}
		h.byUser[c.user] = m
	}
	m[c] = struct{}{}
	h.accepted++
	h.open++
}

func (h *hub) remove(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.byUser[c.user]
	if _, ok := m[c]; !ok {
		return
	}
	delete(m, c)
	h.open--
	if len(m) == 0 {
		delete(h.byUser, c.user)
	}
}

func (h *hub) list(userID string) []*wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*wsConn, 0, len(h.byUser[userID]))
	for c := range h.byUser[userID] {
		out = append(out, c)
	}
	return out
}

// deliverUpdate sends an update frame to the user's connections that its
// scope reaches: user-scoped ones always, session-scoped ones when sid is
// theirs, machine-scoped ones when machineID is theirs.
func (h *hub) deliverUpdate(userID string, frame []byte, sid, machineID string) {
	for _, c := range h.list(userID) {
		ok := false
		switch c.clientType {
		case ClientUser:
			ok = true
		case ClientSession:
			ok = sid != "" && c.sessionID == sid
		case ClientMachine:
			ok = machineID != "" && c.machineID == machineID
		}
		if ok {
			c.enqueue(frame)
		}
	}
}

// relay sends an ephemeral frame to the sender's user's other
// connections (only user-scoped ones when userOnly).
func (h *hub) relay(from *wsConn, frame []byte, userOnly bool) {
	for _, c := range h.list(from.user) {
		if c != from && (!userOnly || c.clientType == ClientUser) {
			c.enqueue(frame)
		}
	}
}

func (h *hub) closeAll(code int, text string) {
	h.mu.Lock()
	var all []*wsConn
	for _, m := range h.byUser {
		for c := range m {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(code, text)
	}
}

type hubCounters struct {
	accepted                int64
	open                    int
	received, sent, dropped int64
}

func (h *hub) counters() hubCounters {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hubCounters{h.accepted, h.open, h.received.Load(), h.sent.Load(), h.dropped.Load()}
}
