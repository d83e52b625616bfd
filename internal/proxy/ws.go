package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"

	"github.com/reprise/reprise/internal/traffic"
)

// maxCompressed bounds the compressed bytes of one permessage-deflate
// message kept for decoding.
const maxCompressed = 16 << 20

// deflateWindow is the largest LZ77 window permessage-deflate allows.
const deflateWindow = 32 << 10

// wsTap sits between ReverseProxy and the upstream connection of a
// switched (101) WebSocket response. ReverseProxy relays the bytes
// unchanged in both directions; the tap watches them pass and parses the
// frames into records. It never alters or delays what it relays.
type wsTap struct {
	x    *exchangeState
	conn io.ReadWriteCloser

	up   *frameParser // client to server: bytes written to the upstream
	down *frameParser // server to client: bytes read from the upstream

	mu        sync.Mutex
	closeSeen bool
	close     traffic.WSClose
	endErr    string
	endClient bool
	stopped   bool
	finished  bool
}

func (x *exchangeState) openWebSocket(res *http.Response, conn io.ReadWriteCloser) *wsTap {
	p := x.p
	now := p.clock()
	x.mu.Lock()
	ext := res.Header.Get("Sec-Websocket-Extensions")
	deflate := strings.Contains(strings.ToLower(ext), "permessage-deflate")
	t := &wsTap{x: x, conn: conn}
	t.up = &frameParser{tap: t, fromClient: true, deflate: deflate}
	t.down = &frameParser{tap: t, fromClient: false, deflate: deflate}
	x.ws = t
	ex := x.exchange(now)
	x.mu.Unlock()

	open := &traffic.WSOpen{
		Flow:        x.flow,
		ConnID:      x.conn.id,
		Start:       x.start,
		Upgrade:     ex,
		Subprotocol: res.Header.Get("Sec-Websocket-Protocol"),
		Extensions:  ext,
	}
	p.wsMu.Lock()
	p.ws[t] = struct{}{}
	p.wsMu.Unlock()
	p.wsConns.Add(1)
	p.rec.put(traffic.Record{Kind: traffic.KindWSOpen, WSOpen: open})
	return t
}

// Read reads server-to-client bytes from the upstream.
func (t *wsTap) Read(b []byte) (int, error) {
	n, err := t.conn.Read(b)
	if n > 0 {
		t.down.feed(b[:n], t.x.p.clock())
	}
	if err != nil {
		t.ended(false, err)
	}
	return n, err
}

// Write writes client-to-server bytes to the upstream.
func (t *wsTap) Write(b []byte) (int, error) {
	// Parse before passing on: the upstream's answer to these bytes must
	// not be seen first.
	t.up.feed(b, t.x.p.clock())
	n, err := t.conn.Write(b)
	if err != nil {
		t.ended(false, err)
	}
	return n, err
}

var errClientDone = errors.New("client closed its side")

// CloseWrite passes the client's end of stream on to the upstream.
func (t *wsTap) CloseWrite() error {
	t.ended(true, io.EOF)
	if cw, ok := t.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errClientDone
}

// Close ends the upstream connection and records the end of the
// WebSocket connection.
func (t *wsTap) Close() error {
	err := t.conn.Close()
	t.finish()
	return err
}

// shutdown ends the connection because the proxy is stopping.
func (t *wsTap) shutdown() {
	t.mu.Lock()
	if t.endErr == "" && !t.closeSeen {
		t.stopped = true
	}
	t.mu.Unlock()
	t.conn.Close()
	// ReverseProxy may be blocked reading the client: end that side too.
	if c := t.x.conn.conn; c != nil {
		c.Close()
	}
}

// ended notes the first end of stream or error seen on either side.
func (t *wsTap) ended(client bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.endErr != "" {
		return
	}
	t.endClient = client
	side := "server"
	if client {
		side = "client"
	}
	switch {
	case errors.Is(err, io.EOF):
		t.endErr = side + ": connection closed without a close frame"
	default:
		t.endErr = side + ": " + shortErr(err)
	}
}

// sawClose notes the first close frame.
func (t *wsTap) sawClose(c traffic.WSClose) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closeSeen {
		t.closeSeen = true
		t.close = c
	}
}

// finish writes the WSClose record once.
func (t *wsTap) finish() {
	p := t.x.p
	now := p.clock()
	t.mu.Lock()
	if t.finished {
		t.mu.Unlock()
		return
	}
	t.finished = true
	c := t.close
	if !t.closeSeen {
		c = traffic.WSClose{Start: now, FromClient: t.endClient, Code: traffic.CloseAbnormal, Error: t.endErr}
		if t.stopped {
			c.Error = "recording stopped: proxy shut down"
		}
		if c.Error == "" {
			c.Error = "connection ended without a close frame"
		}
	}
	t.mu.Unlock()
	for _, fp := range []*frameParser{t.up, t.down} {
		if e := fp.failure(); e != "" && c.Error == "" {
			c.Error = e
		}
	}
	c.Flow = t.x.flow
	c.ConnID = t.x.conn.id
	if c.Error != "" {
		p.errs.Add(1)
	}
	p.wsMu.Lock()
	delete(p.ws, t)
	p.wsMu.Unlock()
	p.rec.put(traffic.Record{Kind: traffic.KindWSClose, WSClose: &c})
}

