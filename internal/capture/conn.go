package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"
	"golang.org/x/net/http/httpguts"

	"github.com/reprise/reprise/internal/traffic"
)

// Stream modes of one direction.
const (
	modeHTTP   = iota
	modePaused // request asked to switch protocols: wait for the response
	modeWS
	modeRaw // switched to another protocol: bytes counted, not parsed
)

// conn is one TCP connection: a reassembly.Stream that parses both
// directions and pairs requests with responses.
type conn struct {
	p    *Processor
	id   uint64
	keys [2]connKey

	// a and b are the endpoints of the first packet seen (a sent it).
	a, b       string
	aIP, bIP   string
	aPort      uint16
	bPort      uint16
	roleKnown  bool
	firstIsCli bool // the first packet's sender is the client
	client     string
	server     string
	clientIP   string
	flow       string
	flowSet    bool

	half [2]*half // [0] client->server, [1] server->client

	pending []*message // requests waiting for their responses
	orphans []*message // responses parsed before any request to pair with

	ws     *wsConn
	sawEnd bool // FIN or RST seen
	gaps   int
	done   bool
}

func newConn(p *Processor, id uint64, netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP) *conn {
	c := &conn{p: p, id: id}
	src, dst := net.IP(netFlow.Src().Raw()), net.IP(netFlow.Dst().Raw())
	c.aIP, c.bIP = src.String(), dst.String()
	c.aPort, c.bPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
	c.a = net.JoinHostPort(c.aIP, strconv.Itoa(int(c.aPort)))
	c.b = net.JoinHostPort(c.bIP, strconv.Itoa(int(c.bPort)))
	c.half[0] = &half{c: c, fromClient: true}
	c.half[1] = &half{c: c}
	if tcp.SYN {
		c.setRole(!tcp.ACK)
	}
	return c
}

// setRole fixes which endpoint is the client.
func (c *conn) setRole(firstIsClient bool) {
	c.roleKnown = true
	c.firstIsCli = firstIsClient
	if firstIsClient {
		c.client, c.server, c.clientIP = c.a, c.b, c.aIP
	} else {
		c.client, c.server, c.clientIP = c.b, c.a, c.bIP
	}
	c.flow = c.clientIP
}

// guessRole decides the client for a connection whose handshake was not
// captured, from the first payload the sender (first packet's sender when
// fromFirst) put on the wire.
func (c *conn) guessRole(fromFirst bool, payload []byte) {
	senderIsClient := false
	switch {
	case looksLikeResponse(payload):
		senderIsClient = false
	case looksLikeRequest(payload):
		senderIsClient = true
	default:
		sport, dport := c.aPort, c.bPort
		if !fromFirst {
			sport, dport = dport, sport
		}
		switch {
		case c.isServerPort(sport):
			senderIsClient = false
		case c.isServerPort(dport):
			senderIsClient = true
		default:
			senderIsClient = sport > dport
		}
	}
	c.setRole(senderIsClient == fromFirst)
}

func (c *conn) isServerPort(port uint16) bool {
	for _, p := range c.p.cfg.ServerPorts {
		if p == port {
			return true
		}
	}
	return false
}

// halfFor maps a reassembly direction to client or server half.
func (c *conn) halfFor(dir reassembly.TCPFlowDirection) *half {
	fromFirst := dir == reassembly.TCPDirClientToServer
	if fromFirst == c.firstIsCli {
		return c.half[0]
	}
	return c.half[1]
}

