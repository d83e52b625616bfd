package happyapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// dial opens a WebSocket; header may carry Authorization.
func dial(t *testing.T, base, pathQuery string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(wsURL(base, pathQuery), header)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// mustDial dials and consumes the connected frame.
func mustDial(t *testing.T, base, pathQuery string) *websocket.Conn {
	t.Helper()
	c, resp, err := dial(t, base, pathQuery, nil)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", pathQuery, err, st)
	}
	m := next(t, c)
	if m["event"] != "connected" {
		t.Fatalf("first frame %v", m)
	}
	return c
}

// next reads one JSON frame within 5 s.
func next(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	return m
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketConnect(t *testing.T) {
	srv, base := newTest(t, Config{Tokens: []string{staticToken}})
	ticket := call(t, base, "POST", "/v1/websocket/ticket", staticToken, nil).body["ticket"].(string)
	auth := http.Header{"Authorization": {"Bearer " + staticToken}}
	cases := []struct {
		name       string
		path       string
		header     http.Header
		status     int // handshake status when refused
		clientType string
	}{
		{"token", "/v1/updates?token=" + staticToken, nil, 0, ClientUser},
		{"ticket", "/v1/updates?ticket=" + ticket, nil, 0, ClientUser},
		{"header", "/v1/updates", auth, 0, ClientUser},
		{"websocket alias", "/v1/websocket?token=" + staticToken + "&clientType=machine-scoped&machineId=m1", nil, 0, ClientMachine},
		{"session scoped", "/v1/updates?token=" + staticToken + "&clientType=session-scoped&sessionId=s1", nil, 0, ClientSession},
		{"session scoped without id", "/v1/updates?token=" + staticToken + "&clientType=session-scoped", nil, 400, ""},
		{"unknown client type", "/v1/updates?token=" + staticToken + "&clientType=admin", nil, 400, ""},
		{"bad token", "/v1/updates?token=nope", nil, 401, ""},
		{"forged ticket", "/v1/updates?ticket=" + ticket[:len(ticket)-2] + "xx", nil, 401, ""},
		{"no auth", "/v1/updates", nil, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, resp, err := dial(t, base, c.path, c.header)
			if c.status != 0 {
				if err == nil || resp == nil || resp.StatusCode != c.status {
					t.Fatalf("want refusal %d, got err=%v resp=%v", c.status, err, resp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-ID on the upgrade")
			}
			m := next(t, conn)
			if m["event"] != "connected" || path(m, "data.clientType") != c.clientType || path(m, "data.connectionId") == "" {
				t.Errorf("connected frame %v", m)
			}
			if path(m, "data.userId") != userIDFrom("token", []byte(staticToken)) {
				t.Errorf("userId %v", path(m, "data.userId"))
			}
		})
	}
	if st := srv.Stats(); st.ByStatus["GET /v1/updates"][101] != 4 || st.ByStatus["GET /v1/updates"][401] != 3 {
		t.Errorf("upgrade statuses %v", st.ByStatus["GET /v1/updates"])
	}
}

func TestWebSocketTicketExpires(t *testing.T) {
	var skew atomic.Int64
	start := time.Now()
	now := func() time.Time { return start.Add(time.Duration(skew.Load())) }
	_, base := newTest(t, Config{Tokens: []string{"u"}, Now: now})
	ticket := call(t, base, "POST", "/v1/websocket/ticket", "u", nil).body["ticket"].(string)
	skew.Store(int64(29 * time.Second))
	mustDial(t, base, "/v1/updates?ticket="+ticket)
	skew.Store(int64(31 * time.Second))
	if _, resp, err := dial(t, base, "/v1/updates?ticket="+ticket, nil); err == nil || resp.StatusCode != 401 {
		t.Fatalf("expired ticket accepted: %v", err)
	}
}

func TestWebSocketTicketRateLimit(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true, TicketLimit: RateLimit{N: 2, Per: time.Minute}})
	var statuses []int
	for range 3 {
		statuses = append(statuses, call(t, base, "POST", "/v1/websocket/ticket", "u", nil).status)
	}
	if fmt.Sprint(statuses) != "[200 200 429]" {
		t.Errorf("statuses %v", statuses)
	}
	if r := call(t, base, "POST", "/v1/websocket/ticket", "v", nil); r.status != 200 {
		t.Errorf("other user limited: %d", r.status)
	}
}

