package capture

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/klauspost/compress/gzip"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// streamConn returns a connection fed directly, without reassembly.
func streamConn(cfg Config) (*conn, *traffictest.Sink, *Processor) {
	sink := &traffictest.Sink{}
	p := NewProcessor(sink, cfg)
	nf := gopacket.NewFlow(layers.EndpointIPv4, net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4())
	tf := gopacket.NewFlow(layers.EndpointTCPPort, []byte{0x9c, 0x40}, []byte{0, 80})
	c := newConn(p, 1, nf, tf, &layers.TCP{SYN: true, SrcPort: 40000, DstPort: 80})
	for _, h := range c.half {
		h.baseSet = true
	}
	return c, sink, p
}

// feedSplit feeds data to h in pieces whose sizes come from cuts.
func feedSplit(h *half, data []byte, cuts []byte, ts time.Time) {
	i := 0
	for len(data) > 0 {
		n := len(data)
		if len(cuts) > 0 {
			n = int(cuts[i%len(cuts)])%64 + 1
			i++
		}
		n = min(n, len(data))
		h.carryCI = gopacket.CaptureInfo{Timestamp: ts}
		h.feed(data[:n], nil)
		data = data[n:]
	}
}

func checkRecords(t *testing.T, recs []traffic.Record, cfg Config) {
	for _, r := range recs {
		switch r.Kind {
		case traffic.KindExchange:
			x := r.Exchange
			for _, b := range []traffic.Body{x.Request.Body, bodyOf(x.Response)} {
				if len(b.Data) > cfg.MaxBodySize || b.Size < int64(len(b.Data)) {
					t.Fatalf("body keeps %d bytes of size %d (cap %d)", len(b.Data), b.Size, cfg.MaxBodySize)
				}
			}
			if x.Response == nil && !x.Has(traffic.FlagNoResponse) {
				t.Fatalf("exchange without response or FlagNoResponse: %+v", x)
			}
		case traffic.KindWSMessage:
			m := r.WSMessage
			if len(m.Payload) > cfg.MaxMessageSize || m.Frames < 1 {
				t.Fatalf("message keeps %d bytes (cap %d), %d frames", len(m.Payload), cfg.MaxMessageSize, m.Frames)
			}
		}
	}
}

func bodyOf(r *traffic.Response) traffic.Body {
	if r == nil {
		return traffic.Body{}
	}
	return r.Body
}

// FuzzHTTPStream feeds arbitrary client and server streams, cut at
// arbitrary points and with a hole, to the HTTP parser: it must not
// panic, must keep its limits, and every request it reports must carry a
// response or FlagNoResponse.
func FuzzHTTPStream(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), []byte{3, 7}, uint16(0))
	f.Add([]byte("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"), []byte{1}, uint16(5))
	f.Add([]byte("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85\x01\x02\x03\x04iaoht"), []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x89\x00"), []byte{}, uint16(0))
	f.Add([]byte("OPTIONS\nHost: x\n\n\xc3\x83 / HTTP/1.\n\n"), []byte("HTTP/1.0 400 Bad Request\n\nbody until close"), []byte{200}, uint16(3))
	f.Fuzz(func(t *testing.T, client, server, cuts []byte, hole uint16) {
		cfg := Config{MaxBodySize: 64, MaxHeaderSize: 512, MaxMessageSize: 64}.withDefaults()
		c, sink, p := streamConn(cfg)
		ts := time.Unix(1700000000, 0)
		feedSplit(c.half[0], client, cuts, ts)
		if hole > 0 {
			c.half[1].gap(int(hole % 300))
		}
		feedSplit(c.half[1], server, cuts, ts.Add(time.Millisecond))
		c.finish()
		if err := p.drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkRecords(t, sink.Records(), cfg)
	})
}

// FuzzWebSocketStream feeds arbitrary bytes as WebSocket frames of both
// directions, with permessage-deflate negotiated: no panic, limits kept,
// and the frames the hook sees add up to what was parsed.
func FuzzWebSocketStream(f *testing.F) {
	f.Add([]byte(wsFrame(true, false, traffic.OpText, true, []byte("hi"))), []byte(wsFrame(false, false, traffic.OpBinary, false, []byte("a"))+wsFrame(true, false, traffic.OpPing, false, nil)+wsFrame(true, false, traffic.OpContinuation, false, []byte("b"))), []byte{2}, false)
	d := &deflater{takeover: true}
	f.Add([]byte(wsFrame(true, true, traffic.OpText, true, d.compress("compressed hello"))), []byte(wsFrame(true, true, traffic.OpText, false, []byte{0xff, 0x00, 0x12})), []byte{}, true)
	f.Add([]byte(wsFrame(true, false, traffic.OpClose, true, []byte{3, 232, 'o', 'k'})), []byte("\x88\x7e\xff\xff"), []byte{1, 1, 1}, false)
	f.Fuzz(func(t *testing.T, client, server, cuts []byte, takeover bool) {
		cfg := Config{MaxBodySize: 64, MaxMessageSize: 64}.withDefaults()
		frames := 0
		cfg.OnFrame = func(Frame) { frames++ }
		c, sink, p := streamConn(cfg)
		c.ws = &wsConn{deflate: true, noTakeover: [2]bool{!takeover, !takeover}}
		c.half[0].startWS()
		c.half[1].startWS()
		ts := time.Unix(1700000000, 0)
		feedSplit(c.half[0], client, cuts, ts)
		feedSplit(c.half[1], server, cuts, ts)
		c.finish()
		if err := p.drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		recs := sink.Records()
		checkRecords(t, recs, cfg)
		if st := p.Stats(); int(st.WSFrames) != frames {
			t.Fatalf("hook saw %d frames, stats count %d", frames, st.WSFrames)
		}
	})
}

// FuzzCaptureFile reads arbitrary bytes as a capture file and processes
// what it yields: errors are fine, a panic or a hang is not.
func FuzzCaptureFile(f *testing.F) {
	f.Add(writePcap(f, simpleConvo().pkts))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(writePcap(f, simpleConvo().pkts))
	zw.Close()
	f.Add(gz.Bytes())
	// a request carried in IPv4 fragments, the last one first
	g := newConvo()
	g.mss = 3000
	c := g.conn(40000, true)
	c.send(true, "POST / HTTP/1.1\r\nContent-Length: 2900\r\n\r\n"+strings.Repeat("x", 2900))
	frags := fragmentV4(g.pkts[len(g.pkts)-1], 1480, 9)
	g.pkts = append(g.pkts[:len(g.pkts)-1], frags[len(frags)-1])
	g.pkts = append(g.pkts, frags[:len(frags)-1]...)
	f.Add(writePcap(f, g.pkts))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1c, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pr, err := NewFileReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		p := NewProcessor(&traffictest.Sink{}, Config{Defragment: true})
		_ = ReadPackets(context.Background(), p, pr)
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// discard is a Sink that keeps nothing (benchmarks).
type discard struct{}

func (discard) Write(context.Context, traffic.Record) error { return nil }
func (discard) Close() error                                { return nil }
