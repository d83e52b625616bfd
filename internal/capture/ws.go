package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/reprise/reprise/internal/traffic"
)

// maxControlPayload is the longest payload RFC 6455 allows a control frame.
const maxControlPayload = 125

// maxInflate bounds the output of one permessage-deflate message, so a
// small frame cannot expand without limit.
const maxInflate = 256 << 20

// wsConn is the WebSocket state shared by both directions.
type wsConn struct {
	deflate bool
	// noTakeover[fromClient] tells that the sender resets its compression
	// context after each message.
	noTakeover [2]bool
	closed     bool
	// lost says why frames could not be parsed any more (a capture gap).
	lost string
}

func newWSConn(c *conn, q, r *message) *wsConn {
	w := &wsConn{}
	for _, ext := range r.header.Values("Sec-WebSocket-Extensions") {
		for _, e := range strings.Split(ext, ",") {
			params := strings.Split(e, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
				continue
			}
			w.deflate = true
			for _, prm := range params[1:] {
				name, _, _ := strings.Cut(strings.TrimSpace(prm), "=")
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "server_no_context_takeover":
					w.noTakeover[0] = true
				case "client_no_context_takeover":
					w.noTakeover[1] = true
				}
			}
		}
	}
	return w
}

func idx(fromClient bool) int {
	if fromClient {
		return 1
	}
	return 0
}

// end closes the connection's WebSocket side: a connection that ended
// without a close frame gets a WSClose with code 1006.
func (w *wsConn) end(c *conn) {
	if w.closed {
		return
	}
	w.closed = true
	why := "connection closed without a close frame"
	if !c.sawEnd {
		why = "capture ended while the connection was open"
	}
	if w.lost != "" {
		why += "; " + w.lost
	}
	var last time.Time
	for _, h := range c.half {
		if h.ws != nil && h.ws.lastTS.After(last) {
			last = h.ws.lastTS
		}
	}
	c.p.emit(traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{
		Flow: c.flow, ConnID: c.id, Start: c.p.offset(last), Code: traffic.CloseAbnormal, Error: why,
	}})
}

// wsParser parses the frames of one direction.
type wsParser struct {
	c          *wsConn
	fromClient bool

	// frame being parsed
	inPayload bool
	fin, rsv1 bool
	opcode    traffic.Opcode
	masked    bool
	mask      [4]byte
	maskPos   int
	left      int64
	frameTS   time.Time
	ctrl      []byte
	ctrlSize  int64 // payload bytes of the control frame, kept or not

	// data message being assembled from fragments
	msg      *traffic.WSMessage
	msgBuf   []byte
	msgRaw   bool // payload kept compressed, inflated at the end
	lastTS   time.Time
	dead     bool
	inflater io.ReadCloser
	window   []byte // last 32 KiB of inflated output (context takeover)
}

// parse consumes frames from b (at position pos of the half's buffer).
func (w *wsParser) parse(h *half, b []byte, pos int) int {
	if w.dead {
		h.c.p.count(func(s *Stats) { s.JunkBytes += int64(len(b)) })
		return len(b)
	}
	n := 0
	for n < len(b) {
		if !w.inPayload {
			hl, ok := w.header(b[n:])
			if !ok {
				if hl < 0 {
					w.fail(h, "malformed frame header")
					return len(b)
				}
				return n // need more bytes
			}
			w.frameTS = h.at(pos + n).Timestamp
			w.lastTS = w.frameTS
			n += hl
			w.frameStart(h)
			if w.left == 0 {
				w.frameEnd(h)
			}
			continue
		}
		take := int64(len(b) - n)
		if take > w.left {
			take = w.left
		}
		w.payload(h, b[n:n+int(take)])
		n += int(take)
		w.left -= take
		w.lastTS = h.at(pos + n - 1).Timestamp
		if w.left == 0 {
			w.frameEnd(h)
		}
	}
	return n
}