// TestWebSocketScoping checks which connections get which updates: each
// step's update must reach exactly its audience, proven by a marker
// broadcast to everyone right after it.
func TestWebSocketScoping(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	tok := "u"
	s1 := path(call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "a", "metadata": ""}).body, "session.id").(string)
	s2 := path(call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "b", "metadata": ""}).body, "session.id").(string)
	call(t, base, "POST", "/v1/machines", tok, map[string]any{"id": "m1", "metadata": ""})

	conns := map[string]*websocket.Conn{
		"user":     mustDial(t, base, "/v1/updates?token=u"),
		"session1": mustDial(t, base, "/v1/updates?token=u&clientType=session-scoped&sessionId="+s1),
		"session2": mustDial(t, base, "/v1/updates?token=u&clientType=session-scoped&sessionId="+s2),
		"machine":  mustDial(t, base, "/v1/updates?token=u&clientType=machine-scoped&machineId=m1"),
		"stranger": mustDial(t, base, "/v1/updates?token=someone-else"),
	}
	steps := []struct {
		name         string
		method, path string
		body         any
		t            string
		audience     []string
	}{
		{"new message", "POST", "/v1/sessions/" + s1 + "/messages", map[string]any{"content": "x"}, "new-message", []string{"user", "session1"}},
		{"machine status", "PUT", "/v1/machines/m1/status", map[string]any{"active": false}, "update-machine", []string{"user", "machine"}},
		{"machine register", "POST", "/v1/machines", map[string]any{"id": "m2", "metadata": ""}, "new-machine", []string{"user"}},
		{"artifact", "POST", "/v1/artifacts", map[string]any{"id": "a", "header": "aA==", "body": "Yg==", "dataEncryptionKey": "aw=="}, "new-artifact", []string{"user"}},
		{"artifact update", "POST", "/v1/artifacts/a", map[string]any{"body": "Yw==", "expectedBodyVersion": 1}, "update-artifact", []string{"user"}},
		{"artifact delete", "DELETE", "/v1/artifacts/a", nil, "delete-artifact", []string{"user"}},
		{"session create", "POST", "/v1/sessions", map[string]any{"tag": "c", "metadata": ""}, "new-session", []string{"user"}},
		{"session delete", "DELETE", "/v1/sessions/" + s2, nil, "delete-session", []string{"user", "session2"}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if r := call(t, base, st.method, st.path, tok, st.body); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			marker := fmt.Sprintf("marker-%d", i)
			call(t, base, "POST", "/v1/websocket/broadcast", tok, map[string]any{"message": map[string]any{"type": marker}})
			call(t, base, "POST", "/v1/websocket/broadcast", "someone-else", map[string]any{"message": map[string]any{"type": marker}})
			for name, c := range conns {
				in := false
				for _, a := range st.audience {
					in = in || a == name
				}
				m := next(t, c)
				if in {
					if m["type"] != "update" || path(m, "payload.body.t") != st.t {
						t.Fatalf("%s got %v, want update %s", name, m, st.t)
					}
					if _, ok := path(m, "payload.seq").(float64); !ok || m["messageId"] == nil {
						t.Errorf("%s: update envelope %v", name, m)
					}
					m = next(t, c)
				}
				if m["type"] != marker {
					t.Fatalf("%s got %v, want the marker (it should not see %s)", name, m, st.t)
				}
				if _, has := m["messageId"]; has {
					t.Errorf("broadcast is not raw: %v", m)
				}
			}
		})
	}
}

func TestWebSocketBroadcastFilters(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	conns := []*websocket.Conn{
		mustDial(t, base, "/v1/updates?token=u"),
		mustDial(t, base, "/v1/updates?token=u&clientType=session-scoped&sessionId=s1"),
		mustDial(t, base, "/v1/updates?token=u&clientType=session-scoped&sessionId=s2"),
		mustDial(t, base, "/v1/updates?token=u&clientType=machine-scoped&machineId=m1"),
	}
	cases := []struct {
		name   string
		filter any
		want   []int // indexes of conns that receive it
	}{
		{"no filter", nil, []int{0, 1, 2, 3}},
		{"all", map[string]any{"type": "all"}, []int{0, 1, 2, 3}},
		{"user scoped only", map[string]any{"type": "user-scoped-only"}, []int{0}},
		{"session", map[string]any{"type": "session", "sessionId": "s2"}, []int{2}},
		{"machine", map[string]any{"type": "machine", "machineId": "m1"}, []int{3}},
		{"nobody", map[string]any{"type": "machine", "machineId": "m9"}, nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ := fmt.Sprintf("b%d", i)
			body := map[string]any{"message": map[string]any{"type": typ, "payload": map[string]any{"n": i}, "timestamp": 42}}
			if c.filter != nil {
				body["filter"] = c.filter
			}
			r := call(t, base, "POST", "/v1/websocket/broadcast", "u", body)
			if r.body["success"] != true || int(r.body["delivered"].(float64)) != len(c.want) {
				t.Fatalf("broadcast answer %s, want delivered %d", r.raw, len(c.want))
			}
			fence := fmt.Sprintf("fence%d", i)
			call(t, base, "POST", "/v1/websocket/broadcast", "u", map[string]any{"message": map[string]any{"type": fence}})
			for j, conn := range conns {
				m := next(t, conn)
				wanted := false
				for _, w := range c.want {
					wanted = wanted || w == j
				}
				if wanted {
					if m["type"] != typ || path(m, "payload.n") != float64(i) || m["timestamp"] != float64(42) {
						t.Fatalf("conn %d got %v, want %s", j, m, typ)
					}
					m = next(t, conn)
				}
				if m["type"] != fence {
					t.Fatalf("conn %d got %v, want fence", j, m)
				}
			}
		})
	}
	r := call(t, base, "GET", "/v1/websocket/stats", "u", nil)
	if r.body["totalConnections"] != float64(4) || path(r.body, "byType.session-scoped") != float64(2) || r.body["activeSessions"] != float64(2) || r.body["activeMachines"] != float64(1) {
		t.Errorf("stats %s", r.raw)
	}
}