// Accept implements reassembly.Stream: every packet is taken, and a
// connection whose SYN was not captured starts at its first packet.
func (c *conn) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if tcp.FIN || tcp.RST {
		c.sawEnd = true
	}
	if !c.roleKnown {
		if tcp.SYN {
			c.setRole((dir == reassembly.TCPDirClientToServer) == !tcp.ACK)
		} else if len(tcp.Payload) > 0 {
			c.guessRole(dir == reassembly.TCPDirClientToServer, tcp.Payload)
		}
	}
	if c.roleKnown {
		c.watchHoles(tcp, c.halfFor(dir))
	}
	if nextSeq == -1 {
		if !tcp.SYN {
			*start = true
		}
		if c.roleKnown || tcp.SYN || len(tcp.Payload) > 0 {
			h := c.halfFor(dir)
			if !c.roleKnown {
				// Role still unknown (empty segment): remember the base on
				// the reassembly direction and move it when the role is set.
				h = c.half[0]
				if dir != reassembly.TCPDirClientToServer {
					h = c.half[1]
				}
			}
			if !h.baseSet {
				h.baseSet = true
				h.base = tcp.Seq
				if tcp.SYN {
					h.base++
				}
				if !tcp.SYN {
					h.midStream = true
				}
			}
		}
	}
	if c.roleKnown && len(tcp.Payload) > 0 {
		if pc, ok := ac.(*pktContext); ok {
			if h := c.halfFor(dir); h.baseSet {
				h.addSeg(tcp.Seq, len(tcp.Payload), pc)
			}
		}
	}
	return true
}

// watchHoles notices data queued behind a hole (a segment beyond the next
// expected byte) and an acknowledgement from the other side that covers
// the hole: the receiver has those bytes, so they will never be captured
// and waiting for them is pointless. The processor then skips the hole at
// once instead of after the gap timeout.
func (c *conn) watchHoles(tcp *layers.TCP, h *half) {
	if h.baseSet && len(tcp.Payload) > 0 {
		ahead := int64(int32(tcp.Seq - (h.base + uint32(h.off))))
		if ahead > 0 {
			h.holePending = true
		}
		h.maxEnd = max(h.maxEnd, h.off+ahead+int64(len(tcp.Payload)))
	}
	other := c.half[0]
	if h == c.half[0] {
		other = c.half[1]
	}
	if tcp.ACK && other.holePending && other.baseSet && int32(tcp.Ack-(other.base+uint32(other.off))) > 0 {
		other.holePending = false
		c.p.holeAcked = true
	}
}

// ReassembledSG implements reassembly.Stream.
func (c *conn) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, _, end, skip := sg.Info()
	if !c.roleKnown {
		// Only empty segments so far and now data: decide on the data.
		n, _ := sg.Lengths()
		c.guessRole(dir == reassembly.TCPDirClientToServer, sg.Fetch(min(n, 64)))
	}
	h := c.halfFor(dir)
	if skip != 0 {
		h.gap(skip)
	}
	if n, _ := sg.Lengths(); n > 0 {
		h.feed(sg.Fetch(n), sg)
	}
	if end {
		h.eof()
	}
}

// ReassemblyComplete implements reassembly.Stream: the connection is over
// (FIN/RST on both sides, idle timeout, or end of capture).
func (c *conn) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	delete(c.p.live, c.keys[0])
	delete(c.p.live, c.keys[1])
	c.finish()
	return true
}

func (c *conn) finish() {
	if c.done {
		return
	}
	c.done = true
	for _, h := range c.half {
		h.eof()
	}
	if c.ws != nil {
		c.ws.end(c)
	}
	reason := "connection closed before the response"
	if !c.sawEnd {
		reason = "capture ended before the response"
	}
	for _, q := range c.pending {
		x := c.exchange(q, nil)
		x.Flags |= traffic.FlagNoResponse
		if !c.sawEnd || c.gaps > 0 || q.incomplete {
			x.Flags |= traffic.FlagIncomplete
		}
		x.Notes = note(x.Notes, "capture", reason)
		c.write(x)
	}
	c.pending = nil
	for _, r := range c.orphans {
		c.writeAlone(nil, r, traffic.FlagIncomplete, "response without a parsed request")
	}
	c.orphans = nil
}

// writeAlone writes a request without its response or a response
// without its request, with flags and a note saying why.
func (c *conn) writeAlone(q, r *message, flags uint32, why string) {
	x := c.exchange(q, r)
	x.Flags |= flags
	x.Notes = note(x.Notes, "capture", why)
	c.write(x)
}

func note(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	if old, ok := m[k]; ok && old != v {
		v = old + "; " + v
	}
	m[k] = v
	return m
}

