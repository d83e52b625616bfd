package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is one user's set of WebSocket connections: a long-lived
// user-scoped one, a session-scoped one on the home session, a
// machine-scoped one for the home machine, and short-lived ones that come
// and go. It has its own random source, so the HTTP operation sequence
// stays reproducible whatever the WebSocket timing.
type wsClient struct {
	u     *user
	rng   *rand.Rand
	conns []*wsConn
	ackN  int
}

type wsConn struct {
	c          *websocket.Conn
	clientType string
	closeAt    time.Time // zero: lives for the run
	done       chan struct{}

	mu      sync.Mutex
	pending map[string]bool
}

func newWSClient(u *user) *wsClient {
	return &wsClient{u: u, rng: rand.New(rand.NewPCG(u.cfg.Seed^0x5753, uint64(u.index)+1))}
}

// wsBase turns the HTTP base URL into a WebSocket one.
func wsBase(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}

// open dials /v1/updates with the given scope, authenticating by query
// token, ticket or header as the random source decides.
func (w *wsClient) open(ctx context.Context, clientType, scopeKey, scopeID string, life time.Duration) {
	u := w.u
	q := url.Values{}
	var header http.Header
	switch n := w.rng.IntN(10); {
	case n < 4:
		q.Set("token", u.token)
	case n < 8:
		_, body, err := u.do(ctx, "POST", "/v1/websocket/ticket", "/v1/websocket/ticket", nil, http.StatusOK)
		t := str(body, "ticket")
		if err != nil || t == "" {
			u.mu.Lock()
			u.rep.WSFailed++
			u.mu.Unlock()
			return
		}
		q.Set("ticket", t)
	default:
		header = http.Header{"Authorization": {"Bearer " + u.token}}
	}
	if clientType != "user-scoped" {
		q.Set("clientType", clientType)
		q.Set(scopeKey, scopeID)
	}
	path := "/v1/updates"
	if w.rng.IntN(10) == 0 {
		path = "/v1/websocket"
	}
	c, resp, err := u.cfg.Dialer.DialContext(ctx, wsBase(u.cfg.BaseURL)+path+"?"+q.Encode(), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	u.mu.Lock()
	u.rep.Requests["GET "+path]++
	if err != nil {
		u.rep.WSFailed++
		u.mu.Unlock()
		u.cfg.Logger.Debug("websocket dial failed", "user", u.index, "err", err)
		return
	}
	if resp != nil {
		u.rep.Statuses[resp.StatusCode]++
	}
	u.rep.WSConnections[clientType]++
	u.mu.Unlock()
	wc := &wsConn{c: c, clientType: clientType, done: make(chan struct{}), pending: map[string]bool{}}
	if life > 0 {
		wc.closeAt = time.Now().Add(life)
	}
	w.conns = append(w.conns, wc)
	go w.read(wc)
}

// read counts what the server sends and matches replies to ackIds.
func (w *wsClient) read(wc *wsConn) {
	defer close(wc.done)
	u := w.u
	for {
		_, data, err := wc.c.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type  string `json:"type"`
			Event string `json:"event"`
			AckID any    `json:"ackId"`
		}
		json.Unmarshal(data, &m) // a non-JSON frame is still counted
		typ := m.Type
		if typ == "" {
			typ = m.Event
		}
		if typ == "" {
			typ = "other"
		}
		acked := false
		if id, ok := m.AckID.(string); ok {
			wc.mu.Lock()
			acked = wc.pending[id]
			delete(wc.pending, id)
			wc.mu.Unlock()
		}
		u.mu.Lock()
		u.rep.WSReceived++
		u.rep.WSReceivedByType[typ]++
		if acked {
			u.rep.WSAcked++
		}
		u.mu.Unlock()
	}
}

// send writes one client message; withAck adds an ackId the reader will
// match.
func (w *wsClient) send(wc *wsConn, event string, data any, withAck bool) {
	msg := map[string]any{"event": event, "data": data}
	if withAck {
		w.ackN++
		id := fmt.Sprintf("u%d-%d", w.u.index, w.ackN)
		msg["ackId"] = id
		wc.mu.Lock()
		wc.pending[id] = true
		wc.mu.Unlock()
	}
	wc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := wc.c.WriteJSON(msg); err != nil {
		return
	}
	w.u.mu.Lock()
	w.u.rep.WSSent++
	w.u.mu.Unlock()
}

