package capture

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/reprise/reprise/internal/traffic"
)

// message is one parsed HTTP request or response.
type message struct {
	resp    bool
	method  string
	target  string
	proto   string
	status  int
	reason  string
	header  traffic.Fields
	body    []byte
	size    int64
	interim []int

	truncated  bool
	incomplete bool
	why        string // what made it incomplete
	upgrade    bool   // request asks to switch protocols (or CONNECT)

	first, last time.Time
	ack         uint32 // requests: the client's ACK when the first byte left
	hasAck      bool
	off         int64 // stream offset of the first byte
	afterGap    bool  // first message after a hole in the stream
	gapStart    int64 // stream offset where that hole began
}

func (m *message) markIncomplete(why string) {
	if !m.incomplete {
		m.incomplete = true
		m.why = why
	} else if !strings.Contains(m.why, why) {
		m.why += "; " + why
	}
}

// parser states
const (
	stStart = iota
	stHeaders
	stBodyLength
	stChunkSize
	stChunkData
	stChunkCRLF
	stTrailers
	stBodyClose
	stResync
)

// httpParser parses one direction of an HTTP/1.x connection
// incrementally: it consumes what it can and leaves the rest (an
// unfinished line) for the next call.
type httpParser struct {
	state     int
	msg       *message
	remaining int64
	interim   []int // 1xx statuses seen before the next final response
	// pending gap: set by gap(), applied to the next message parsed
	afterGap bool
	gapStart int64
	// headerBytes counts the start line and header block of msg
	headerBytes int
}

// knownMethods are the methods accepted on a request line without a
// target (tshark's leniency, for the odd clients of real captures).
var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// tokenLen is the length of the HTTP token (RFC 9110 tchars) b starts with.
func tokenLen(b []byte) int {
	i := 0
	for i < len(b) && httpguts.IsTokenRune(rune(b[i])) {
		i++
	}
	return i
}

// parseRequestLine parses "METHOD SP target [SP version]". strict asks for
// a version (when resynchronising, to avoid matching inside a body).
func parseRequestLine(line []byte, strict bool) (method, target, proto string, ok bool) {
	i := tokenLen(line)
	if i == 0 {
		return "", "", "", false
	}
	method = string(line[:i])
	rest := line[i:]
	if len(rest) == 0 {
		return method, "", "", knownMethods[method] && !strict
	}
	if rest[0] != ' ' {
		return "", "", "", false
	}
	rest = bytes.TrimLeft(rest, " ")
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		if strict {
			return "", "", "", false
		}
		return method, string(rest), "", true
	}
	target = string(rest[:sp])
	proto = string(bytes.TrimSpace(rest[sp+1:]))
	if strict && !strings.HasPrefix(proto, "HTTP/1.") {
		return "", "", "", false
	}
	return method, target, proto, true
}

// parseStatusLine parses "HTTP/x.y SP code [SP reason]".
func parseStatusLine(line []byte) (proto string, status int, reason string, ok bool) {
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return "", 0, "", false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || len(line) < sp+4 {
		return "", 0, "", false
	}
	proto = string(line[:sp])
	rest := bytes.TrimLeft(line[sp+1:], " ")
	if len(rest) < 3 {
		return "", 0, "", false
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return "", 0, "", false
		}
	}
	if len(rest) > 3 && rest[3] != ' ' {
		return "", 0, "", false
	}
	status = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if len(rest) > 4 {
		reason = string(rest[4:])
	}
	return proto, status, reason, true
}

// couldStartMessage reports whether b (an unfinished line) may be the
// beginning of a start line.
func couldStartMessage(b []byte, request bool) bool {
	if !request {
		pre := []byte("HTTP/")
		if len(b) < len(pre) {
			return bytes.HasPrefix(pre, b)
		}
		return bytes.HasPrefix(b, pre)
	}
	i := tokenLen(b)
	return i > 0 && (i == len(b) || b[i] == ' ')
}

func looksLikeResponse(b []byte) bool {
	return bytes.HasPrefix(b, []byte("HTTP/1.")) || bytes.HasPrefix(b, []byte("HTTP/0.9"))
}