// emit records a message.
func (t *wsTap) emit(m *traffic.WSMessage) {
	p := t.x.p
	m.Flow = t.x.flow
	m.ConnID = t.x.conn.id
	p.wsMsgs.Add(1)
	if m.FromClient {
		p.bytesIn.Add(max(m.Size, 0))
	} else {
		p.bytesOut.Add(max(m.Size, 0))
	}
	p.rec.put(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: m})
}

// frameParser parses one direction of a WebSocket stream (RFC 6455
// section 5) from the chunks it is fed, in whatever sizes they come.
// Fragments are folded into messages; control frames between fragments
// are messages of their own; permessage-deflate (RFC 7692) messages are
// decompressed with the direction's sliding window carried over.
type frameParser struct {
	tap        *wsTap
	fromClient bool
	deflate    bool

	hdr  [14]byte
	hn   int
	need int

	inPayload bool
	fin       bool
	rsv1      bool
	opcode    traffic.Opcode
	masked    bool
	key       [4]byte
	remaining uint64
	pos       uint64 // payload bytes of the frame seen so far (mask index)
	frameAt   time.Duration

	ctrl []byte

	msg *message

	hist   []byte // last deflateWindow bytes of decompressed output
	lost   bool   // history unknown (a message too large to decode)
	broken string // protocol error: parsing stopped
}

type message struct {
	opcode     traffic.Opcode
	start      time.Duration
	frames     int
	compressed bool
	data       []byte
	size       int64
	over       bool // data exceeded the kept bytes
}

func (f *frameParser) failure() string {
	if f.broken == "" {
		return ""
	}
	side := "server"
	if f.fromClient {
		side = "client"
	}
	return "malformed frame from " + side + ": " + f.broken
}

func (f *frameParser) fail(format string, args ...any) {
	f.broken = fmt.Sprintf(format, args...)
	f.tap.x.p.log.Warn("websocket stream not recorded further", "conn", f.tap.x.conn.id, "err", f.failure())
	f.msg = nil
	f.ctrl = nil
}

// feed parses the next bytes of the stream. b is never modified.
func (f *frameParser) feed(b []byte, now time.Duration) {
	for len(b) > 0 && f.broken == "" {
		if !f.inPayload {
			if f.hn == 0 {
				f.need = 2
				f.frameAt = now
			}
			k := copy(f.hdr[f.hn:f.need], b)
			f.hn += k
			b = b[k:]
			if f.hn < f.need {
				continue
			}
			if f.need == 2 {
				f.need = 2 + f.extra()
				if f.hn < f.need {
					continue
				}
			}
			f.header()
			continue
		}
		k := uint64(len(b))
		if k > f.remaining {
			k = f.remaining
		}
		f.payload(b[:k])
		b = b[k:]
		f.remaining -= k
		if f.remaining == 0 {
			f.frameDone()
		}
	}
}

