package faultproxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// maxMangled bounds a response held in memory to be mangled.
const maxMangled = 8 << 20

// resetPause lets the bytes written before a reset reach the client
// before the RST does.
const resetPause = 20 * time.Millisecond

func (p *Proxy) serveConn(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.log.Debug("read request", "remote", c.RemoteAddr(), "err", err)
				var b bytes.Buffer
				writeSimple(&b, http.StatusBadRequest, "malformed request\n", true)
				c.Write(b.Bytes())
			}
			return
		}
		p.startClock()
		seq := p.seq.Add(1)
		up := isUpgrade(req)
		i := p.cfg.Plan.pick(p.Since(), req.URL.Path, up, seq)
		if !p.serveRequest(c, br, req, i, up) {
			return
		}
	}
}

// serveRequest answers one request, healthy or with the fault of rule
// idx, and reports whether the connection can carry another.
func (p *Proxy) serveRequest(c net.Conn, br *bufio.Reader, req *http.Request, idx int, upgrade bool) bool {
	if idx < 0 {
		if upgrade {
			p.tunnel(c, br, req)
			return false
		}
		return p.forward(c, req)
	}
	r := p.cfg.Plan.Rules[idx]
	if !r.Fault.session() {
		p.count(r.Fault)
	}
	switch r.Fault {
	case ResetRequest:
		switch {
		case req.ContentLength > 0:
			io.CopyN(io.Discard, req.Body, req.ContentLength/2)
		case req.ContentLength < 0:
			io.CopyN(io.Discard, req.Body, 1)
		}
		reset(c)
		return false
	case Hang:
		// Hold the connection until the client gives up or the proxy
		// closes it.
		io.Copy(io.Discard, c)
		return false
	case Status:
		drain(c, req)
		var b bytes.Buffer
		writeSimple(&b, r.status(), fmt.Sprintf("fault injected: status %d\n", r.status()), req.Close || upgrade)
		_, err := c.Write(b.Bytes())
		return err == nil && !req.Close && !upgrade
	case GarbageStatus:
		drain(c, req)
		c.Write([]byte("ZZZZ this is not an HTTP status line\r\n\r\n"))
		return false
	}
	if r.Fault.IsWebSocket() {
		p.serveWS(c, br, req, r)
		return false
	}

	// The remaining faults mangle the upstream's answer.
	continue100(c, req)
	status, reason, h, body := p.fetch(req)
	drain(c, req)
	var b bytes.Buffer
	switch r.Fault {
	case BadHeader:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		writeHead(&b, status, reason, h, "Bad Header Without Colon\r\n")
		b.Write(body)
		c.Write(b.Bytes())
		return false
	case ShortBody:
		h.Set("Content-Length", strconv.Itoa(len(body)+max(len(body)/2, 16)))
		writeHead(&b, status, reason, h, "")
		b.Write(body)
		c.Write(b.Bytes())
		return false
	case LongBody:
		// Connection: close, or a client could reuse the connection
		// before it sees the close and read the extra bytes as the next
		// answer.
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Connection", "close")
		writeHead(&b, status, reason, h, "")
		b.Write(body)
		b.WriteString("<bytes beyond the declared Content-Length>")
		c.Write(b.Bytes())
		return false
	case ResetResponse:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		writeHead(&b, status, reason, h, "")
		cut := b.Len() / 2 // half the head when there is no body
		if len(body) > 0 {
			cut = b.Len() + len(body)/2
		}
		b.Write(body)
		c.Write(b.Bytes()[:cut])
		p.sleep(resetPause)
		reset(c)
		return false
	case Trickle:
		if req.Close {
			h.Set("Connection", "close")
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		writeHead(&b, status, reason, h, "")
		b.Write(body)
		iv, n := r.pace()
		out := b.Bytes()
		for len(out) > 0 {
			k := min(n, len(out))
			if _, err := c.Write(out[:k]); err != nil {
				return false
			}
			out = out[k:]
			if len(out) > 0 && !p.sleep(iv) {
				return false
			}
		}
		return !req.Close
	}
	return false
}

// sleep waits d unless the proxy closes first.
func (p *Proxy) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// forward relays req to the upstream and streams the answer back.
func (p *Proxy) forward(c net.Conn, req *http.Request) bool {
	continue100(c, req)
	resp, err := p.tr.RoundTrip(p.outgoing(req))
	drain(c, req)
	if err != nil {
		p.upstreamErrors.Add(1)
		var b bytes.Buffer
		writeSimple(&b, http.StatusBadGateway, "upstream: "+err.Error()+"\n", req.Close)
		_, werr := c.Write(b.Bytes())
		return werr == nil && !req.Close
	}
	defer resp.Body.Close()
	h := resp.Header.Clone()
	removeHop(h)
	h.Del("Content-Length")
	noBody := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200
	chunked := false
	switch {
	case resp.ContentLength >= 0 && (!noBody || req.Method == http.MethodHead):
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	case !noBody:
		h.Set("Transfer-Encoding", "chunked")
		chunked = true
	}
	if req.Close {
		h.Set("Connection", "close")
	}
	bw := bufio.NewWriter(c)
	writeHead(bw, resp.StatusCode, reasonOf(resp), h, "")
	var cerr error
	switch {
	case noBody:
	case chunked:
		cw := httputil.NewChunkedWriter(bw)
		_, cerr = io.Copy(cw, resp.Body)
		cw.Close()
		bw.WriteString("\r\n")
	default:
		_, cerr = io.Copy(bw, resp.Body)
	}
	if cerr != nil {
		// The upstream broke off its body: so does the proxy.
		p.upstreamErrors.Add(1)
		bw.Flush()
		return false
	}
	// Counted before the last bytes leave, so a client that has its answer
	// finds it counted.
	p.forwarded.Add(1)
	if err := bw.Flush(); err != nil {
		p.forwarded.Add(-1)
		return false
	}
	return !req.Close
}

// fetch gets the upstream's whole answer to req (a 502 of the proxy's own
// when the upstream fails).
func (p *Proxy) fetch(req *http.Request) (status int, reason string, h http.Header, body []byte) {
	resp, err := p.tr.RoundTrip(p.outgoing(req))
	if err == nil {
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxMangled))
	}
	if err != nil {
		p.upstreamErrors.Add(1)
		h = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
		return http.StatusBadGateway, "Bad Gateway", h, []byte("upstream: " + err.Error() + "\n")
	}
	h = resp.Header.Clone()
	removeHop(h)
	h.Del("Content-Length")
	return resp.StatusCode, reasonOf(resp), h, body
}