func looksLikeRequest(b []byte) bool {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = bytes.TrimRight(b[:i], "\r")
	} else if len(b) > 64 {
		line = b[:64]
	}
	_, _, _, ok := parseRequestLine(line, false)
	if ok {
		return true
	}
	// An unfinished line: the method and a space are enough.
	i := tokenLen(line)
	return i > 0 && i < len(line) && line[i] == ' ' && knownMethods[string(line[:i])]
}

// nextLine returns the line at the start of b (without CR LF) and the
// bytes it occupies, or ok=false when b holds no complete line.
func nextLine(b []byte) (line []byte, n int, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + 1, true
}

// parse consumes bytes of b (at position pos of the half's buffer and
// stream offset off) and returns how many it consumed. It stops after a
// message that changes the stream's mode.
func (p *httpParser) parse(h *half, b []byte, pos int, off int64, eof bool) int {
	cfg := &h.c.p.cfg
	n := 0
	for n < len(b) {
		switch p.state {
		case stStart, stResync:
			// Skip empty lines between messages.
			if b[n] == '\r' || b[n] == '\n' {
				n++
				continue
			}
			line, ln, ok := nextLine(b[n:])
			if !ok {
				if len(b)-n > cfg.MaxHeaderSize || (eof && p.state == stStart) {
					p.junk(h, len(b)-n)
					return len(b)
				}
				if p.state == stResync && !couldStartMessage(b[n:], h.fromClient) {
					// No line starts in what is left: none of it is HTTP.
					h.c.p.count(func(s *Stats) { s.JunkBytes += int64(len(b) - n) })
					return len(b)
				}
				return n
			}
			m := &message{resp: !h.fromClient, off: off + int64(n)}
			ok = false
			if h.fromClient {
				m.method, m.target, m.proto, ok = parseRequestLine(line, p.state == stResync)
			} else {
				m.proto, m.status, m.reason, ok = parseStatusLine(line)
			}
			if !ok {
				if p.state == stStart {
					// Not HTTP where a message should start: resynchronise
					// on the next plausible start line.
					p.state = stResync
				}
				h.c.p.count(func(s *Stats) { s.JunkBytes += int64(ln) })
				n += ln
				continue
			}
			ci := h.at(pos + n)
			m.first = ci.Timestamp
			m.ack, m.hasAck = metaOf(ci)
			if p.afterGap || p.state == stResync || h.midStream {
				m.afterGap = true
				m.gapStart = p.gapStart
				p.afterGap = false
			}
			h.midStream = false
			p.msg = m
			p.headerBytes = ln
			p.state = stHeaders
			n += ln
		case stHeaders, stTrailers:
			line, ln, ok := nextLine(b[n:])
			if !ok {
				if p.headerBytes+len(b)-n > cfg.MaxHeaderSize {
					p.msg.markIncomplete("header block over the size limit")
					p.complete(h, pos+len(b)-1)
					p.junk(h, len(b)-n)
					return len(b)
				}
				return n
			}
			p.headerBytes += ln
			n += ln
			if len(line) == 0 {
				if p.state == stTrailers {
					p.complete(h, pos+n-1)
					if h.mode != modeHTTP {
						return n
					}
					continue
				}
				p.headersDone(h, pos+n-1)
				if h.mode != modeHTTP {
					return n
				}
				continue
			}
			if p.state == stTrailers {
				continue
			}
			p.addHeader(line)
		case stBodyLength:
			n += p.takeBody(cfg, h, b[n:], pos+n)
			if p.remaining == 0 {
				p.complete(h, pos+n-1)
				if h.mode != modeHTTP {
					return n
				}
			}
		case stChunkSize:
			line, ln, ok := nextLine(b[n:])
			if !ok {
				if len(b)-n > 4096 {
					p.msg.markIncomplete("malformed chunk size line")
					p.complete(h, pos+n)
					p.state = stResync
				}
				return n
			}
			n += ln
			sizeStr := line
			if i := bytes.IndexByte(sizeStr, ';'); i >= 0 {
				sizeStr = sizeStr[:i]
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeStr)), 16, 64)
			if err != nil || size < 0 {
				p.msg.markIncomplete("malformed chunk size " + strconv.Quote(string(line)))
				p.complete(h, pos+n-1)
				p.state = stResync
				continue
			}
			if size == 0 {
				p.state = stTrailers
				continue
			}
			p.remaining = size
			p.state = stChunkData
		case stChunkData:
			n += p.takeBody(cfg, h, b[n:], pos+n)
			if p.remaining == 0 {
				p.state = stChunkCRLF
			}
		case stChunkCRLF:
			_, ln, ok := nextLine(b[n:])
			if !ok {
				if len(b)-n > 2 {
					p.msg.markIncomplete("chunk not followed by CRLF")
					p.complete(h, pos+n)
					p.state = stResync
				}
				return n
			}
			n += ln
			p.state = stChunkSize
		case stBodyClose:
			p.body(cfg, b[n:])
			n = len(b)
			p.msg.last = h.at(pos + n - 1).Timestamp
		}
	}
	return n
}