// identity returns the flow key of a connection: the client IP, plus a
// short hash of the credentials of its first request when it has some.
func identity(ip string, req *message) string {
	if req == nil {
		return ip
	}
	cred := req.header.Get("Authorization")
	kind := "auth"
	if cred == "" {
		cred = req.header.Get("Cookie")
		kind = "cookie"
	}
	if cred == "" {
		return ip
	}
	sum := sha256.Sum256([]byte(cred))
	return ip + "#" + kind + ":" + hex.EncodeToString(sum[:4])
}

// requestDone is called by the client half when a request is complete.
func (c *conn) requestDone(q *message) {
	if !c.flowSet {
		// The first request decides the connection's flow key.
		c.flowSet = true
		c.flow = identity(c.clientIP, q)
	}
	for len(c.orphans) > 0 && c.orphans[0].first.Before(q.first) {
		// A response that started before this request cannot answer it.
		r := c.orphans[0]
		c.orphans = c.orphans[1:]
		c.writeAlone(nil, r, traffic.FlagIncomplete, "response without a parsed request")
	}
	if len(c.orphans) > 0 {
		r := c.orphans[0]
		c.orphans = c.orphans[1:]
		c.pair(q, r)
		return
	}
	c.pending = append(c.pending, q)
	if len(c.pending) > c.p.cfg.MaxPending {
		old := c.pending[0]
		c.pending = c.pending[1:]
		c.writeAlone(old, nil, traffic.FlagNoResponse|traffic.FlagIncomplete, "too many requests waiting for responses")
	}
}

// responseMethod is the method of the request the next response answers
// (for HEAD and CONNECT framing); "" when unknown.
func (c *conn) responseMethod() string {
	if len(c.pending) > 0 {
		return c.pending[0].method
	}
	return ""
}

// responseDone is called by the server half for each final response.
func (c *conn) responseDone(r *message) {
	if r.afterGap {
		c.dropAnswered(r)
	}
	if len(c.pending) == 0 {
		// No request to answer yet: the request is still being sent (an
		// early response), held back by reassembly, or was not HTTP.
		// Pair it when a request completes, or write it alone at the end.
		c.orphans = append(c.orphans, r)
		if len(c.orphans) > c.p.cfg.MaxPending {
			old := c.orphans[0]
			c.orphans = c.orphans[1:]
			c.writeAlone(nil, old, traffic.FlagIncomplete, "response without a parsed request")
		}
		return
	}
	q := c.pending[0]
	c.pending = c.pending[1:]
	c.pair(q, r)
}

// dropAnswered handles the first response after a hole in the server's
// stream: requests whose responses fell into the hole are written without
// a response, so the rest stay paired. A request is taken to be answered
// inside the hole when a later request was sent after the client had
// received bytes of the hole (its ACK passed the hole's start) and before
// it had received this response (its ACK is not past the response start).
func (c *conn) dropAnswered(r *message) {
	s := c.half[1]
	if !s.baseSet || len(c.pending) < 2 {
		return
	}
	holeStart := s.base + uint32(r.gapStart)
	respStart := s.base + uint32(r.off)
	j := -1
	for i, q := range c.pending {
		if !q.hasAck {
			continue
		}
		if int32(q.ack-holeStart) > 0 && int32(q.ack-respStart) <= 0 {
			j = i
		}
	}
	for i := 0; i < j; i++ {
		c.writeAlone(c.pending[i], nil, traffic.FlagNoResponse|traffic.FlagIncomplete, "response lost in a capture gap")
	}
	if j > 0 {
		c.pending = c.pending[j:]
	}
}

func (c *conn) pair(q, r *message) {
	x := c.exchange(q, r)
	if r.status == 101 {
		c.switchProtocols(q, r, x)
		return
	}
	if strings.EqualFold(q.method, "CONNECT") && r.status >= 200 && r.status < 300 {
		x.Flags |= traffic.FlagUpgrade
		x.Notes = note(x.Notes, "capture", "CONNECT tunnel: bytes after the response not recorded")
		c.toRaw()
		c.write(x)
		return
	}
	if q.upgrade {
		// The server refused to switch: go on with HTTP.
		c.half[0].resume()
	}
	c.write(x)
}

