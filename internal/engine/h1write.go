package engine

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// defaultUserAgent is what net/http sends when a request has no
// User-Agent header.
const defaultUserAgent = "Go-http-client/1.1"

// validateRequest refuses a request net/http's transport refuses, with
// its words.
func validateRequest(req *http.Request) error {
	if req.Method != "" && !httpguts.ValidHeaderFieldName(req.Method) {
		return fmt.Errorf("net/http: invalid method %q", req.Method)
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// writeRequest writes req as net/http's Request.Write does (request
// line, Host, User-Agent, Content-Length, the other headers in sorted
// order, the body) without its allocations, for the requests a replay
// sends: a known length, no trailers, an ASCII host. It says false,
// having written nothing, for any other request, which then goes
// through Request.Write.
func writeRequest(bw *bufio.Writer, req *http.Request, keys *[]string) (bool, error) {
	u := req.URL
	host := req.Host
	if host == "" {
		host = u.Host
	}
	if req.ContentLength < 0 || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.Close ||
		u.Opaque != "" || req.Method == "CONNECT" || !plainHost(host) ||
		(req.ContentLength > 0 && req.Body == nil) ||
		(req.ContentLength == 0 && req.Body != nil && req.Body != http.NoBody) {
		return false, nil
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if hasCTL(path) || hasCTL(u.RawQuery) {
		return true, fmt.Errorf("net/http: can't write control character in Request.URL")
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	ua := defaultUserAgent
	if vs, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vs) > 0 {
			ua = textproto.TrimString(headerNewlineToSpace.Replace(vs[0]))
		}
	}
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	// As net/http: a length for a body, and a zero length on a POST,
	// PUT or PATCH without one (servers expect it there).
	if req.ContentLength > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		var num [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], req.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	ks := (*keys)[:0]
	for k := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		for _, v := range req.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(headerNewlineToSpace.Replace(v)))
			bw.WriteString("\r\n")
		}
	}
	clear(ks)
	*keys = ks[:0]
	bw.WriteString("\r\n")
	if req.Body != nil && req.Body != http.NoBody {
		n, err := io.Copy(bw, req.Body)
		req.Body.Close()
		if err != nil {
			return true, err
		}
		if n != req.ContentLength {
			return true, fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
		}
	}
	return true, nil
}

var headerNewlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// plainHost reports whether a Host header goes as it is: ASCII, no zone,
// no character net/http would clean.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= 0x80 || c <= ' ' || c == '%' || c == '/' || c == 0x7f {
			return false
		}
	}
	return true
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}
