package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"

	"github.com/reprise/reprise/internal/traffic"
)

// Config sets the limits and hooks of a Processor. The zero value works:
// every zero field takes the default named in its comment.
type Config struct {
	// ServerPorts, when set, name the server side of connections whose
	// handshake was not captured (mid-stream starts). Without them the
	// first bytes decide (a request line or a status line) and then the
	// lower port.
	ServerPorts []uint16
	// MaxBodySize caps the bytes kept of each request and response body
	// (default 1 MiB); Body.Size still counts the whole body.
	MaxBodySize int
	// MaxHeaderSize caps a start line plus header block (default 64 KiB).
	// A larger one is treated as garbage and the stream resynchronised.
	MaxHeaderSize int
	// MaxMessageSize caps the bytes kept of a WebSocket message (default
	// 1 MiB); WSMessage.Size still counts the whole message.
	MaxMessageSize int
	// MaxPending caps the requests of one connection waiting for their
	// responses (pipelining; default 1024). Past it the oldest is written
	// without a response.
	MaxPending int
	// MaxPagesPerConn caps the out-of-order data buffered for one
	// connection, in reassembly pages of 1900 bytes (default 4096, about
	// 7.4 MiB). When it is reached the oldest gap is skipped.
	MaxPagesPerConn int
	// MaxPagesTotal caps out-of-order data buffered for all connections
	// (default 65536 pages, about 119 MiB).
	MaxPagesTotal int
	// GapTimeout is how long, in capture time, reassembly waits for a
	// missing segment before it skips it and marks what it cut incomplete
	// (default 1s).
	GapTimeout time.Duration
	// IdleTimeout closes connections silent for this long, in capture
	// time (default 2m). Their open exchanges are written incomplete.
	IdleTimeout time.Duration
	// Origin is the clock origin of the records' Start offsets. Zero means
	// the timestamp of the first packet.
	Origin time.Time
	// OnFrame, when set, is called for every WebSocket frame parsed, in
	// capture order per direction (debugging and tests).
	OnFrame func(Frame)
	// Defragment reassembles IPv4 and IPv6 fragments (up to 1024
	// datagrams waiting, 30 s of capture time each). Without it fragments
	// are counted and skipped. A Processor fed one capture in order (pcap
	// import) can; Parallel's workers, which see only some fragments of a
	// datagram, cannot.
	Defragment bool
}

func (c Config) withDefaults() Config {
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = 1 << 20
	}
	if c.MaxHeaderSize <= 0 {
		c.MaxHeaderSize = 64 << 10
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1024
	}
	if c.MaxPagesPerConn <= 0 {
		c.MaxPagesPerConn = 4096
	}
	if c.MaxPagesTotal <= 0 {
		c.MaxPagesTotal = 65536
	}
	if c.GapTimeout <= 0 {
		c.GapTimeout = time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	return c
}

// Frame describes one WebSocket frame as it was on the wire, before
// fragments are folded into messages. It is what Config.OnFrame receives.
type Frame struct {
	ConnID     uint64
	FromClient bool
	// Time is when the frame's first byte was captured.
	Time   time.Time
	Fin    bool
	RSV1   bool
	Opcode traffic.Opcode
	Masked bool
	// Length is the payload length from the frame header.
	Length int64
}

// Stats counts what a Processor has seen. Packets that are not TCP over
// IPv4/IPv6 are counted and skipped.
type Stats struct {
	Packets     int64 // packets given to the processor
	Bytes       int64 // their captured bytes
	TCP         int64 // TCP segments passed to reassembly
	NotTCP      int64 // IP packets of other protocols
	NotIP       int64 // frames that carry no IP (ARP, LLDP, ...)
	Fragments   int64 // IP fragments seen
	Reassembled int64 // IP datagrams reassembled from fragments (Config.Defragment)
	FragsLost   int64 // fragments of datagrams that never became whole (or were not reassembled)
	Malformed   int64 // frames too short or malformed for their headers
	CutPackets  int64 // packets cut by the capture's snap length
	Connections int64 // TCP connections seen (streams)
	Exchanges   int64 // HTTP exchanges written
	Incomplete  int64 // of which marked traffic.FlagIncomplete
	NoResponse  int64 // of which with no response seen
	Upgrades    int64 // of which switched to a non-WebSocket protocol
	WSConns     int64 // WebSocket connections opened
	WSMessages  int64 // WebSocket messages written
	WSFrames    int64 // WebSocket frames parsed
	Gaps        int64 // holes in TCP streams (lost or never captured data)
	GapBytes    int64 // bytes known to be missing in those holes
	JunkBytes   int64 // stream bytes that were neither HTTP nor WebSocket
	InflateErrs int64 // permessage-deflate messages that failed to decode
}

