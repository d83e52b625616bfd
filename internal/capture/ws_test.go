package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"

	"github.com/reprise/reprise/internal/traffic"
)

// wsFrame encodes one frame; masked frames use a fixed key.
func wsFrame(fin bool, rsv1 bool, op traffic.Opcode, masked bool, payload []byte) string {
	var b bytes.Buffer
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	b.WriteByte(b0)
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(m | byte(n))
	case n < 1<<16:
		b.WriteByte(m | 126)
		binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(m | 127)
		binary.Write(&b, binary.BigEndian, uint64(n))
	}
	if masked {
		key := []byte{0x11, 0x22, 0x33, 0x44}
		b.Write(key)
		for i, c := range payload {
			b.WriteByte(c ^ key[i%4])
		}
	} else {
		b.Write(payload)
	}
	return b.String()
}

// deflater compresses messages as permessage-deflate does: sync flush,
// tail stripped; takeover keeps the window across messages.
type deflater struct {
	w        *flate.Writer
	buf      bytes.Buffer
	takeover bool
}

func (d *deflater) compress(msg string) []byte {
	if d.w == nil || !d.takeover {
		d.buf.Reset()
		d.w, _ = flate.NewWriter(&d.buf, flate.BestCompression)
	}
	d.buf.Reset()
	d.w.Write([]byte(msg))
	d.w.Flush()
	out := bytes.TrimSuffix(d.buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	return append([]byte(nil), out...)
}

func wsUpgrade(c *tcpConn, extensions string) {
	c.send(true, "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	ext := ""
	if extensions != "" {
		ext = "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	c.send(false, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"+ext+"\r\n")
}

func briefWS(recs []traffic.Record) []string {
	var out []string
	for _, r := range recs {
		switch r.Kind {
		case traffic.KindWSOpen:
			out = append(out, fmt.Sprintf("open %s ext=%q", r.WSOpen.Upgrade.Request.URL, r.WSOpen.Extensions))
		case traffic.KindWSMessage:
			m := r.WSMessage
			dir := "s>c"
			if m.FromClient {
				dir = "c>s"
			}
			s := fmt.Sprintf("%s %s %q frames=%d", dir, m.Opcode, m.Payload, m.Frames)
			if m.Compressed {
				s += " deflate"
			}
			if m.Truncated {
				s += " truncated"
			}
			out = append(out, s)
		case traffic.KindWSClose:
			out = append(out, fmt.Sprintf("close client=%v code=%d reason=%q err=%q", r.WSClose.FromClient, r.WSClose.Code, r.WSClose.Reason, r.WSClose.Error))
		case traffic.KindExchange:
			out = append(out, "exchange "+brief(*r.Exchange))
		}
	}
	return out
}

func TestWebSocket(t *testing.T) {
	long := strings.Repeat("the quick brown fox jumps over the lazy dog ", 40)
	tests := []struct {
		name  string
		build func(c *tcpConn)
		want  []string
	}{
		{"masked text, ping, close", func(c *tcpConn) {
			wsUpgrade(c, "")
			c.send(true, wsFrame(true, false, traffic.OpText, true, []byte("hello")))
			c.send(false, wsFrame(true, false, traffic.OpText, false, []byte("world")))
			c.send(false, wsFrame(true, false, traffic.OpPing, false, []byte("p")))
			c.send(true, wsFrame(true, false, traffic.OpPong, true, []byte("p")))
			c.send(true, wsFrame(true, false, traffic.OpClose, true, append([]byte{0x03, 0xe8}, "bye"...)))
			c.send(false, wsFrame(true, false, traffic.OpClose, false, []byte{0x03, 0xe8}))
			c.close()
		}, []string{
			`open /chat ext=""`, `c>s text "hello" frames=1`, `s>c text "world" frames=1`,
			`s>c ping "p" frames=1`, `c>s pong "p" frames=1`, `close client=true code=1000 reason="bye" err=""`,
		}},
		{"fragments with a control frame between", func(c *tcpConn) {
			wsUpgrade(c, "")
			c.send(true, wsFrame(false, false, traffic.OpBinary, true, []byte("ab"))+
				wsFrame(true, false, traffic.OpPing, true, []byte("x"))+
				wsFrame(false, false, traffic.OpContinuation, true, []byte("cd"))+
				wsFrame(true, false, traffic.OpContinuation, true, []byte("ef")))
			c.close()
		}, []string{
			`open /chat ext=""`, `c>s ping "x" frames=1`, `c>s binary "abcdef" frames=3`,
			`close client=false code=1006 reason="" err="connection closed without a close frame"`,
		}},
		{"101 and first frame in one segment", func(c *tcpConn) {
			c.send(true, "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			c.send(false, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"+wsFrame(true, false, traffic.OpPing, false, nil))
		}, []string{
			`open /chat ext=""`, `s>c ping "" frames=1`,
			`close client=false code=1006 reason="" err="capture ended while the connection was open"`,
		}},
		{"permessage-deflate with context takeover", func(c *tcpConn) {
			wsUpgrade(c, "permessage-deflate; client_max_window_bits")
			sd := &deflater{takeover: true}
			cd := &deflater{takeover: true}
			c.send(false, wsFrame(true, true, traffic.OpText, false, sd.compress(long)))
			c.send(false, wsFrame(true, true, traffic.OpText, false, sd.compress(long))) // refers back to the first
			c.send(true, wsFrame(true, true, traffic.OpText, true, cd.compress("client says hi")))
			c.send(true, wsFrame(true, false, traffic.OpText, true, []byte("uncompressed")))
		}, []string{
			`open /chat ext="permessage-deflate; client_max_window_bits"`,
			fmt.Sprintf(`s>c text %q frames=1 deflate`, long), fmt.Sprintf(`s>c text %q frames=1 deflate`, long),
			`c>s text "client says hi" frames=1 deflate`, `c>s text "uncompressed" frames=1`,
			`close client=false code=1006 reason="" err="capture ended while the connection was open"`,
		}},
		{"permessage-deflate without context takeover, fragmented", func(c *tcpConn) {
			wsUpgrade(c, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
			sd := &deflater{}
			z := sd.compress(long)
			c.send(false, wsFrame(false, true, traffic.OpText, false, z[:10])+wsFrame(true, false, traffic.OpContinuation, false, z[10:]))
			c.send(false, wsFrame(true, true, traffic.OpText, false, sd.compress("second")))
		}, []string{
			`open /chat ext="permessage-deflate; server_no_context_takeover; client_no_context_takeover"`,
			fmt.Sprintf(`s>c text %q frames=2 deflate`, long), `s>c text "second" frames=1 deflate`,
			`close client=false code=1006 reason="" err="capture ended while the connection was open"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newConvo()
			c := g.conn(40000, true)
			tc.build(c)
			recs, _ := process(t, g.pkts, Config{})
			got := briefWS(recs)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestWebSocketMessageCap(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true)
	wsUpgrade(c, "")
	c.send(false, wsFrame(true, false, traffic.OpBinary, false, bytes.Repeat([]byte{7}, 5000)))
	recs, _ := process(t, g.pkts, Config{MaxMessageSize: 100})
	for _, r := range recs {
		if m := r.WSMessage; m != nil {
			if len(m.Payload) != 100 || m.Size != 5000 || !m.Truncated {
				t.Errorf("kept %d of %d, truncated %v; want 100 of 5000, truncated", len(m.Payload), m.Size, m.Truncated)
			}
			return
		}
	}
	t.Fatal("no message")
}

func TestWebSocketGap(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true)
	wsUpgrade(c, "")
	c.send(false, wsFrame(true, false, traffic.OpText, false, []byte("one")))
	lost := len(g.pkts)
	c.send(false, wsFrame(true, false, traffic.OpText, false, []byte("two")))
	c.send(false, wsFrame(true, false, traffic.OpText, false, []byte("three")))
	c.send(true, wsFrame(true, false, traffic.OpText, true, []byte("client")))
	c.close()
	pkts := append(g.pkts[:lost:lost], g.pkts[lost+1:]...)
	recs, st := process(t, pkts, Config{})
	got := briefWS(recs)
	want := []string{
		`open /chat ext=""`, `s>c text "one" frames=1`, `c>s text "client" frames=1`,
		`close client=false code=1006 reason="" err="connection closed without a close frame; server frames after a 5-byte capture gap not parsed"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if st.Gaps != 1 || st.JunkBytes == 0 {
		t.Errorf("gaps %d, junk %d: the hole and the unparsed frames must be counted", st.Gaps, st.JunkBytes)
	}
}