func TestWebSocketAcks(t *testing.T) {
	srv, base := newTest(t, Config{AnyToken: true})
	sid := path(call(t, base, "POST", "/v1/sessions", "u", map[string]any{"tag": "a", "metadata": ""}).body, "session.id").(string)
	c := mustDial(t, base, "/v1/updates?token=u")
	watcher := mustDial(t, base, "/v1/updates?token=u")
	cases := []struct {
		name    string
		msg     any
		typ     string
		check   func(m map[string]any) bool
		watcher string // ephemeral type the other connection must see, if any
	}{
		{"ping", map[string]any{"event": "ping", "data": map[string]any{"timestamp": 7}, "ackId": "a1"}, "pong", func(m map[string]any) bool { return path(m, "payload.timestamp") == float64(7) }, ""},
		{"rpc", map[string]any{"event": "rpc-request", "data": map[string]any{"method": "m1:bash", "params": map[string]any{"cmd": "ls"}}, "ackId": 17}, "rpc-response", func(m map[string]any) bool {
			return path(m, "payload.ok") == true && path(m, "payload.result.cmd") == "ls"
		}, ""},
		{"rpc without method", map[string]any{"event": "rpc-request", "data": map[string]any{}, "ackId": "r2"}, "rpc-response", func(m map[string]any) bool { return path(m, "payload.ok") == false }, ""},
		{"session alive", map[string]any{"event": "session-alive", "data": map[string]any{"sid": sid, "thinking": true}, "ackId": "a3"}, "ack", func(m map[string]any) bool { return path(m, "payload.event") == "session-alive" }, "activity"},
		{"ephemeral", map[string]any{"event": "ephemeral", "data": map[string]any{"type": "custom", "x": 1}, "ackId": "a4"}, "ack", nil, "custom"},
		{"unknown", map[string]any{"event": "teleport", "ackId": "a5"}, "error", func(m map[string]any) bool { return strings.Contains(path(m, "payload.message").(string), "teleport") }, ""},
		{"malformed", "not json", "error", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if s, ok := tc.msg.(string); ok {
				c.WriteMessage(websocket.TextMessage, []byte(s))
			} else {
				send(t, c, tc.msg)
			}
			m := next(t, c)
			if m["type"] != tc.typ {
				t.Fatalf("reply %v, want %s", m, tc.typ)
			}
			if mm, ok := tc.msg.(map[string]any); ok && fmt.Sprint(m["ackId"]) != fmt.Sprint(mm["ackId"]) {
				t.Errorf("ackId %v, want %v", m["ackId"], mm["ackId"])
			}
			if tc.check != nil && !tc.check(m) {
				t.Errorf("reply %v", m)
			}
			if tc.watcher != "" {
				if w := next(t, watcher); w["type"] != "ephemeral" || path(w, "payload.type") != tc.watcher {
					t.Errorf("watcher got %v, want ephemeral %s", w, tc.watcher)
				}
			}
		})
	}
	if st := srv.Stats(); st.WSReceived != int64(len(cases)) || st.WSSent < int64(len(cases)+2) {
		t.Errorf("ws counts received %d sent %d", st.WSReceived, st.WSSent)
	}
}

func TestWebSocketCompressionNegotiated(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	for _, compress := range []bool{true, false} {
		d := websocket.Dialer{EnableCompression: compress}
		c, resp, err := d.Dial(wsURL(base, "/v1/updates?token=u"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ext := resp.Header.Get("Sec-Websocket-Extensions")
		if strings.Contains(ext, "permessage-deflate") != compress {
			t.Errorf("client compression %v: server extensions %q", compress, ext)
		}
		// Messages still flow.
		if m := next(t, c); m["event"] != "connected" {
			t.Errorf("first frame %v", m)
		}
		c.Close()
	}
}

func TestWebSocketShutdownClosesGoingAway(t *testing.T) {
	srv, err := New(Config{AnyToken: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, srv.URL(), "/v1/updates?token=u")
	cancel()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read after shutdown: %v", err)
	}
	select {
	case <-srv.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}