// Processor turns captured packets into traffic records: it decodes link,
// IP and TCP headers, reassembles TCP streams with gopacket's reassembly,
// parses HTTP/1.x and WebSocket on them and writes exchanges and WebSocket
// records to a traffic.Sink.
//
// A Processor is used by one goroutine; Stats and Origin may be called
// from others.
type Processor struct {
	cfg  Config
	sink traffic.Sink
	dec  decoder
	asm  *reassembly.Assembler

	mu     sync.Mutex
	stats  Stats
	origin time.Time

	nextConnID uint64
	connIDStep uint64 // 0 means 1
	// live holds the keys (both directions) of the connections the
	// reassembler tracks, so empty segments of connections already over
	// (the last ACK after FIN) do not open new ones.
	live      map[connKey]*conn
	out       []traffic.Record
	slab      []pktContext
	holeAcked bool
	lastFlush time.Time
	lastTS    time.Time
	err       error
}

// NewProcessor returns a Processor that writes to sink.
func NewProcessor(sink traffic.Sink, cfg Config) *Processor {
	p := &Processor{cfg: cfg.withDefaults(), sink: sink, origin: cfg.Origin, live: map[connKey]*conn{}}
	if cfg.Defragment {
		p.dec.defrag = newDefragmenter()
	}
	pool := reassembly.NewStreamPool(&factory{p: p})
	p.asm = reassembly.NewAssembler(pool)
	p.asm.MaxBufferedPagesPerConnection = p.cfg.MaxPagesPerConn
	p.asm.MaxBufferedPagesTotal = p.cfg.MaxPagesTotal
	return p
}

// Origin returns the clock origin of the records' Start offsets: the
// configured one, or the first packet's timestamp (zero before any).
func (p *Processor) Origin() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.origin
}

