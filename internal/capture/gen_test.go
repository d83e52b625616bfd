package capture

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// t0 is the capture start of generated conversations.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// convo generates the packets of TCP conversations between a client and a
// server, as Ethernet/IPv4 frames 1ms apart.
type convo struct {
	pkts []Packet
	now  time.Time
	mss  int
}

// tcpConn is one connection of a convo.
type tcpConn struct {
	g          *convo
	cli, srv   net.IP
	cport      uint16
	sport      uint16
	cseq, sseq uint32
}

func newConvo() *convo { return &convo{now: t0, mss: 1000} }

func (g *convo) conn(cport uint16, handshake bool) *tcpConn {
	c := &tcpConn{g: g, cli: net.IPv4(10, 0, 0, 1).To4(), srv: net.IPv4(10, 0, 0, 2).To4(), cport: cport, sport: 80, cseq: 1000, sseq: 5000}
	if handshake {
		c.packet(true, &layers.TCP{SYN: true}, nil)
		c.cseq++
		c.packet(false, &layers.TCP{SYN: true, ACK: true}, nil)
		c.sseq++
		c.packet(true, &layers.TCP{ACK: true}, nil)
	}
	return c
}

// packet appends one segment at the current sequence numbers.
func (c *tcpConn) packet(fromClient bool, t *layers.TCP, payload []byte) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c.srv, DstIP: c.cli}
	t.SrcPort, t.DstPort = layers.TCPPort(c.sport), layers.TCPPort(c.cport)
	t.Seq, t.Ack = c.sseq, c.cseq
	if fromClient {
		ip.SrcIP, ip.DstIP = c.cli, c.srv
		t.SrcPort, t.DstPort = layers.TCPPort(c.cport), layers.TCPPort(c.sport)
		t.Seq, t.Ack = c.cseq, c.sseq
	}
	if t.SYN && !t.ACK {
		t.Ack = 0
	} else {
		t.ACK = true
	}
	t.Window = 65535
	if err := t.SetNetworkLayerForChecksum(ip); err != nil {
		panic(err)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, t, gopacket.Payload(payload)); err != nil {
		panic(err)
	}
	data := append([]byte(nil), buf.Bytes()...)
	c.g.now = c.g.now.Add(time.Millisecond)
	c.g.pkts = append(c.g.pkts, Packet{Data: data, Timestamp: c.g.now, Length: len(data), LinkType: LinkEthernet})
}

// send sends data in MSS-sized segments.
func (c *tcpConn) send(fromClient bool, data string) {
	b := []byte(data)
	for len(b) > 0 {
		n := min(len(b), c.g.mss)
		c.packet(fromClient, &layers.TCP{PSH: n == len(b)}, b[:n])
		if fromClient {
			c.cseq += uint32(n)
		} else {
			c.sseq += uint32(n)
		}
		b = b[n:]
	}
}

func (c *tcpConn) close() {
	c.packet(true, &layers.TCP{FIN: true}, nil)
	c.cseq++
	c.packet(false, &layers.TCP{FIN: true}, nil)
	c.sseq++
	c.packet(true, &layers.TCP{}, nil)
}

// process runs packets through a Processor and returns the records.
func process(t testing.TB, pkts []Packet, cfg Config) ([]traffic.Record, Stats) {
	t.Helper()
	sink := &traffictest.Sink{}
	p := NewProcessor(sink, cfg)
	ctx := context.Background()
	for _, pkt := range pkts {
		if err := p.Packet(ctx, pkt); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return sink.Records(), p.Stats()
}

// writePcap writes packets as a pcap file.
func writePcap(t testing.TB, pkts []Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: p.Length}
		if err := w.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func exchanges(recs []traffic.Record) []traffic.Exchange {
	var out []traffic.Exchange
	for _, r := range recs {
		if r.Kind == traffic.KindExchange {
			out = append(out, *r.Exchange)
		}
	}
	return out
}