// extra returns the header bytes after the first two.
func (f *frameParser) extra() int {
	n := 0
	switch f.hdr[1] & 0x7f {
	case 126:
		n = 2
	case 127:
		n = 8
	}
	if f.hdr[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func (f *frameParser) header() {
	h := f.hdr[:f.hn]
	f.hn = 0
	f.fin = h[0]&0x80 != 0
	f.rsv1 = h[0]&0x40 != 0
	f.opcode = traffic.Opcode(h[0] & 0x0f)
	f.masked = h[1]&0x80 != 0
	i := 2
	switch l := h[1] & 0x7f; l {
	case 126:
		f.remaining = uint64(binary.BigEndian.Uint16(h[2:4]))
		i = 4
	case 127:
		f.remaining = binary.BigEndian.Uint64(h[2:10])
		i = 10
		if f.remaining>>63 != 0 {
			f.fail("payload length has its top bit set")
			return
		}
	default:
		f.remaining = uint64(l)
	}
	if f.masked {
		copy(f.key[:], h[i:i+4])
	}
	f.pos = 0
	switch f.opcode {
	case traffic.OpContinuation:
		if f.msg == nil {
			f.fail("continuation frame without a message to continue")
			return
		}
	case traffic.OpText, traffic.OpBinary:
		if f.msg != nil {
			f.fail("new %s message before the previous one ended", f.opcode)
			return
		}
		f.msg = &message{opcode: f.opcode, start: f.frameAt, compressed: f.rsv1 && f.deflate}
	case traffic.OpClose, traffic.OpPing, traffic.OpPong:
		if !f.fin || f.remaining > 125 {
			f.fail("%s frame fragmented or longer than 125 bytes", f.opcode)
			return
		}
		f.ctrl = f.ctrl[:0]
	default:
		f.fail("reserved opcode %d", f.opcode)
		return
	}
	f.inPayload = true
	if f.remaining == 0 {
		f.frameDone()
	}
}

// payload takes the next payload bytes of the current frame.
func (f *frameParser) payload(b []byte) {
	start := f.pos
	f.pos += uint64(len(b))
	if f.opcode.IsControl() {
		f.ctrl = f.unmask(f.ctrl, b, start)
		return
	}
	m := f.msg
	m.size += int64(len(b))
	keep := int64(f.tap.x.p.cfg.MaxBody)
	if m.compressed {
		keep = maxCompressed
	}
	room := keep - int64(len(m.data))
	if room <= 0 {
		m.over = true
		return
	}
	if int64(len(b)) > room {
		b = b[:room]
		m.over = true
	}
	m.data = f.unmask(m.data, b, start)
}

func (f *frameParser) unmask(dst, b []byte, at uint64) []byte {
	n := len(dst)
	dst = append(dst, b...)
	if f.masked {
		for i := range b {
			dst[n+i] ^= f.key[(at+uint64(i))&3]
		}
	}
	return dst
}

func (f *frameParser) frameDone() {
	f.inPayload = false
	if f.opcode.IsControl() {
		f.control()
		return
	}
	m := f.msg
	m.frames++
	if !f.fin {
		return
	}
	f.msg = nil
	rec := &traffic.WSMessage{
		Start:      m.start,
		FromClient: f.fromClient,
		Opcode:     m.opcode,
		Compressed: m.compressed,
		Frames:     m.frames,
		Size:       m.size,
	}
	max := f.tap.x.p.cfg.MaxBody
	if m.compressed {
		payload, size, ok := f.inflate(m.data, m.over, max)
		rec.Payload, rec.Size = payload, size
		rec.Truncated = !ok || int64(len(payload)) < size
	} else {
		rec.Payload = m.data
		rec.Truncated = m.over
	}
	f.tap.emit(rec)
}

func (f *frameParser) control() {
	payload := append([]byte(nil), f.ctrl...)
	switch f.opcode {
	case traffic.OpClose:
		c := traffic.WSClose{Start: f.frameAt, FromClient: f.fromClient, Code: traffic.CloseNoStatus}
		switch {
		case len(payload) == 1:
			c.Error = "close frame with a 1-byte payload"
		case len(payload) >= 2:
			c.Code = int(binary.BigEndian.Uint16(payload))
			c.Reason = string(payload[2:])
			if !utf8.ValidString(c.Reason) {
				c.Error = "close reason is not UTF-8"
			}
		}
		f.tap.sawClose(c)
	case traffic.OpPing, traffic.OpPong:
		f.tap.emit(&traffic.WSMessage{
			Start: f.frameAt, FromClient: f.fromClient, Opcode: f.opcode,
			Payload: payload, Size: int64(len(payload)), Frames: 1,
		})
	}
}

// deflateTail ends a permessage-deflate message (RFC 7692 section 7.2.2)
// and adds an empty final stored block so the decoder stops cleanly.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflate decompresses one message, keeping at most max bytes of it. The
// direction's previous output serves as the dictionary: with context
// takeover the sender refers back into it; without, it never does, so the
// dictionary is harmless. ok is false when the message could not be
// decoded (it was too large to keep, or an earlier one was).
func (f *frameParser) inflate(comp []byte, over bool, max int64) (payload []byte, size int64, ok bool) {
	if over || f.lost {
		// Too large to decode: the window is unknown from here on.
		f.lost = true
		return nil, -1, false
	}
	src := io.MultiReader(bytes.NewReader(comp), bytes.NewReader(deflateTail))
	zr := flate.NewReaderDict(src, f.hist)
	defer zr.Close()
	hist := append([]byte(nil), f.hist...)
	buf := make([]byte, 32<<10)
	for {
		n, err := zr.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			size += int64(n)
			if room := max - int64(len(payload)); room > 0 {
				payload = append(payload, chunk[:min(int64(n), room)]...)
			}
			hist = append(hist, chunk...)
			if len(hist) > 2*deflateWindow {
				hist = append(hist[:0], hist[len(hist)-deflateWindow:]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.lost = true
			f.tap.x.p.log.Warn("websocket message not decompressed", "conn", f.tap.x.conn.id, "err", err)
			return payload, -1, false
		}
	}
	if len(hist) > deflateWindow {
		hist = hist[len(hist)-deflateWindow:]
	}
	f.hist = hist
	return payload, size, true
}