// outgoing is req addressed to the upstream.
func (p *Proxy) outgoing(req *http.Request) *http.Request {
	out := req.Clone(p.ctx)
	u := *p.cfg.Upstream
	base := strings.TrimSuffix(u.Path, "/")
	u.Path = base + req.URL.Path
	u.RawPath = ""
	if req.URL.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + req.URL.RawPath
	}
	u.RawQuery = req.URL.RawQuery
	out.URL = &u
	out.Host = u.Host
	out.RequestURI = ""
	out.Close = false
	removeHop(out.Header)
	return out
}

// tunnel relays a healthy WebSocket upgrade and the connection after it
// to the upstream, byte for byte.
func (p *Proxy) tunnel(c net.Conn, br *bufio.Reader, req *http.Request) {
	u := p.cfg.Upstream
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
	}
	up, err := p.dialer.DialContext(p.ctx, "tcp", addr)
	if err == nil && u.Scheme == "https" {
		tc := tls.Client(up, &tls.Config{ServerName: u.Hostname()})
		if err = tc.HandshakeContext(p.ctx); err != nil {
			up.Close()
		}
		up = tc
	}
	if err != nil {
		p.upstreamErrors.Add(1)
		var b bytes.Buffer
		writeSimple(&b, http.StatusBadGateway, "upstream: "+err.Error()+"\n", true)
		c.Write(b.Bytes())
		return
	}
	defer up.Close()
	out := p.outgoing(req)
	for _, k := range []string{"Connection", "Upgrade"} {
		out.Header[k] = req.Header[k]
	}
	if err := out.Write(up); err != nil {
		p.upstreamErrors.Add(1)
		return
	}
	p.tunnels.Add(1)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	select {
	case <-done:
	case <-p.ctx.Done():
	}
	c.Close()
	up.Close()
	<-done
}

// drain reads what is left of req's body, so the connection can carry
// the next request.
func drain(c net.Conn, req *http.Request) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, req.Body)
	req.Body.Close()
	c.SetReadDeadline(time.Time{})
}

// continue100 answers "Expect: 100-continue" before the body is read.
func continue100(c net.Conn, req *http.Request) {
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") && req.ContentLength != 0 {
		c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
	}
}

// hopHeaders are per-connection header fields a proxy does not relay.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHop(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func isUpgrade(req *http.Request) bool {
	return req.Method == http.MethodGet && headerHas(req.Header, "Connection", "upgrade") && headerHas(req.Header, "Upgrade", "websocket")
}

// headerHas reports whether a comma-separated header lists token.
func headerHas(h http.Header, name, token string) bool {
	return httpguts.HeaderValuesContainsToken(h.Values(name), token)
}

func reasonOf(resp *http.Response) string {
	if _, reason, ok := strings.Cut(resp.Status, " "); ok && reason != "" {
		return reason
	}
	return http.StatusText(resp.StatusCode)
}

// writeHead writes a response head; extra is raw header lines (each
// ending in CRLF) added after h.
func writeHead(w io.Writer, status int, reason string, h http.Header, extra string) {
	fmt.Fprintf(w, "HTTP/1.1 %03d %s\r\n", status, reason)
	h.Write(w)
	io.WriteString(w, extra)
	io.WriteString(w, "\r\n")
}

// writeSimple writes a whole text/plain response of the proxy's own.
func writeSimple(w io.Writer, status int, body string, closing bool) {
	h := http.Header{
		"Content-Type":   {"text/plain; charset=utf-8"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	if closing {
		h.Set("Connection", "close")
	}
	writeHead(w, status, http.StatusText(status), h, "")
	io.WriteString(w, body)
}
