package capture

import (
	"context"
	"fmt"
	"testing"

	"github.com/reprise/reprise/internal/traffic/traffictest"
)

func TestParallel(t *testing.T) {
	g := newConvo()
	const n = 200
	var conns []*tcpConn
	for i := 0; i < n; i++ {
		conns = append(conns, g.conn(uint16(20000+i), true))
	}
	for i, c := range conns {
		c.send(true, fmt.Sprintf("GET /c%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		c.send(false, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(i)), i))
		c.close()
	}
	sink := &traffictest.Sink{}
	pp := NewParallel(sink, Config{}, 3)
	ctx := context.Background()
	for _, p := range g.pkts {
		data := p.Data
		if err := pp.Packet(ctx, p); err != nil {
			t.Fatal(err)
		}
		clear(data) // Packet must have copied it
	}
	if err := pp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	xs := exchanges(sink.Records())
	ids := map[uint64]bool{}
	for _, x := range xs {
		if x.Response == nil || x.Request.URL != "/c"+string(x.Response.Body.Data) {
			t.Errorf("bad pairing: %s", brief(x))
		}
		if ids[x.ConnID] {
			t.Errorf("connection id %d used twice", x.ConnID)
		}
		ids[x.ConnID] = true
	}
	if len(xs) != n || pp.Stats().Connections != n || pp.Stats().Packets != int64(len(g.pkts)) {
		t.Errorf("got %d exchanges, stats %+v", len(xs), pp.Stats())
	}
	if !pp.Origin().Equal(g.pkts[0].Timestamp) {
		t.Errorf("origin %v, want the first packet's time", pp.Origin())
	}
}