// header parses a frame header at the start of b. It returns its length
// and ok, or ok=false with n=0 when b is too short, n<0 when malformed.
func (w *wsParser) header(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	fin := b[0]&0x80 != 0
	rsv1 := b[0]&0x40 != 0
	op := traffic.Opcode(b[0] & 0x0f)
	masked := b[1]&0x80 != 0
	l := int64(b[1] & 0x7f)
	n := 2
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, false
		}
		l = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return 0, false
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v > 1<<62 {
			return -1, false
		}
		l = int64(v)
		n = 10
	}
	if masked {
		if len(b) < n+4 {
			return 0, false
		}
		copy(w.mask[:], b[n:n+4])
		n += 4
	}
	switch op {
	case traffic.OpContinuation, traffic.OpText, traffic.OpBinary:
	case traffic.OpClose, traffic.OpPing, traffic.OpPong:
		if !fin || l > 125 {
			return -1, false
		}
	default:
		return -1, false
	}
	w.fin, w.rsv1, w.opcode, w.masked, w.left = fin, rsv1, op, masked, l
	w.maskPos = 0
	w.inPayload = true
	return n, true
}

func (w *wsParser) frameStart(h *half) {
	p := h.c.p
	p.count(func(s *Stats) { s.WSFrames++ })
	if p.cfg.OnFrame != nil {
		p.cfg.OnFrame(Frame{ConnID: h.c.id, FromClient: w.fromClient, Time: w.frameTS, Fin: w.fin, RSV1: w.rsv1, Opcode: w.opcode, Masked: w.masked, Length: w.left})
	}
	if w.opcode.IsControl() {
		w.ctrl, w.ctrlSize = w.ctrl[:0], 0
		return
	}
	if w.opcode != traffic.OpContinuation || w.msg == nil {
		if w.msg != nil {
			// A new message before the last one finished: the last one
			// lost its final fragment.
			w.msg.Truncated = true
			w.flush(h)
		}
		op := w.opcode
		if op == traffic.OpContinuation {
			op = traffic.OpBinary // continuation without a start: lost start
		}
		w.msg = &traffic.WSMessage{
			Flow: h.c.flow, ConnID: h.c.id, Start: p.offset(w.frameTS),
			FromClient: w.fromClient, Opcode: op, Compressed: w.rsv1,
		}
		if w.opcode == traffic.OpContinuation {
			w.msg.Truncated = true
		}
		w.msgBuf = w.msgBuf[:0]
		w.msgRaw = w.rsv1
	}
	w.msg.Frames++
}

func (w *wsParser) payload(h *half, data []byte) {
	// The bytes kept are appended as they come and unmasked where they
	// land (data is not ours); the mask position advances over all of them.
	pos := w.maskPos
	w.maskPos += len(data)
	keep := func(buf []byte, n int) []byte {
		at := len(buf)
		buf = append(buf, data[:n]...)
		if w.masked {
			for i := at; i < len(buf); i++ {
				buf[i] ^= w.mask[(pos+i-at)&3]
			}
		}
		return buf
	}
	if w.opcode.IsControl() {
		// RFC 6455 allows 125 bytes; a malformed frame announcing more
		// keeps no more than that (and the message size cap).
		w.ctrlSize += int64(len(data))
		room := min(maxControlPayload, h.c.p.cfg.MaxMessageSize) - len(w.ctrl)
		w.ctrl = keep(w.ctrl, max(0, min(room, len(data))))
		return
	}
	m := w.msg
	limit := h.c.p.cfg.MaxMessageSize
	if w.msgRaw {
		// Compressed bytes are needed whole to inflate; bounded anyway.
		limit = maxInflate / 8
	}
	if !w.msgRaw {
		m.Size += int64(len(data))
	}
	n := len(data)
	if room := limit - len(w.msgBuf); n > room {
		n = max(room, 0)
		m.Truncated = true
	}
	w.msgBuf = keep(w.msgBuf, n)
}

