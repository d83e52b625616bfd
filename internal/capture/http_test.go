package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// brief renders an exchange for comparison in tests.
func brief(x traffic.Exchange) string {
	s := x.Request.Method + " " + x.Request.URL
	if x.Request.Body.Size > 0 && x.Request.Body.Size <= 32 {
		s += fmt.Sprintf(" req=%q", x.Request.Body.Data)
	}
	if x.Response != nil {
		s += fmt.Sprintf(" -> %d", x.Response.Status)
		if len(x.Response.Interim) > 0 {
			s += fmt.Sprintf(" interim=%v", x.Response.Interim)
		}
		if x.Response.Body.Size > 0 || len(x.Response.Body.Data) > 0 {
			s += fmt.Sprintf(" body=%q", x.Response.Body.Data)
		}
	}
	var flags []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{traffic.FlagIncomplete, "incomplete"}, {traffic.FlagNoResponse, "noresponse"}, {traffic.FlagUpgrade, "upgrade"}} {
		if x.Has(f.bit) {
			flags = append(flags, f.name)
		}
	}
	if len(flags) > 0 {
		s += " [" + strings.Join(flags, ",") + "]"
	}
	return s
}

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestHTTPStreams(t *testing.T) {
	gz := gzipped("compressed body")
	tests := []struct {
		name  string
		build func(g *convo)
		want  []string
	}{
		{"keep-alive", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
			c.send(true, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
			c.close()
		}, []string{`GET /a -> 200 body="hi"`, `GET /b -> 404`}},
		{"pipelining", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n3")
			c.close()
		}, []string{`GET /1 -> 200 body="1"`, `GET /2 -> 200 body="2"`, `GET /3 -> 201 body="3"`}},
		{"chunked both ways with trailers", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
			c.close()
		}, []string{`POST /up req="abcde" -> 200 body="hello world"`}},
		{"HEAD 204 304 have no body", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nDELETE /d HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
			c.send(false, "HTTP/1.1 204 No Content\r\n\r\n")
			c.send(false, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.close()
		}, []string{`HEAD /h -> 200`, `DELETE /d -> 204`, `GET /c -> 304`, `GET /n -> 200 body="ok"`}},
		{"100-continue", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
			c.send(false, "HTTP/1.1 100 Continue\r\n\r\n")
			c.send(true, "data")
			c.send(false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
			c.close()
		}, []string{`PUT /f req="data" -> 201 interim=[100]`}},
		{"close-delimited response", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /old HTTP/1.0\r\n\r\n")
			c.send(false, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
			c.close()
		}, []string{`GET /old -> 200 body="until the end"`}},
		{"content-encoding kept raw", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /z HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(gz), gz))
			c.close()
		}, []string{fmt.Sprintf(`GET /z -> 200 body=%q`, gz)}},
		{"LF line endings and a bare method", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "OPTIONS\nHost: x\n\nGET / HTTP/1.1\nHost: x\n\n")
			c.send(false, "HTTP/1.0 400 Bad Request\nContent-Length: 3\n\nbadHTTP/1.0 200 OK\nContent-Length: 2\n\nok")
			c.close()
		}, []string{`OPTIONS  -> 400 body="bad"`, `GET / -> 200 body="ok"`}},
		{"garbage request answered", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "\xc3\x83\xc3 / HTTP/1.1\r\n\r\n")
			c.send(false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			c.close()
		}, []string{`  -> 400 [incomplete]`}},
		{"no response before close", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /lost HTTP/1.1\r\nHost: x\r\n\r\n")
			c.close()
		}, []string{`GET /lost [noresponse]`}},
		{"capture ends mid-response", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
		}, []string{`GET /big -> 200 body="01234" [incomplete]`}},
		{"non-websocket upgrade", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nGET /not-http HTTP/1.1\r\n\r\n")
			c.send(false, "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nHTTP/1.1 200 raw bytes\r\n\r\n")
			c.close()
		}, []string{`POST /exec -> 101 [upgrade]`}},
		{"refused upgrade resumes HTTP", func(g *convo) {
			c := g.conn(40000, true)
			c.send(true, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			c.send(false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			c.send(true, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			c.close()
		}, []string{`GET /ws -> 400`, `GET /next -> 200`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newConvo()
			tc.build(g)
			recs, _ := process(t, g.pkts, Config{})
			var got []string
			for _, x := range exchanges(recs) {
				got = append(got, brief(x))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if tc.name == "content-encoding kept raw" {
				if n := exchanges(recs)[0].Notes["content-encoding"]; n != "response=gzip" {
					t.Errorf("content-encoding note %q, want response=gzip", n)
				}
			}
		})
	}
}

// TestReassembly perturbs the packets of one conversation the way real
// networks do and checks the exchanges survive, or are flagged.
func TestReassembly(t *testing.T) {
	body := strings.Repeat("0123456789", 350) // 3500 bytes: 4 segments
	build := func() *convo {
		g := newConvo()
		c := g.conn(40000, true)
		c.send(true, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3500\r\n\r\n")
		c.send(true, body)
		c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.send(true, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
		c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!")
		c.close()
		return g
	}
	// packets 0-2 handshake, 3 request headers, 4-7 body segments
	clean := []string{`POST /p -> 200 body="ok"`, `GET /after -> 200 body="!"`}
	tests := []struct {
		name    string
		perturb func([]Packet) []Packet
		want    []string
		check   func(t *testing.T, xs []traffic.Exchange)
	}{
		{"in order", func(p []Packet) []Packet { return p }, clean, nil},
		{"out of order", func(p []Packet) []Packet {
			p[5], p[6] = p[6], p[5]
			p[4], p[7] = p[7], p[4]
			return p
		}, clean, nil},
		{"retransmissions", func(p []Packet) []Packet {
			out := append([]Packet{}, p[:6]...)
			out = append(out, p[4], p[5], p[3])
			return append(out, p[6:]...)
		}, clean, nil},
		{"overlapping segment", func(p []Packet) []Packet {
			// A segment covering the second and third body segments.
			g := newConvo()
			c := g.conn(40000, true)
			c.cseq = 1001 + uint32(len("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3500\r\n\r\n")) + 1000
			c.g.mss = 2000
			c.send(true, body[1000:3000])
			out := append([]Packet{}, p[:5]...)
			out = append(out, g.pkts[len(g.pkts)-1])
			return append(out, p[5:]...)
		}, clean, nil},
		{"lost body segment", func(p []Packet) []Packet {
			return append(p[:5:5], p[6:]...)
		}, []string{`POST /p -> 200 body="ok" [incomplete]`, `GET /after -> 200 body="!"`}, func(t *testing.T, xs []traffic.Exchange) {
			b := xs[0].Request.Body
			if b.Size != 3500 || len(b.Data) != 2500 || !b.Truncated {
				t.Errorf("request body with a hole: size %d, kept %d, truncated %v; want 3500, 2500, true", b.Size, len(b.Data), b.Truncated)
			}
			if !strings.Contains(xs[0].Notes["capture"], "1000 bytes missing") {
				t.Errorf("note %q does not say what is missing", xs[0].Notes["capture"])
			}
		}},
		{"mid-stream start", func(p []Packet) []Packet {
			return p[8:] // no handshake, no first request
		}, []string{`  -> 200 body="ok" [incomplete]`, `GET /after -> 200 body="!"`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build()
			pkts := tc.perturb(g.pkts)
			recs, _ := process(t, pkts, Config{})
			xs := exchanges(recs)
			var got []string
			for _, x := range xs {
				got = append(got, brief(x))
			}
			want := tc.want
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if xs[0].Request.Method == "POST" && !xs[0].Has(traffic.FlagIncomplete) && string(xs[0].Request.Body.Data) != body {
				t.Errorf("request body reassembled wrong: %d bytes", len(xs[0].Request.Body.Data))
			}
			if tc.check != nil {
				tc.check(t, xs)
			}
		})
	}
}

func TestTimingAndFlow(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true) // packets at 1, 2, 3 ms
	g.mss = 10
	c.send(true, "GET /t HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n") // 5 segments: 4..8 ms
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")           // 4 segments: 9..12 ms
	c.close()
	recs, _ := process(t, g.pkts, Config{})
	xs := exchanges(recs)
	if len(xs) != 1 {
		t.Fatalf("got %d exchanges", len(xs))
	}
	x := xs[0]
	ms := time.Millisecond
	want := traffic.Timing{Send: 4 * ms, Wait: 1 * ms, Receive: 3 * ms, Total: 8 * ms}
	if x.Timing != want {
		t.Errorf("timing %+v, want %+v", x.Timing, want)
	}
	if x.Start != 3*ms {
		t.Errorf("start %v, want 3ms after the first packet", x.Start)
	}
	if !strings.HasPrefix(x.Flow, "10.0.0.1#auth:") || strings.Contains(x.Flow, "secret") {
		t.Errorf("flow %q: want the client IP and a hash of the credentials", x.Flow)
	}
	if x.Client != "10.0.0.1:40000" || x.Server != "10.0.0.2:80" {
		t.Errorf("addresses %s -> %s", x.Client, x.Server)
	}

	// The first request decides: a later one with other credentials does
	// not move the connection to another flow.
	g = newConvo()
	c = g.conn(40001, true)
	c.send(true, "GET /login HTTP/1.1\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	c.send(true, "GET /me HTTP/1.1\r\nCookie: s=1\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	recs, _ = process(t, g.pkts, Config{})
	if n := len(exchanges(recs)); n != 2 {
		t.Fatalf("%d exchanges, want 2", n)
	}
	for _, x := range exchanges(recs) {
		if x.Flow != "10.0.0.1" {
			t.Errorf("%s: flow %q, want the client IP of the first request", x.Request.URL, x.Flow)
		}
	}
}

func TestManyConnections(t *testing.T) {
	g := newConvo()
	const n = 300
	var conns []*tcpConn
	for i := 0; i < n; i++ {
		conns = append(conns, g.conn(uint16(20000+i), true))
	}
	for i, c := range conns {
		c.send(true, fmt.Sprintf("GET /c%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
	}
	for i := n - 1; i >= 0; i-- {
		conns[i].send(false, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(fmt.Sprint(i)), fmt.Sprint(i)))
	}
	recs, st := process(t, g.pkts, Config{})
	xs := exchanges(recs)
	if len(xs) != n || st.Connections != n {
		t.Fatalf("got %d exchanges on %d connections, want %d", len(xs), st.Connections, n)
	}
	for _, x := range xs {
		if want := "/c" + string(x.Response.Body.Data); x.Request.URL != want {
			t.Errorf("%s paired with response %q", x.Request.URL, x.Response.Body.Data)
		}
	}
}

func TestMemoryLimits(t *testing.T) {
	// A hole early in a long response: with a small per-connection limit
	// the reassembler gives up waiting instead of buffering everything.
	g := newConvo()
	c := g.conn(40000, true)
	c.send(true, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
	c.send(false, strings.Repeat("x", 100000))
	pkts := append(g.pkts[:5:5], g.pkts[6:]...) // lose the first body segment
	recs, st := process(t, pkts, Config{MaxPagesPerConn: 8, MaxBodySize: 1000})
	xs := exchanges(recs)
	if len(xs) != 1 || !xs[0].Has(traffic.FlagIncomplete) {
		t.Fatalf("got %v", xs)
	}
	if st.Gaps == 0 {
		t.Errorf("no gap counted")
	}
	b := xs[0].Response.Body
	if len(b.Data) != 1000 || !b.Truncated || b.Size != 100000 {
		t.Errorf("body kept %d of size %d truncated %v; want 1000 of 100000, truncated", len(b.Data), b.Size, b.Truncated)
	}
}

// TestLostResponsePairing loses the only segment of the first response:
// the later responses must still pair with their own requests (found from
// the ACK numbers), and the first request is kept without a response.
func TestLostResponsePairing(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true)
	var lost int
	for i := 1; i <= 3; i++ {
		c.send(true, fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		if i == 1 {
			lost = len(g.pkts)
		}
		c.send(false, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", i))
	}
	c.close()
	pkts := append(g.pkts[:lost:lost], g.pkts[lost+1:]...)
	recs, _ := process(t, pkts, Config{})
	var got []string
	for _, x := range exchanges(recs) {
		got = append(got, brief(x))
	}
	want := []string{`GET /1 [incomplete,noresponse]`, `GET /2 -> 200 body="2"`, `GET /3 -> 200 body="3"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestAckedHoleSkippedAtOnce loses a request segment that the server
// acknowledges: the requests queued behind the hole are parsed at once,
// not after the gap timeout.
func TestAckedHoleSkippedAtOnce(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true)
	c.send(true, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
	lost := len(g.pkts) - 1
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
	c.send(true, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2") // acks past the hole
	c.send(true, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3")
	pkts := append(g.pkts[:lost:lost], g.pkts[lost+1:]...)
	sink := &traffictest.Sink{}
	p := NewProcessor(sink, Config{GapTimeout: time.Hour})
	for _, pkt := range pkts {
		if err := p.Packet(context.Background(), pkt); err != nil {
			t.Fatal(err)
		}
	}
	// No Close: everything must be out already, bar nothing.
	var got []string
	for _, x := range exchanges(sink.Records()) {
		got = append(got, brief(x))
	}
	want := []string{`  -> 200 body="1" [incomplete]`, `GET /2 -> 200 body="2"`, `GET /3 -> 200 body="3"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