func (c *conn) switchProtocols(q, r *message, x *traffic.Exchange) {
	if q != nil && isWebSocketUpgrade(q, r) {
		c.p.count(func(s *Stats) { s.WSConns++ })
		c.ws = newWSConn(c, q, r)
		open := &traffic.WSOpen{
			Flow: c.flow, ConnID: c.id, Start: x.Start, Upgrade: *x,
			Subprotocol: r.header.Get("Sec-WebSocket-Protocol"),
			Extensions:  strings.Join(r.header.Values("Sec-WebSocket-Extensions"), ", "),
		}
		c.p.emit(traffic.Record{Kind: traffic.KindWSOpen, WSOpen: open})
		c.half[1].startWS()
		c.half[0].startWS()
		return
	}
	x.Flags |= traffic.FlagUpgrade
	x.Notes = note(x.Notes, "capture", "switched to "+r.header.Get("Upgrade")+": bytes after the response not recorded")
	c.toRaw()
	c.write(x)
}

func (c *conn) toRaw() {
	c.half[0].toRaw()
	c.half[1].toRaw()
}

func isWebSocketUpgrade(q, r *message) bool {
	return headerHasToken(r.header, "Upgrade", "websocket") || (r.header.Get("Upgrade") == "" && headerHasToken(q.header, "Upgrade", "websocket"))
}

func headerHasToken(h traffic.Fields, name, token string) bool {
	return httpguts.HeaderValuesContainsToken(h.Values(name), token)
}

// exchange builds the record for a request and its response (either may
// be nil).
func (c *conn) exchange(q, r *message) *traffic.Exchange {
	x := &traffic.Exchange{Flow: c.flow, ConnID: c.id, Client: c.client, Server: c.server}
	if q == nil && r != nil {
		x.Flow = c.clientIP
	}
	if q != nil {
		x.Start = c.p.offset(q.first)
		x.Request = traffic.Request{
			Method: q.method, URL: q.target, Host: q.header.Get("Host"), Scheme: "http",
			Proto: q.proto, Header: q.header,
			Body: traffic.Body{Data: q.body, Size: q.size, Truncated: q.truncated},
		}
		if q.incomplete {
			x.Flags |= traffic.FlagIncomplete
			x.Notes = note(x.Notes, "capture", "request: "+q.why)
		}
	}
	if r != nil {
		if q == nil {
			x.Start = c.p.offset(r.first)
		}
		x.Response = &traffic.Response{
			Status: r.status, Reason: r.reason, Proto: r.proto, Header: r.header,
			Body:    traffic.Body{Data: r.body, Size: r.size, Truncated: r.truncated},
			Interim: r.interim,
		}
		if r.incomplete {
			x.Flags |= traffic.FlagIncomplete
			x.Notes = note(x.Notes, "capture", "response: "+r.why)
		}
	}
	// Bodies keep their content coding; say which, so a reader need not
	// dig in the headers to know the bytes are not plain.
	var codings []string
	if q != nil {
		if ce := q.header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
			codings = append(codings, "request="+ce)
		}
	}
	if r != nil {
		if ce := r.header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
			codings = append(codings, "response="+ce)
		}
	}
	if len(codings) > 0 {
		x.Notes = note(x.Notes, "content-encoding", strings.Join(codings, " "))
	}
	if q != nil && r != nil {
		x.Timing = timing(q, r)
	} else if q != nil {
		x.Timing.Send = nonNeg(q.last.Sub(q.first))
	}
	return x
}

func timing(q, r *message) traffic.Timing {
	return traffic.Timing{
		Send:    nonNeg(q.last.Sub(q.first)),
		Wait:    nonNeg(r.first.Sub(q.last)),
		Receive: nonNeg(r.last.Sub(r.first)),
		Total:   nonNeg(r.last.Sub(q.first)),
	}
}