// Stats returns a snapshot of the counters.
func (p *Processor) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func (p *Processor) count(f func(s *Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// pktContext carries per-packet metadata through reassembly: the capture
// info and the TCP acknowledgement number, which pairs responses with
// requests after a gap.
type pktContext struct {
	ci     gopacket.CaptureInfo
	ack    uint32
	hasAck bool
	anc    [1]interface{}
}

func (c *pktContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func metaOf(ci gopacket.CaptureInfo) (ack uint32, hasAck bool) {
	if len(ci.AncillaryData) == 1 {
		if pc, ok := ci.AncillaryData[0].(*pktContext); ok {
			return pc.ack, pc.hasAck
		}
	}
	return 0, false
}

// Packet processes one captured frame. It returns an error only when the
// sink fails; undecodable packets are counted in Stats.
func (p *Processor) Packet(ctx context.Context, pkt Packet) error {
	if p.err != nil {
		return p.err
	}
	ts := pkt.Timestamp
	if p.origin.IsZero() && !ts.IsZero() {
		p.mu.Lock() // Origin reads it from other goroutines
		p.origin = ts
		p.mu.Unlock()
	}
	if ts.IsZero() {
		// pcapng simple packets carry no time: keep the last one seen.
		ts = p.lastTS
	}
	if ts.After(p.lastTS) {
		p.lastTS = ts
	}
	p.dec.ts = ts
	err := p.dec.decode(pkt.LinkType, pkt.Data)
	// One critical section per packet for its counters.
	p.mu.Lock()
	st := &p.stats
	st.Packets++
	st.Bytes += int64(len(pkt.Data))
	if p.dec.fragment {
		st.Fragments++
		if df := p.dec.defrag; df != nil {
			st.Reassembled, st.FragsLost = df.Reassembled, df.Lost
		}
	}
	switch {
	case err == nil:
		st.TCP++
		if p.dec.cut || pkt.Length > len(pkt.Data) {
			st.CutPackets++
		}
	case errors.Is(err, errFragmentHeld):
	case errors.Is(err, errNotTCP):
		st.NotTCP++
	case errors.Is(err, errNotIP), errors.Is(err, errLinkType):
		st.NotIP++
	case errors.Is(err, errFragment):
		st.FragsLost++
	case pkt.Length > len(pkt.Data):
		st.CutPackets++
	default:
		st.Malformed++
	}
	p.mu.Unlock()
	if err != nil {
		return nil
	}
	tcp := &p.dec.tcp
	if len(tcp.Payload) == 0 && !tcp.SYN {
		if _, ok := p.live[connKey{p.dec.flow, tcp.TransportFlow()}]; !ok {
			// A bare ACK, FIN or RST of a connection we do not track.
			return nil
		}
	}
	if len(p.slab) == 0 {
		// Contexts are allocated in slabs: one allocation per 256 packets.
		p.slab = make([]pktContext, 256)
	}
	pc := &p.slab[0]
	p.slab = p.slab[1:]
	*pc = pktContext{ci: gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(pkt.Data), Length: pkt.Length}, ack: p.dec.tcp.Ack, hasAck: p.dec.tcp.ACK}
	pc.anc[0] = pc
	pc.ci.AncillaryData = pc.anc[:]
	p.asm.AssembleWithContext(p.dec.flow, &p.dec.tcp, pc)
	if p.holeAcked {
		// A hole the receiver acknowledged: skip it now (see watchHoles).
		// The assembler can only skip the holes of every connection at
		// once, so this waits (for the gap timeout) while another
		// connection still expects data that may come.
		p.holeAcked = false
		if !p.otherHoleWaiting() {
			p.asm.FlushWithOptions(reassembly.FlushOptions{T: ts.Add(time.Nanosecond)})
		}
	}
	if p.lastFlush.IsZero() {
		p.lastFlush = ts
	}
	if ts.Sub(p.lastFlush) >= p.cfg.GapTimeout/4 {
		p.lastFlush = ts
		p.asm.FlushWithOptions(reassembly.FlushOptions{T: ts.Add(-p.cfg.GapTimeout), TC: ts.Add(-p.cfg.IdleTimeout)})
	}
	return p.drain(ctx)
}

// otherHoleWaiting reports whether a live connection has data queued
// behind a hole that its receiver has not acknowledged (so the missing
// segments may still be captured).
func (p *Processor) otherHoleWaiting() bool {
	for _, c := range p.live {
		for _, h := range c.half {
			if h.holePending && h.off < h.maxEnd {
				return true
			}
		}
	}
	return false
}

// Tick lets time pass without packets (live capture on a quiet link):
// gaps older than the gap timeout are skipped and idle connections closed,
// as if a packet had been captured at now.
func (p *Processor) Tick(ctx context.Context, now time.Time) error {
	if p.err != nil {
		return p.err
	}
	if p.lastTS.IsZero() {
		return nil
	}
	p.lastFlush = now
	p.asm.FlushWithOptions(reassembly.FlushOptions{T: now.Add(-p.cfg.GapTimeout), TC: now.Add(-p.cfg.IdleTimeout)})
	return p.drain(ctx)
}

// Close ends every open connection (their unfinished exchanges are
// written incomplete) and writes what is left. It does not close the sink.
func (p *Processor) Close(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	if df := p.dec.defrag; df != nil {
		df.close()
		p.count(func(s *Stats) { s.Reassembled, s.FragsLost = df.Reassembled, df.Lost })
	}
	p.asm.FlushAll()
	return p.drain(ctx)
}

func (p *Processor) emit(r traffic.Record) {
	p.out = append(p.out, r)
}

func (p *Processor) drain(ctx context.Context) error {
	for i, r := range p.out {
		if err := p.sink.Write(ctx, r); err != nil {
			p.err = fmt.Errorf("write record: %w", err)
			clear(p.out)
			p.out = p.out[:0]
			return p.err
		}
		p.out[i] = traffic.Record{}
	}
	p.out = p.out[:0]
	return nil
}

// offset converts a capture timestamp to a Start offset.
func (p *Processor) offset(t time.Time) time.Duration {
	p.mu.Lock()
	o := p.origin
	p.mu.Unlock()
	if t.IsZero() || o.IsZero() {
		return 0
	}
	return t.Sub(o)
}

// connKey identifies one direction of a TCP connection.
type connKey struct{ net, tcp gopacket.Flow }

type factory struct{ p *Processor }

func (f *factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	f.p.nextConnID += max(f.p.connIDStep, 1)
	f.p.count(func(s *Stats) { s.Connections++ })
	c := newConn(f.p, f.p.nextConnID, netFlow, tcpFlow, tcp)
	c.keys = [2]connKey{{netFlow, tcpFlow}, {netFlow.Reverse(), tcpFlow.Reverse()}}
	f.p.live[c.keys[0]] = c
	f.p.live[c.keys[1]] = c
	return c
}
