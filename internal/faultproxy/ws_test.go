package faultproxy

import (
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

func wsURL(p *Proxy, path string) string { return "ws://" + p.Addr() + path }

// Each WebSocket fault breaks the handshake or the session the way a
// client library notices, after the messages it lets through.
func TestWebSocketFaults(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		// dial checks a handshake meant to fail.
		dial func(resp *http.Response, err error) string
		// read checks the read after the message let through.
		read func(op int, msg []byte, err error) string
	}{
		{"upgrade never answered", Rule{Fault: Hang}, func(_ *http.Response, err error) string {
			if !isTimeout(err) {
				return "want a handshake timeout"
			}
			return ""
		}, nil},
		{"upgrade answered 200", Rule{Fault: Status, Status: 200}, func(resp *http.Response, err error) string {
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != 200 {
				return "want a bad handshake with status 200"
			}
			return ""
		}, nil},
		{"bad accept key", Rule{Fault: WSBadAccept}, func(resp *http.Response, err error) string {
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != 101 {
				return "want a bad handshake with status 101"
			}
			return ""
		}, nil},
		{"drop", Rule{Fault: WSDrop, After: 1}, nil, func(_ int, _ []byte, err error) string {
			if !errors.Is(err, syscall.ECONNRESET) {
				return "want a connection reset"
			}
			return ""
		}},
		{"abnormal close", Rule{Fault: WSAbnormalClose, After: 1}, nil, func(_ int, _ []byte, err error) string {
			if !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
				return "want close 1006"
			}
			return ""
		}},
		{"reserved opcode", Rule{Fault: WSReservedOpcode, After: 1}, nil, func(_ int, _ []byte, err error) string {
			if err == nil || !strings.Contains(err.Error(), "bad opcode 3") {
				return "want a bad opcode"
			}
			return ""
		}},
		{"bad length", Rule{Fault: WSBadLength, After: 1}, nil, func(_ int, _ []byte, err error) string {
			if !errors.Is(err, websocket.ErrReadLimit) {
				return "want an impossible length"
			}
			return ""
		}},
		{"long control frame", Rule{Fault: WSBigControl, After: 1}, nil, func(_ int, _ []byte, err error) string {
			if err == nil || !strings.Contains(err.Error(), "len > 125 for control") {
				return "want a long control frame refused"
			}
			return ""
		}},
		{"invalid utf-8", Rule{Fault: WSBadUTF8, After: 1}, nil, func(op int, msg []byte, err error) string {
			if err != nil || op != websocket.TextMessage || utf8.Valid(msg) {
				return "want a text message that is not UTF-8"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Path = "/bad"
			p := start(t, Plan{Rules: []Rule{tt.rule}})
			d := websocket.Dialer{HandshakeTimeout: 300 * time.Millisecond}
			// A healthy connection is relayed to the upstream throughout.
			ok, _, err := d.Dial(wsURL(p, "/echo"), nil)
			if err != nil {
				t.Fatalf("healthy dial: %v", err)
			}
			defer ok.Close()
			c, resp, err := d.Dial(wsURL(p, "/bad"), nil)
			if tt.dial != nil {
				if err == nil {
					c.Close()
				}
				if msg := tt.dial(resp, err); msg != "" {
					t.Errorf("%s: got %v (response %v)", msg, err, resp)
				}
			} else {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if err := c.WriteMessage(websocket.TextMessage, []byte("first")); err != nil {
					t.Fatal(err)
				}
				if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "first" {
					t.Fatalf("echo before the fault: %q %v", msg, err)
				}
				op, msg, err := c.ReadMessage()
				if m := tt.read(op, msg, err); m != "" {
					t.Errorf("%s: got op %d %q %v", m, op, msg, err)
				}
			}
			if err := ok.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := ok.ReadMessage(); err != nil || string(msg) != "still here" {
				t.Errorf("healthy connection: %q %v", msg, err)
			}
			st := p.Stats()
			if st.Faults[tt.rule.Fault] != 1 || st.Tunnels != 1 {
				t.Errorf("stats %+v: want 1 %s and 1 tunnel", st, tt.rule.Fault)
			}
		})
	}
}

// A session fault waits for its number of client messages, echoing them,
// and a session that ends before never sees it.
func TestWebSocketAfter(t *testing.T) {
	p := start(t, Plan{Rules: []Rule{{Fault: WSAbnormalClose, After: 3}}})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(p, "/x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i := 0; i < 3; i++ {
		if err := c.WriteMessage(websocket.BinaryMessage, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if op, msg, err := c.ReadMessage(); err != nil || op != websocket.BinaryMessage || len(msg) != 1 || msg[0] != byte(i) {
			t.Fatalf("message %d: %d %v %v", i, op, msg, err)
		}
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
		t.Errorf("after 3 messages: %v, want close 1006", err)
	}
	// A short session closes cleanly before the fault.
	c2, _, err := websocket.DefaultDialer.Dial(wsURL(p, "/x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	c2.WriteMessage(websocket.TextMessage, []byte("only one"))
	c2.ReadMessage()
	c2.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	if _, _, err := c2.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("clean close: %v", err)
	}
	if st := p.Stats(); st.Faults[WSAbnormalClose] != 1 {
		t.Errorf("stats %+v: want 1 fault", st)
	}
}
