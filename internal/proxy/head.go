package proxy

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/reprise/reprise/internal/traffic"
)

// maxHead bounds a request head the scanner keeps (net/http's default
// MaxHeaderBytes).
const maxHead = 1 << 20

// headScanner watches the bytes a client sends on one connection and
// extracts each request head's header fields in the order and spelling
// they arrived, which net/http does not keep. It follows message framing
// (Content-Length, chunked) to find the next head, and gives up on the
// connection (handlers fall back to name order) at anything it does not
// follow, such as a protocol upgrade.
type headScanner struct {
	mu    sync.Mutex
	state int
	part  []byte // a line not yet ended
	head  []byte // the lines of the head so far
	left  int64  // body bytes still to skip
	heads []rawHead
}

type rawHead struct {
	method, target string
	fields         traffic.Fields
}

const (
	scanHead = iota
	scanBody
	scanChunkSize
	scanChunkData
	scanChunkCRLF
	scanTrailer
	scanOff
)

func (s *headScanner) feed(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) > 0 && s.state != scanOff {
		switch s.state {
		case scanBody, scanChunkData:
			k := int64(len(b))
			if k > s.left {
				k = s.left
			}
			b = b[k:]
			s.left -= k
			if s.left == 0 {
				if s.state == scanBody {
					s.state = scanHead
				} else {
					s.state = scanChunkCRLF
				}
			}
		default:
			// Line-oriented states: collect up to the next newline.
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				s.part = append(s.part, b...)
				b = nil
				if len(s.part) > maxHead {
					s.off()
				}
				continue
			}
			line := b[:i+1]
			b = b[i+1:]
			if len(s.part) > 0 {
				line = append(s.part, line...)
				s.part = line[:0]
			}
			s.line(line)
		}
	}
}

func (s *headScanner) off() {
	s.state = scanOff
	s.part = nil
	s.head = nil
}

// line handles one whole line (with its newline) in a line state.
func (s *headScanner) line(line []byte) {
	trimmed := bytes.TrimRight(line, "\r\n")
	switch s.state {
	case scanHead:
		if len(trimmed) == 0 {
			if len(s.head) == 0 {
				return // blank lines before a request line are allowed
			}
			s.endHead(s.head)
			s.head = s.head[:0]
			return
		}
		s.head = append(s.head, line...)
		if len(s.head) > maxHead {
			s.off()
		}
	case scanChunkSize:
		size := string(trimmed)
		if i := strings.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			s.off()
			return
		}
		if n == 0 {
			s.state = scanTrailer
			return
		}
		s.left = n
		s.state = scanChunkData
	case scanChunkCRLF:
		if len(trimmed) != 0 {
			s.off()
			return
		}
		s.state = scanChunkSize
	case scanTrailer:
		if len(trimmed) == 0 {
			s.state = scanHead
		}
	}
}

// endHead parses a complete head and sets up the body's framing.
func (s *headScanner) endHead(head []byte) {
	lines := strings.Split(strings.TrimRight(string(head), "\r\n"), "\n")
	reqLine := strings.Fields(strings.TrimRight(lines[0], "\r"))
	if len(reqLine) != 3 {
		s.off()
		return
	}
	h := rawHead{method: reqLine[0], target: reqLine[1]}
	var length int64 = -1
	chunked, upgrade := false, false
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(h.fields) > 0 {
			// Obsolete line folding: part of the previous value.
			h.fields[len(h.fields)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			s.off()
			return
		}
		value = strings.TrimSpace(value)
		h.fields = append(h.fields, traffic.Field{Name: name, Value: value})
		switch strings.ToLower(name) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				s.off()
				return
			}
			length = n
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "upgrade":
			upgrade = true
		}
	}
	if len(s.heads) < 64 {
		s.heads = append(s.heads, h)
	}
	switch {
	case upgrade:
		// After a 101 the stream is no longer HTTP.
		s.off()
	case chunked:
		s.state = scanChunkSize
	case length > 0:
		s.left = length
		s.state = scanBody
	default:
		s.state = scanHead
	}
}

// take returns the fields of the oldest head if it is the request's (same
// method and target), dropping heads that are not.
func (s *headScanner) take(method, target string) traffic.Fields {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.heads) > 0 {
		h := s.heads[0]
		s.heads = s.heads[1:]
		if h.method == method && h.target == target {
			return h.fields
		}
	}
	return nil
}

// scanConn passes a client connection's bytes to its head scanner.
type scanConn struct {
	net.Conn
	scan *headScanner
}

func (c *scanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.scan.feed(p[:n])
	}
	return n, err
}

// scanListener wraps accepted connections in scanConns.
type scanListener struct{ net.Listener }

func (l scanListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &scanConn{Conn: c, scan: &headScanner{}}, nil
}