func (w *wsClient) closeConn(wc *wsConn) {
	wc.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	select {
	case <-wc.done:
	case <-time.After(2 * time.Second):
	}
	wc.c.Close()
	<-wc.done
}

// live returns the open connections (dropping ones the server closed).
func (w *wsClient) live() []*wsConn {
	out := w.conns[:0]
	for _, wc := range w.conns {
		select {
		case <-wc.done:
			wc.c.Close()
		default:
			out = append(out, wc)
		}
	}
	w.conns = out
	return out
}

func (w *wsClient) ofType(t string) *wsConn {
	for _, wc := range w.live() {
		if wc.clientType == t {
			return wc
		}
	}
	return nil
}

// run opens the standing connections, then acts every few seconds until
// runCtx ends, and closes everything cleanly.
func (w *wsClient) run(ctx, runCtx context.Context) {
	u := w.u
	w.open(ctx, "user-scoped", "", "", 0)
	w.open(ctx, "session-scoped", "sessionId", u.homeSession, 0)
	w.open(ctx, "machine-scoped", "machineId", u.homeMachine, 0)
	for {
		// Exponential-ish pauses around WSActionEvery.
		pause := time.Duration(float64(u.cfg.WSActionEvery) * (0.3 + 1.4*w.rng.Float64()))
		if !sleep(runCtx, pause) {
			break
		}
		for _, wc := range w.live() {
			if !wc.closeAt.IsZero() && time.Now().After(wc.closeAt) {
				w.closeConn(wc)
			}
		}
		w.act(ctx)
	}
	for _, wc := range w.live() {
		w.closeConn(wc)
	}
}

// act performs one WebSocket-side action.
func (w *wsClient) act(ctx context.Context) {
	u := w.u
	live := w.live()
	n := w.rng.IntN(100)
	switch {
	case n < 30 && len(live) > 0:
		wc := live[w.rng.IntN(len(live))]
		w.send(wc, "ping", map[string]any{"timestamp": time.Now().UnixMilli()}, true)
	case n < 50:
		if wc := w.ofType("user-scoped"); wc != nil {
			w.send(wc, "rpc-request", map[string]any{
				"method": u.homeMachine + ":bash",
				"params": map[string]any{"command": []string{"ls", "git status", "pwd"}[w.rng.IntN(3)], "cwd": "/home/happy"},
			}, true)
		} else {
			w.open(ctx, "user-scoped", "", "", 0)
		}
	case n < 65:
		if wc := w.ofType("session-scoped"); wc != nil {
			w.send(wc, "session-alive", map[string]any{"sid": u.homeSession, "time": time.Now().UnixMilli(), "thinking": w.rng.IntN(2) == 0}, w.rng.IntN(2) == 0)
		}
		if wc := w.ofType("machine-scoped"); wc != nil && w.rng.IntN(2) == 0 {
			w.send(wc, "machine-alive", map[string]any{"machineId": u.homeMachine, "time": time.Now().UnixMilli()}, false)
		}
	case n < 75:
		filter := []map[string]any{
			nil,
			{"type": "all"},
			{"type": "user-scoped-only"},
			{"type": "session", "sessionId": u.homeSession},
			{"type": "machine", "machineId": u.homeMachine},
		}[w.rng.IntN(5)]
		body := map[string]any{"message": map[string]any{"type": "notice", "payload": map[string]any{"text": "sync", "n": w.ackN}, "timestamp": time.Now().UnixMilli()}}
		if filter != nil {
			body["filter"] = filter
		}
		u.do(ctx, "POST", "/v1/websocket/broadcast", "/v1/websocket/broadcast", body)
	case n < 80:
		u.do(ctx, "GET", "/v1/websocket/stats", "/v1/websocket/stats", nil)
	case n < 95:
		life := time.Duration(2+w.rng.IntN(9)) * time.Second
		if w.rng.IntN(2) == 0 {
			w.open(ctx, "session-scoped", "sessionId", u.homeSession, life)
		} else {
			w.open(ctx, "user-scoped", "", "", life)
		}
	default:
		if wc := w.ofType("user-scoped"); wc != nil {
			w.send(wc, "ephemeral", map[string]any{"type": "typing", "sid": u.homeSession}, false)
		}
	}
}
