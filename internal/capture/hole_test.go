package capture

import (
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// A hole that one connection's receiver acknowledged (the bytes will
// never be captured) is that connection's business: another connection
// whose segments merely arrive out of order keeps waiting for them and
// imports whole.
func TestAckedHoleStaysOnItsConnection(t *testing.T) {
	g := newConvo()
	g.mss = 40
	b := g.conn(41000, true)
	a := g.conn(41001, true)
	// B's request in two segments; the second is captured first.
	nb := len(g.pkts)
	b.send(true, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n"+strings.Repeat("b", 20))
	bsegs := append([]Packet(nil), g.pkts[nb:]...)
	g.pkts = g.pkts[:nb]
	// A's request loses its first segment, which the server acknowledges.
	na := len(g.pkts)
	a.send(true, "GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("a", 40)+"\r\n\r\n")
	g.pkts = append(g.pkts[:na], g.pkts[na+1:]...)
	late := bsegs[:len(bsegs)-1]
	g.pkts = append(append([]Packet{}, g.pkts[:na]...), append([]Packet{bsegs[len(bsegs)-1]}, g.pkts[na:]...)...)
	a.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
	g.pkts = append(g.pkts, late...) // B's first segments, 10 ms later
	for i := range late {
		g.pkts[len(g.pkts)-len(late)+i].Timestamp = g.now.Add(10 * time.Millisecond)
	}
	b.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
	recs, _ := process(t, g.pkts, Config{GapTimeout: time.Hour})
	var got *traffic.Exchange
	for _, x := range exchanges(recs) {
		if x.Request.URL == "/b" {
			x := x
			got = &x
		}
	}
	if got == nil || string(got.Request.Body.Data) != strings.Repeat("b", 20) || got.Has(traffic.FlagIncomplete) {
		t.Fatalf("connection B's request was cut by A's hole: %+v", exchanges(recs))
	}
}