func nonNeg(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

func (c *conn) write(x *traffic.Exchange) {
	c.p.count(func(s *Stats) {
		s.Exchanges++
		if x.Has(traffic.FlagIncomplete) {
			s.Incomplete++
		}
		if x.Has(traffic.FlagNoResponse) {
			s.NoResponse++
		}
		if x.Has(traffic.FlagUpgrade) {
			s.Upgrades++
		}
	})
	c.p.emit(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
}

// half is one direction of a connection.
type half struct {
	c          *conn
	fromClient bool
	mode       int

	http httpParser
	ws   *wsParser

	// carry holds bytes not yet consumed (an unfinished header block or
	// frame header); carryCI is the capture of its first byte.
	carry   []byte
	carryCI gopacket.CaptureInfo
	// paused holds client bytes sent after an upgrade request, until the
	// response says what they are.
	paused []byte

	off       int64 // stream offset of the next byte after carry
	base      uint32
	baseSet   bool
	midStream bool
	ended     bool
	// holePending: data arrived beyond the next expected byte
	holePending bool
	// maxEnd is the stream offset after the highest byte captured
	maxEnd int64

	// per-feed: the scatter-gather being parsed, the carry length and the
	// stream offset of the parse buffer's first byte
	sg       reassembly.ScatterGather
	carryLen int
	parseOff int64
	segs     []segment
}

// at returns the capture info of position pos of the buffer being parsed.
func (h *half) at(pos int) gopacket.CaptureInfo {
	if pc := h.segAt(h.parseOff + int64(pos)); pc != nil {
		return pc.ci
	}
	if pos < h.carryLen || h.sg == nil {
		return h.carryCI
	}
	return h.sg.CaptureInfo(pos - h.carryLen)
}

// segment is where a captured packet's payload sits in the stream.
type segment struct {
	off, end int64 // stream offsets [off, end)
	pkt      *pktContext
}

// addSeg records the stream range a packet's payload covers, so the
// capture time of any byte is found without walking the reassembler's
// pages (which costs a scan per lookup). Bytes already covered keep the
// packet that brought them first, as the reassembler keeps their data.
func (h *half) addSeg(seq uint32, n int, pc *pktContext) {
	if h.mode == modeRaw || h.ended {
		return
	}
	next := h.base + uint32(h.off) // sequence number of stream offset h.off
	off := h.off + int64(int32(seq-next))
	end := off + int64(n)
	if end <= h.off-int64(len(h.carry)) {
		return // retransmission of data already parsed
	}
	i := len(h.segs)
	for i > 0 && h.segs[i-1].off > off {
		i--
	}
	if i > 0 && h.segs[i-1].end > off {
		off = h.segs[i-1].end
	}
	if i < len(h.segs) && h.segs[i].off < end {
		end = h.segs[i].off
	}
	if off >= end {
		return
	}
	if len(h.segs) >= 1<<16 {
		return // bounded: lookups fall back to the reassembler's pages
	}
	h.segs = append(h.segs, segment{})
	copy(h.segs[i+1:], h.segs[i:])
	h.segs[i] = segment{off: off, end: end, pkt: pc}
}

// segAt returns the packet that carried stream offset o, or nil.
func (h *half) segAt(o int64) *pktContext {
	segs := h.segs
	lo, hi := 0, len(segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if segs[m].end <= o {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(segs) && segs[lo].off <= o {
		return segs[lo].pkt
	}
	return nil
}

// pruneSegs forgets the packets of bytes already consumed.
func (h *half) pruneSegs() {
	keep := h.off - int64(len(h.carry))
	i := 0
	for i < len(h.segs) && h.segs[i].end <= keep {
		i++
	}
	if i == 0 {
		return
	}
	n := copy(h.segs, h.segs[i:])
	clear(h.segs[n:])
	h.segs = h.segs[:n]
}

// feed parses reassembled bytes.
func (h *half) feed(data []byte, sg reassembly.ScatterGather) {
	if h.ended {
		return
	}
	if h.mode == modeRaw {
		h.off += int64(len(data))
		return
	}
	if h.mode == modePaused {
		if len(h.paused)+len(data) > h.c.p.cfg.MaxHeaderSize+h.c.p.cfg.MaxMessageSize {
			// Cannot hold more: give up on this direction.
			h.c.p.count(func(s *Stats) { s.JunkBytes += int64(len(data)) })
			h.off += int64(len(data))
			return
		}
		if len(h.paused) == 0 && sg != nil {
			h.carryCI = sg.CaptureInfo(0)
		}
		h.paused = append(h.paused, data...)
		h.off += int64(len(data))
		return
	}
	buf := data
	h.carryLen = len(h.carry)
	if h.carryLen > 0 {
		buf = append(h.carry, data...)
	}
	h.sg = sg
	bufOff := h.off - int64(h.carryLen)
	h.parseOff = bufOff
	n := h.parse(buf, bufOff, false)
	h.off += int64(len(data))
	h.keep(buf, n)
	h.sg = nil
	h.pruneSegs()
}

// keep stores buf[n:] as the carry for the next feed.
func (h *half) keep(buf []byte, n int) {
	rest := buf[n:]
	if len(rest) == 0 {
		h.carry = h.carry[:0]
		return
	}
	ci := h.at(n)
	// Copy: buf may be the reassembler's memory.
	c := make([]byte, len(rest), max(len(rest), 512))
	copy(c, rest)
	h.carry = c
	h.carryCI = ci
}

// parse runs the parser of the current mode over buf (whose first byte is
// at stream offset bufOff) and returns the bytes consumed.
func (h *half) parse(buf []byte, bufOff int64, eof bool) int {
	pos := 0
	for pos < len(buf) {
		switch h.mode {
		case modeHTTP:
			n := h.http.parse(h, buf[pos:], pos, bufOff+int64(pos), eof)
			pos += n
			if n == 0 && h.mode == modeHTTP {
				return pos
			}
		case modeWS:
			n := h.ws.parse(h, buf[pos:], pos)
			pos += n
			if n == 0 {
				return pos
			}
		case modePaused:
			h.paused = append(h.paused, buf[pos:]...)
			if len(h.paused) == len(buf[pos:]) {
				h.carryCI = h.at(pos)
			}
			return len(buf)
		default: // raw
			return len(buf)
		}
	}
	return pos
}

// gap records n missing bytes (n < 0: unknown amount) before the next data.
func (h *half) gap(n int) {
	h.c.gaps++
	h.c.p.count(func(s *Stats) {
		s.Gaps++
		if n > 0 {
			s.GapBytes += int64(n)
		}
	})
	gapStart := h.off
	if n > 0 {
		h.off += int64(n)
	}
	// Whatever was carried is cut off from what follows.
	switch h.mode {
	case modeHTTP:
		h.http.gap(h, n, h.carry, gapStart)
	case modeWS:
		h.ws.gap(h, n)
	case modePaused:
		h.paused = nil
		h.mode = modeRaw
	}
	h.carry = h.carry[:0]
	h.pruneSegs()
}

// eof ends the direction: a close-delimited body ends here, anything else
// unfinished is incomplete.
func (h *half) eof() {
	if h.ended {
		return
	}
	if h.mode == modeHTTP {
		h.carryLen = len(h.carry)
		h.parseOff = h.off - int64(len(h.carry))
		n := h.parse(h.carry, h.parseOff, true)
		h.carry = h.carry[n:]
		h.http.end(h)
	}
	if h.mode == modeWS {
		h.ws.end(h)
	}
	h.ended = true
}

// resume goes back to HTTP after a refused upgrade, parsing what was held.
func (h *half) resume() {
	if h.mode != modePaused {
		return
	}
	h.mode = modeHTTP
	held := h.paused
	h.paused = nil
	h.reparse(held)
}

func (h *half) reparse(held []byte) {
	if len(held) == 0 {
		return
	}
	h.carry = nil
	h.carryLen = len(held)
	h.parseOff = h.off - int64(len(held))
	n := h.parse(held, h.parseOff, false)
	h.keep(held, n)
}

// startWS switches the direction to WebSocket frames.
func (h *half) startWS() {
	h.ws = &wsParser{c: h.c.ws, fromClient: h.fromClient}
	if h.mode == modePaused {
		h.mode = modeWS
		held := h.paused
		h.paused = nil
		h.reparse(held)
		return
	}
	h.mode = modeWS
}

func (h *half) toRaw() {
	if h.mode == modePaused {
		h.paused = nil
	}
	h.mode = modeRaw
}