func (p *httpParser) junk(h *half, n int) {
	h.c.p.count(func(s *Stats) { s.JunkBytes += int64(n) })
	p.state = stResync
	p.msg = nil
}

func (p *httpParser) addHeader(line []byte) {
	m := p.msg
	if (line[0] == ' ' || line[0] == '\t') && len(m.header) > 0 {
		last := &m.header[len(m.header)-1]
		last.Value += " " + string(bytes.TrimSpace(line))
		return
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return // not a header field: ignored, like most servers do
	}
	name := bytes.TrimSpace(line[:colon])
	n, ok := commonHeaders[string(name)] // no allocation for the lookup
	if !ok {
		n = string(name)
	}
	if m.header == nil {
		m.header = make(traffic.Fields, 0, 8)
	}
	m.header = append(m.header, traffic.Field{Name: n, Value: string(bytes.TrimSpace(line[colon+1:]))})
}

// commonHeaders interns frequent header names, in their usual spellings.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection",
		"Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Date",
		"Server", "Cache-Control", "Authorization", "Cookie", "Set-Cookie", "Etag", "ETag",
		"Last-Modified", "If-None-Match", "If-Modified-Since", "Location", "Vary", "Upgrade",
		"Keep-Alive", "Referer", "Origin", "Expect", "Range", "Content-Range", "Accept-Ranges",
		"X-Forwarded-For", "X-Request-Id", "Sec-WebSocket-Key", "Sec-WebSocket-Accept",
		"Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
	} {
		m[n] = n
		m[strings.ToLower(n)] = strings.ToLower(n)
	}
	return m
}()

// takeBody consumes up to p.remaining body bytes from b (at position pos
// of the half's buffer), keeps them and times the last one; it returns
// how many it took.
func (p *httpParser) takeBody(cfg *Config, h *half, b []byte, pos int) int {
	take := min(int64(len(b)), p.remaining)
	p.body(cfg, b[:take])
	p.remaining -= take
	if take > 0 {
		p.msg.last = h.at(pos + int(take) - 1).Timestamp
	}
	return int(take)
}

func (p *httpParser) body(cfg *Config, data []byte) {
	m := p.msg
	m.size += int64(len(data))
	room := cfg.MaxBodySize - len(m.body)
	if room <= 0 {
		if len(data) > 0 {
			m.truncated = true
		}
		return
	}
	if len(data) > room {
		data = data[:room]
		m.truncated = true
	}
	m.body = append(m.body, data...)
}

