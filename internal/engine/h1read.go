package engine

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readHead reads the head of the answer most targets give most requests
// as http.ReadResponse reads it, without its allocations: the whole head
// already buffered, HTTP/1.1 or 1.0, a final status with a body framed by
// one Content-Length, no Transfer-Encoding or Trailer, header lines that
// are plain "Name: value". It returns the response, its body not set,
// and the body's length. ok is false, with nothing read, for any other
// answer: http.ReadResponse reads that one (chunked, to the close, 1xx,
// HEAD, folded or odd header lines, malformed heads and their errors).
func readHead(br *bufio.Reader, req *http.Request) (resp *http.Response, length int64, ok bool) {
	if req.Method == http.MethodHead {
		return nil, 0, false
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, crlf2)
	if end < 0 {
		return nil, 0, false
	}
	head := string(buf[:end+2]) // every line ends in CRLF
	nl := strings.Index(head, "\r\n")
	line := head[:nl]
	var proto string
	minor := 1
	switch {
	case strings.HasPrefix(line, "HTTP/1.1 "):
		proto = "HTTP/1.1"
	case strings.HasPrefix(line, "HTTP/1.0 "):
		proto, minor = "HTTP/1.0", 0
	default:
		return nil, 0, false
	}
	status := strings.TrimLeft(line[len(proto)+1:], " ")
	code, ok := statusCode(status)
	if !ok || !validValue(status) || code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, 0, false
	}
	rest := head[nl+2:]
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	vals := make([]string, 0, lines)
	for len(rest) > 0 {
		nl := strings.Index(rest, "\r\n")
		line := rest[:nl]
		rest = rest[nl+2:]
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !validKey(line[:colon]) {
			return nil, 0, false
		}
		v := strings.Trim(line[colon+1:], " \t")
		if !validValue(v) {
			return nil, 0, false
		}
		k := textproto.CanonicalMIMEHeaderKey(line[:colon])
		if vs, ok := h[k]; ok {
			h[k] = append(vs, v)
			continue
		}
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	if _, ok := h["Transfer-Encoding"]; ok {
		return nil, 0, false
	}
	if _, ok := h["Trailer"]; ok {
		return nil, 0, false
	}
	cl := h["Content-Length"]
	if len(cl) != 1 {
		return nil, 0, false
	}
	length, ok = digits(cl[0])
	if !ok {
		return nil, 0, false
	}
	// As net/http: HTTP/1.0 closes unless asked to keep alive, 1.1 when
	// asked to close (and the Connection header saying so is dropped).
	conn := h["Connection"]
	closing := httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 {
		closing = closing || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	} else if closing {
		delete(h, "Connection")
	}
	if _, err := br.Discard(end + 4); err != nil {
		return nil, 0, false
	}
	return &http.Response{Status: status, StatusCode: code, Proto: proto, ProtoMajor: 1, ProtoMinor: minor,
		Header: h, ContentLength: length, Close: closing, Request: req}, length, true
}

var crlf2 = []byte("\r\n\r\n")

// statusCode reads the three digits a status starts with ("200 OK",
// "404").
func statusCode(status string) (int, bool) {
	if len(status) < 3 || (len(status) > 3 && status[3] != ' ') {
		return 0, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := status[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, true
}

// digits reads a Content-Length of plain digits that fits easily in an
// int64.
func digits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validKey reports whether a header name is a token.
func validKey(k string) bool { return httpguts.ValidHeaderFieldName(k) }

// validValue reports whether a header value is plain: no control byte
// but tab (a stray CR or LF among them is for ReadResponse to judge).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