func (w *wsParser) frameEnd(h *half) {
	w.inPayload = false
	p := h.c.p
	if w.opcode.IsControl() {
		payload := append([]byte(nil), w.ctrl...)
		if w.opcode == traffic.OpClose {
			if !w.c.closed {
				w.c.closed = true
				cl := &traffic.WSClose{Flow: h.c.flow, ConnID: h.c.id, Start: p.offset(w.frameTS), FromClient: w.fromClient, Code: traffic.CloseNoStatus}
				if len(payload) >= 2 {
					cl.Code = int(binary.BigEndian.Uint16(payload[:2]))
					cl.Reason = string(payload[2:])
				}
				p.emit(traffic.Record{Kind: traffic.KindWSClose, WSClose: cl})
			}
			return
		}
		p.count(func(s *Stats) { s.WSMessages++ })
		p.emit(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{
			Flow: h.c.flow, ConnID: h.c.id, Start: p.offset(w.frameTS), FromClient: w.fromClient,
			Opcode: w.opcode, Payload: payload, Size: w.ctrlSize, Frames: 1, Truncated: w.ctrlSize > int64(len(payload)),
		}})
		return
	}
	if w.fin {
		w.flush(h)
	}
}

// flush writes the message being assembled.
func (w *wsParser) flush(h *half) {
	m := w.msg
	if m == nil {
		return
	}
	w.msg = nil
	p := h.c.p
	if w.msgRaw {
		out, size, err := w.inflate(w.msgBuf, p.cfg.MaxMessageSize)
		m.Payload, m.Size = out, size
		if err != nil {
			m.Truncated = true
			p.count(func(s *Stats) { s.InflateErrs++ })
		} else if int64(len(out)) < size {
			m.Truncated = true
		}
	} else {
		m.Payload = append([]byte(nil), w.msgBuf...)
		if m.Size > int64(len(m.Payload)) {
			m.Truncated = true
		}
	}
	p.count(func(s *Stats) { s.WSMessages++ })
	p.emit(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: m})
}

// inflate undoes permessage-deflate (RFC 7692) on one message: the
// payload plus the stripped 00 00 ff ff tail, with the previous messages'
// output as dictionary unless the sender resets its context. It keeps at
// most keep bytes and returns the full decompressed size.
func (w *wsParser) inflate(payload []byte, keep int) ([]byte, int64, error) {
	if w.c.noTakeover[idx(w.fromClient)] {
		w.window = w.window[:0]
	}
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))
	if w.inflater == nil {
		w.inflater = flate.NewReaderDict(src, w.window)
	} else if err := w.inflater.(flate.Resetter).Reset(src, w.window); err != nil {
		return nil, 0, err
	}
	var out []byte
	var size int64
	buf := make([]byte, 32<<10)
	var window []byte
	var err error
	for {
		n, rerr := w.inflater.Read(buf)
		if n > 0 {
			size += int64(n)
			if room := keep - len(out); room > 0 {
				out = append(out, buf[:min(n, room)]...)
			}
			window = append(window, buf[:n]...)
			if len(window) > 64<<10 {
				window = append(window[:0], window[len(window)-(32<<10):]...)
			}
			if size > maxInflate {
				err = errors.New("inflated message over " + strconv.Itoa(maxInflate) + " bytes")
				break
			}
		}
		if rerr == io.EOF || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	// The new window is the old one followed by this message's output.
	w.window = append(w.window, window...)
	if len(w.window) > 32<<10 {
		w.window = append(w.window[:0], w.window[len(w.window)-(32<<10):]...)
	}
	return out, size, err
}

// gap loses the frame boundaries of this direction: nothing after it can
// be parsed.
func (w *wsParser) gap(h *half, n int) {
	if w.msg != nil {
		w.msg.Truncated = true
		w.flush(h)
	}
	if !w.dead {
		dir := "server"
		if w.fromClient {
			dir = "client"
		}
		w.c.lost = joinWhy(w.c.lost, fmt.Sprintf("%s frames after a %d-byte capture gap not parsed", dir, n))
	}
	w.dead = true
}

func joinWhy(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (w *wsParser) fail(h *half, why string) {
	if w.msg != nil {
		w.msg.Truncated = true
		w.flush(h)
	}
	if !w.dead {
		w.c.lost = joinWhy(w.c.lost, why+": rest of the stream not parsed")
	}
	w.dead = true
}

// end writes a message cut by the end of the connection.
func (w *wsParser) end(h *half) {
	if w.msg != nil {
		w.msg.Truncated = true
		w.flush(h)
	}
}
