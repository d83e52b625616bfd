package proxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/flate"

	"github.com/reprise/reprise/internal/traffic"
)

// wsUpstream is a gorilla WebSocket server: it echoes every message,
// answers "push N" with N server messages, "close CODE" with a close
// frame, and "drop" by cutting the TCP connection.
func wsUpstream(t testing.TB, compress bool) *httptest.Server {
	up := websocket.Upgrader{EnableCompression: compress, Subprotocols: []string{"happy"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			s := string(msg)
			switch {
			case strings.HasPrefix(s, "push "):
				var n int
				fmt.Sscan(s[5:], &n)
				for i := 0; i < n; i++ {
					c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"update","seq":%d}`, i)))
				}
			case strings.HasPrefix(s, "close "):
				var code int
				fmt.Sscan(s[6:], &code)
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "server says bye"), time.Now().Add(time.Second))
				c.ReadMessage() // the client's answer
				return
			case s == "drop":
				c.NetConn().Close()
				return
			default:
				c.WriteMessage(op, msg)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(httpURL, path string) string { return "ws" + strings.TrimPrefix(httpURL, "http") + path }

// wsRecords splits recorded WebSocket records.
func wsRecords(t testing.TB, recs []traffic.Record) traffic.Collection {
	t.Helper()
	c := traffic.Collect(recs)
	if c.Orphans != 0 {
		t.Errorf("%d orphan WebSocket records", c.Orphans)
	}
	return c
}

func TestWebSocketBothDirections(t *testing.T) {
	up := wsUpstream(t, false)
	tp := startProxy(t, up.URL)
	d := websocket.Dialer{Subprotocols: []string{"happy"}}
	c, resp, err := d.Dial(wsURL(tp.URL, "/v1/updates?clientType=user-scoped"), http.Header{"Authorization": {"Bearer u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || c.Subprotocol() != "happy" {
		t.Fatalf("upgrade: %d %q", resp.StatusCode, c.Subprotocol())
	}
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	steps := []struct {
		op  int
		msg string
	}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, "\x00\x01\x02"}}
	for _, s := range steps {
		if err := c.WriteMessage(s.op, []byte(s.msg)); err != nil {
			t.Fatal(err)
		}
		op, got, err := c.ReadMessage()
		if err != nil || op != s.op || string(got) != s.msg {
			t.Fatalf("echo: %d %q %v", op, got, err)
		}
	}
	c.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("push 3"))
	for i := 0; i < 3; i++ {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case p := <-pong:
		if p != "p1" {
			t.Errorf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong relayed")
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 4001) {
		t.Errorf("close echo: %v", err)
	}
	c.Close()
	tp.stop()

	col := wsRecords(t, tp.Sink.Records())
	if len(col.WS) != 1 || len(col.Exchanges) != 0 {
		t.Fatalf("%d ws connections, %d exchanges", len(col.WS), len(col.Exchanges))
	}
	ws := col.WS[0]
	if ws.Open.Upgrade.Response == nil || ws.Open.Upgrade.Response.Status != 101 || ws.Open.Subprotocol != "happy" ||
		ws.Open.Upgrade.Request.URL != "/v1/updates?clientType=user-scoped" || !strings.HasPrefix(ws.Open.Flow, "auth:") {
		t.Errorf("open: %+v", ws.Open)
	}
	type m struct {
		client bool
		op     traffic.Opcode
		body   string
	}
	want := []m{
		{true, traffic.OpText, "hello"}, {false, traffic.OpText, "hello"},
		{true, traffic.OpBinary, "\x00\x01\x02"}, {false, traffic.OpBinary, "\x00\x01\x02"},
		{true, traffic.OpPing, "p1"}, {true, traffic.OpText, "push 3"}, {false, traffic.OpPong, "p1"},
		{false, traffic.OpText, `{"type":"update","seq":0}`}, {false, traffic.OpText, `{"type":"update","seq":1}`}, {false, traffic.OpText, `{"type":"update","seq":2}`},
	}
	var got []m
	for _, msg := range ws.Messages {
		got = append(got, m{msg.FromClient, msg.Opcode, string(msg.Payload)})
		if msg.Frames != 1 || msg.Size != int64(len(msg.Payload)) || msg.ConnID != ws.Open.ConnID || msg.Flow != ws.Open.Flow || msg.Start < ws.Open.Start {
			t.Errorf("message %+v", msg)
		}
	}
	// In order per direction; the order between directions depends on
	// scheduling (a pong may pass before the next client message).
	side := func(ms []m, client bool) []m {
		var out []m
		for _, x := range ms {
			if x.client == client {
				out = append(out, x)
			}
		}
		return out
	}
	if !slices.Equal(side(got, true), side(want, true)) || !slices.Equal(side(got, false), side(want, false)) {
		t.Errorf("messages\n got %v\nwant %v", got, want)
	}
	if ws.Close == nil || !ws.Close.FromClient || ws.Close.Code != 4001 || ws.Close.Reason != "bye" || ws.Close.Error != "" {
		t.Errorf("close %+v", ws.Close)
	}
	st := tp.Stats()
	if st.WSConns != 1 || st.WSMessages != int64(len(want)) {
		t.Errorf("stats %+v", st)
	}
}

func TestWebSocketEnds(t *testing.T) {
	tests := []struct {
		name       string
		send       string
		wantCode   int
		wantClient bool
		wantErr    string
		wantReason string
	}{
		{"server closes", "close 1001", 1001, false, "", "server says bye"},
		{"server drops", "drop", traffic.CloseAbnormal, false, "server: connection closed without a close frame", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := wsUpstream(t, false)
			tp := startProxy(t, up.URL)
			c, _, err := websocket.DefaultDialer.Dial(wsURL(tp.URL, "/ws"), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.WriteMessage(websocket.TextMessage, []byte(tt.send))
			_, _, err = c.ReadMessage()
			if err == nil {
				t.Fatal("connection did not end")
			}
			c.Close()
			tp.stop()
			col := wsRecords(t, tp.Sink.Records())
			cl := col.WS[0].Close
			if cl == nil || cl.Code != tt.wantCode || cl.FromClient != tt.wantClient || cl.Error != tt.wantErr || cl.Reason != tt.wantReason {
				t.Errorf("close %+v", cl)
			}
		})
	}
}

func TestWebSocketShutdownEndsConnections(t *testing.T) {
	up := wsUpstream(t, false)
	tp := startProxy(t, up.URL)
	c, _, err := websocket.DefaultDialer.Dial(wsURL(tp.URL, "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	c.ReadMessage()
	done := make(chan struct{})
	go func() { tp.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hung on an open WebSocket")
	}
	cl := wsRecords(t, tp.Sink.Records()).WS[0].Close
	if cl == nil || cl.Code != traffic.CloseAbnormal || !strings.Contains(cl.Error, "shut down") {
		t.Errorf("close %+v", cl)
	}
}

func TestWebSocketPermessageDeflate(t *testing.T) {
	up := wsUpstream(t, true)
	tp := startProxy(t, up.URL)
	d := websocket.Dialer{EnableCompression: true}
	c, _, err := d.Dial(wsURL(tp.URL, "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []string{strings.Repeat("compress me please ", 50), `{"type":"update","body":"` + strings.Repeat("ab", 200) + `"}`}
	for _, m := range msgs {
		c.WriteMessage(websocket.TextMessage, []byte(m))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != m {
			t.Fatalf("echo %v", err)
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	c.ReadMessage()
	c.Close()
	tp.stop()
	ws := wsRecords(t, tp.Sink.Records()).WS[0]
	if !strings.Contains(ws.Open.Extensions, "permessage-deflate") {
		t.Fatalf("extensions %q", ws.Open.Extensions)
	}
	if len(ws.Messages) != 4 {
		t.Fatalf("%d messages", len(ws.Messages))
	}
	for _, m := range ws.Messages {
		if !m.Compressed || (string(m.Payload) != msgs[0] && string(m.Payload) != msgs[1]) || m.Size != int64(len(m.Payload)) {
			t.Errorf("message compressed=%v size=%d payload %.40q", m.Compressed, m.Size, m.Payload)
		}
	}
	if ws.Close == nil || ws.Close.Code != 1000 {
		t.Errorf("close %+v", ws.Close)
	}
}

// rawWS opens a WebSocket through addr by hand, so tests control every
// frame.
func rawWS(t testing.TB, addr, path, extensions string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ext := ""
	if extensions != "" {
		ext = "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", path, addr, ext)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return conn, br
}

// frame encodes one frame, masked as a client must.
func frame(fin, rsv1 bool, op traffic.Opcode, payload []byte, mask bool) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !mask {
		return append(out, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

func TestWebSocketFragmentation(t *testing.T) {
	up := wsUpstream(t, false)
	tp := startProxy(t, up.URL)
	conn, br := rawWS(t, strings.TrimPrefix(tp.URL, "http://"), "/ws", "")
	var out []byte
	out = append(out, frame(false, false, traffic.OpText, []byte("Hel"), true)...)
	out = append(out, frame(true, false, traffic.OpPing, []byte("mid"), true)...)
	out = append(out, frame(false, false, traffic.OpContinuation, []byte("lo "), true)...)
	out = append(out, frame(true, false, traffic.OpContinuation, []byte("world"), true)...)
	// Write byte by byte, so the parser sees every split.
	for i := range out {
		if _, err := conn.Write(out[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	// Expect the pong and the echo (order up to the server).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	seen := map[string]bool{}
	for len(seen) < 2 {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, h[1]&0x7f)
		io.ReadFull(br, p)
		seen[fmt.Sprintf("%d:%s", h[0]&0x0f, p)] = true
	}
	if !seen["10:mid"] || !seen["1:Hello world"] {
		t.Fatalf("client saw %v", seen)
	}
	conn.Write(frame(true, false, traffic.OpClose, []byte{0x03, 0xe8}, true))
	io.Copy(io.Discard, br)
	tp.stop()
	ws := wsRecords(t, tp.Sink.Records()).WS[0]
	var client []traffic.WSMessage
	for _, m := range ws.Messages {
		if m.FromClient {
			client = append(client, m)
		}
	}
	if len(client) == 2 && client[0].Opcode == traffic.OpPing {
		client[0], client[1] = client[1], client[0]
	}
	// The text message starts (first fragment) no later than the ping.
	if len(client) != 2 || client[0].Opcode != traffic.OpText || string(client[0].Payload) != "Hello world" || client[0].Frames != 3 ||
		client[1].Opcode != traffic.OpPing || string(client[1].Payload) != "mid" || client[0].Start > client[1].Start {
		t.Errorf("client messages %+v", client)
	}
	if ws.Close == nil || ws.Close.Code != 1000 || !ws.Close.FromClient {
		t.Errorf("close %+v", ws.Close)
	}
}

// deflateMessages compresses messages as one permessage-deflate sender
// with context takeover does: one compressor, a sync flush per message,
// the 00 00 ff ff tail removed.
func deflateMessages(t testing.TB, msgs []string) [][]byte {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		buf.Reset()
		fw.Write([]byte(m))
		fw.Flush()
		b := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
		out = append(out, append([]byte(nil), b...))
	}
	return out
}

func TestFrameParserContextTakeover(t *testing.T) {
	msgs := []string{
		strings.Repeat("the quick brown fox jumps over the lazy dog. ", 20),
		strings.Repeat("the quick brown fox jumps over the lazy dog. ", 21), // mostly back-references into message 1
		"short",
	}
	comp := deflateMessages(t, msgs)
	if len(comp[1]) > len(msgs[1])/10 {
		t.Fatalf("second message %d bytes compressed: not using the shared window", len(comp[1]))
	}
	p := newTestProxy(t)
	tap := &wsTap{x: &exchangeState{p: p, conn: &connInfo{id: 7}, flow: "f"}}
	fp := &frameParser{tap: tap, fromClient: false, deflate: true}
	var stream []byte
	for i, c := range comp {
		if i == 1 {
			// Fragment the second message into two frames.
			stream = append(stream, frame(false, true, traffic.OpText, c[:len(c)/2], false)...)
			stream = append(stream, frame(true, false, traffic.OpContinuation, c[len(c)/2:], false)...)
			continue
		}
		stream = append(stream, frame(true, true, traffic.OpText, c, false)...)
	}
	for len(stream) > 0 {
		n := min(len(stream), 7)
		fp.feed(stream[:n], 1)
		stream = stream[n:]
	}
	p.Close()
	recs := p.cfg.Sink.(*recordingSink).records
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		m := r.WSMessage
		if string(m.Payload) != msgs[i] || !m.Compressed || m.Size != int64(len(msgs[i])) {
			t.Errorf("message %d: %.30q (size %d, compressed %v)", i, m.Payload, m.Size, m.Compressed)
		}
	}
	if recs[1].WSMessage.Frames != 2 {
		t.Errorf("frames %d", recs[1].WSMessage.Frames)
	}
}