// headersDone decides how the body is framed (RFC 9112 section 6.3).
func (p *httpParser) headersDone(h *half, lastPos int) {
	m := p.msg
	m.last = h.at(lastPos).Timestamp
	te := m.header.Get("Transfer-Encoding")
	chunked := false
	if te != "" {
		codings := strings.Split(te, ",")
		chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
	}
	length := int64(-1)
	if cl := m.header.Get("Content-Length"); cl != "" && te == "" {
		if i := strings.IndexByte(cl, ','); i >= 0 {
			cl = cl[:i] // repeated identical values
		}
		v, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || v < 0 {
			m.markIncomplete("malformed Content-Length " + strconv.Quote(cl))
		} else {
			length = v
		}
	}
	if !m.resp {
		m.upgrade = strings.EqualFold(m.method, "CONNECT") ||
			(m.header.Get("Upgrade") != "" && headerHasToken(m.header, "Connection", "upgrade"))
		switch {
		case chunked:
			p.state = stChunkSize
		case length > 0:
			p.remaining = length
			p.state = stBodyLength
		default:
			p.complete(h, lastPos)
		}
		return
	}
	method := h.c.responseMethod()
	switch {
	case m.status >= 100 && m.status < 200 && m.status != 101:
		// Interim response: remembered for the final one.
		p.interim = append(p.interim, m.status)
		p.msg = nil
		p.state = stStart
		return
	case m.status == 101,
		strings.EqualFold(method, "HEAD"),
		m.status == 204, m.status == 304,
		strings.EqualFold(method, "CONNECT") && m.status >= 200 && m.status < 300:
		p.complete(h, lastPos)
	case chunked:
		p.state = stChunkSize
	case length >= 0:
		if length == 0 {
			p.complete(h, lastPos)
			return
		}
		p.remaining = length
		p.state = stBodyLength
	default:
		p.state = stBodyClose
	}
}

// complete hands the message to the connection. lastPos is the position
// of its last byte.
func (p *httpParser) complete(h *half, lastPos int) {
	m := p.msg
	if m == nil {
		return
	}
	if lastPos >= 0 {
		m.last = h.at(lastPos).Timestamp
	}
	if m.last.IsZero() || m.last.Before(m.first) {
		m.last = m.first
	}
	p.msg = nil
	p.state = stStart
	if m.resp {
		m.interim = p.interim
		p.interim = nil
		h.c.responseDone(m)
		return
	}
	if m.upgrade {
		h.mode = modePaused
	}
	h.c.requestDone(m)
}

// gap handles n missing bytes (n < 0: unknown) at stream offset gapStart.
// carry holds bytes that were waiting for more data before the hole.
func (p *httpParser) gap(h *half, n int, carry []byte, gapStart int64) {
	p.afterGap = true
	p.gapStart = gapStart
	m := p.msg
	if m == nil {
		if p.state != stResync {
			p.state = stResync
		}
		if len(carry) > 0 {
			h.c.p.count(func(s *Stats) { s.JunkBytes += int64(len(carry)) })
		}
		return
	}
	why := "bytes missing from the capture"
	if n > 0 {
		why = strconv.Itoa(n) + " bytes missing from the capture"
	}
	switch p.state {
	case stBodyLength:
		m.markIncomplete(why)
		m.truncated = true
		m.size += int64(len(carry))
		if n >= 0 && int64(n) < p.remaining {
			// The hole is inside the body: skip it and go on.
			p.remaining -= int64(n)
			m.size += int64(n)
			return
		}
		if n >= 0 && int64(n) == p.remaining {
			m.size += int64(n)
			p.remaining = 0
			p.complete(h, -1)
			p.afterGap = false
			return
		}
		p.complete(h, -1)
		p.state = stResync
	case stBodyClose:
		m.markIncomplete(why)
		m.truncated = true
		if n > 0 {
			m.size += int64(n)
		}
	case stChunkData:
		m.truncated = true
		if n >= 0 && int64(n) < p.remaining {
			m.markIncomplete(why)
			p.remaining -= int64(n)
			m.size += int64(n)
			return
		}
		m.markIncomplete(why)
		p.complete(h, -1)
		p.state = stResync
	default:
		// In the start line, headers or chunk framing: the message is cut.
		m.markIncomplete(why)
		p.complete(h, -1)
		p.state = stResync
	}
}

// end finishes the direction at connection end.
func (p *httpParser) end(h *half) {
	m := p.msg
	if m == nil {
		return
	}
	if p.state == stBodyClose {
		if h.c.sawEnd {
			p.complete(h, -1)
			return
		}
		m.markIncomplete("capture ended before the connection closed")
		p.complete(h, -1)
		return
	}
	if h.c.sawEnd {
		m.markIncomplete("connection closed mid-message")
	} else {
		m.markIncomplete("capture ended mid-message")
	}
	p.complete(h, -1)
}
