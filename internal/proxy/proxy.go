package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// DefaultMaxBody is the default cap on the bytes of one body or WebSocket
// message kept in a record.
const DefaultMaxBody = 1 << 20

// DefaultShutdownGrace is how long Serve waits for requests in flight when
// its context ends.
const DefaultShutdownGrace = 3 * time.Second

// When the upstream answers before it has read the whole request body,
// the proxy reads the rest the client sends into the record, as a server
// reads it to keep the connection: at most max(MaxBody, minBodyDrain)
// bytes, for at most bodyDrainTimeout.
const (
	minBodyDrain     = 256 << 10 // net/http's own limit for this
	bodyDrainTimeout = 5 * time.Second
)

// Config configures a Proxy. Upstream and Sink are required; every other
// field has a working zero value.
type Config struct {
	// Upstream is the server requests are forwarded to, for example
	// http://localhost:8787. A path is prefixed to every request path.
	Upstream *url.URL
	// Sink receives the records. The proxy never closes it.
	Sink traffic.Sink
	// MaxBody caps the bytes kept per body or WebSocket message (the rest
	// is forwarded and counted, and the record marked Truncated). Zero
	// means DefaultMaxBody; negative keeps no bytes, only sizes.
	MaxBody int64
	// Clock returns the current offset from the corpus clock origin. Nil
	// means a monotonic clock started by New (see Proxy.Origin).
	Clock func() time.Duration
	// Transport sends requests upstream. Nil means a clone of
	// http.DefaultTransport with transparent decompression turned off.
	// An *http.Transport that would decompress is cloned with
	// DisableCompression set: it would otherwise ask the upstream for gzip
	// when the client asked for no coding, and hand the proxy decoded
	// bytes. Any other RoundTripper must leave Accept-Encoding and the
	// response body as they are.
	Transport http.RoundTripper
	// Logger receives warnings (a failing sink, a malformed WebSocket
	// stream). Nil discards them.
	Logger *slog.Logger
	// FlowKey names the flow of a request. Nil means the default: the
	// hashed credential (Authorization header, else a token or
	// access_token query parameter) as "auth:HASH", else the client
	// connection as "conn:ID".
	FlowKey func(r *http.Request, connID uint64) string
	// HashIdentity hashes a credential for the default FlowKey. Pass the
	// redactor's Hash so flow keys and placeholders agree; nil means
	// HMAC-SHA256 under a random key.
	HashIdentity func(secret []byte) string
	// PreserveHost forwards the client's Host header instead of the
	// upstream's host.
	PreserveHost bool
	// QueueSize bounds the records waiting for the sink; zero means
	// DefaultQueueSize.
	QueueSize int
	// ShutdownGrace bounds how long Serve waits for requests in flight
	// once its context ends; zero means DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// TLS, when set, makes Serve accept HTTPS (and wss://) clients with
	// this configuration's certificates. The proxy speaks HTTP/1.1 to them
	// (its ALPN offers nothing else) and records the requests as https.
	TLS *tls.Config
}

// Stats counts what a Proxy has seen.
type Stats struct {
	// Exchanges counts HTTP exchanges recorded (WebSocket upgrades are
	// counted in WSConns).
	Exchanges int64
	// Errors counts exchanges and WebSocket connections that ended with
	// an error (upstream unreachable, reset, abnormal close, ...).
	Errors int64
	// WSConns and WSMessages count WebSocket connections and messages
	// (pings and pongs included).
	WSConns    int64
	WSMessages int64
	// BytesIn and BytesOut count body and WebSocket payload bytes from
	// clients and from the upstream.
	BytesIn  int64
	BytesOut int64
	// Written counts records the sink accepted; Lost counts records that
	// never reached it (sink failing, queue full, or after Close).
	Written int64
	Lost    int64
	// SinkErr is the first reason a record was lost, nil if none was.
	SinkErr error
}

// Proxy is a recording reverse proxy for HTTP/1.1 and WebSocket, built on
// httputil.ReverseProxy. It is an http.Handler; Serve runs it on a
// listener with per-connection IDs.
type Proxy struct {
	cfg    Config
	rp     *httputil.ReverseProxy
	rec    *recorder
	log    *slog.Logger
	clock  func() time.Duration
	origin time.Time
	hash   func([]byte) string

	conns    atomic.Uint64
	inflight sync.WaitGroup

	wsMu     sync.Mutex
	ws       map[*wsTap]struct{}
	stopping atomic.Bool

	exchanges, errs, wsConns, wsMsgs, bytesIn, bytesOut atomic.Int64
}

// New validates cfg and returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("proxy: no upstream URL")
	}
	if cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https" {
		return nil, fmt.Errorf("proxy: upstream %q: scheme must be http or https", cfg.Upstream)
	}
	if cfg.Upstream.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q has no host", cfg.Upstream)
	}
	if cfg.Sink == nil {
		return nil, errors.New("proxy: no sink")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBody < 0 {
		cfg.MaxBody = 0
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	p := &Proxy{cfg: cfg, ws: map[*wsTap]struct{}{}, origin: time.Now()}
	p.log = cfg.Logger
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.clock = cfg.Clock
	if p.clock == nil {
		origin := p.origin
		p.clock = func() time.Duration { return time.Since(origin) }
	}
	p.hash = cfg.HashIdentity
	if p.hash == nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("proxy: identity key: %w", err)
		}
		p.hash = func(b []byte) string {
			m := hmac.New(sha256.New, key)
			m.Write(b)
			return hex.EncodeToString(m.Sum(nil)[:4])
		}
	}
	transport := cfg.Transport
	if t, ok := transport.(*http.Transport); ok && !t.DisableCompression {
		t = t.Clone()
		t.DisableCompression = true
		transport = t
	}
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		t.MaxIdleConnsPerHost = 256
		t.ForceAttemptHTTP2 = false
		transport = t
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.rec = newRecorder(cfg.Sink, cfg.QueueSize, p.log)
	return p, nil
}

// Origin is the wall-clock instant of offset zero of the proxy's default
// clock: put it in the corpus header's ClockOrigin.
func (p *Proxy) Origin() time.Time { return p.origin }

// Now returns the proxy clock's current offset.
func (p *Proxy) Now() time.Duration { return p.clock() }

type connKey struct{}

type connInfo struct {
	id     uint64
	remote string
	conn   net.Conn     // nil when not served through ConnContext
	scan   *headScanner // nil when the listener is not Serve's
	tls    bool         // the client spoke TLS to the proxy
}

// ConnContext gives every client connection its ID. Serve installs it;
// set it as http.Server.ConnContext when serving the Proxy yourself
// (without it every request counts as its own connection).
func (p *Proxy) ConnContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{id: p.conns.Add(1), remote: c.RemoteAddr().String(), conn: c}
	if sc, ok := c.(*scanConn); ok {
		ci.scan = sc.scan
		c = sc.Conn
	}
	_, ci.tls = c.(*tls.Conn)
	return context.WithValue(ctx, connKey{}, ci)
}

// Serve accepts connections on ln until ctx ends, then shuts down: it
// waits up to ShutdownGrace for requests in flight, ends open WebSocket
// connections (recorded as closed abnormally by the shutdown), and returns
// once every handler has finished. Call Close afterwards to flush the
// records to the sink.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ConnContext:       p.ConnContext,
		ReadHeaderTimeout: time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if p.cfg.TLS != nil {
		cfg := p.cfg.TLS.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(scanListener{ln}) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	p.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownGrace)
	defer cancel()
	go func() {
		// Shutdown does not wait for hijacked (WebSocket) connections:
		// end them so their handlers return.
		<-sctx.Done()
		p.closeWebSockets()
	}()
	p.closeWebSockets()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownGrace):
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

func (p *Proxy) closeWebSockets() {
	p.wsMu.Lock()
	taps := make([]*wsTap, 0, len(p.ws))
	for t := range p.ws {
		taps = append(taps, t)
	}
	p.wsMu.Unlock()
	for _, t := range taps {
		t.shutdown()
	}
}

// Close stops recording and waits until every record produced so far has
// been handed to the sink. It does not close the sink. Traffic still
// passing after Close is proxied but not recorded (counted as lost).
func (p *Proxy) Close() error {
	p.rec.close()
	return nil
}

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Exchanges:  p.exchanges.Load(),
		Errors:     p.errs.Load(),
		WSConns:    p.wsConns.Load(),
		WSMessages: p.wsMsgs.Load(),
		BytesIn:    p.bytesIn.Load(),
		BytesOut:   p.bytesOut.Load(),
		Written:    p.rec.written.Load(),
		Lost:       p.rec.lost.Load(),
		SinkErr:    p.rec.err(),
	}
}

// exchangeState follows one request through the ReverseProxy hooks.
type exchangeState struct {
	p      *Proxy
	conn   *connInfo
	flow   string
	start  time.Duration
	req    traffic.Request
	reqLen int64
	reqTee *teeBody
	// expectContinue: the client waits for 100 Continue before it sends
	// the body.
	expectContinue bool

	mu        sync.Mutex
	wrote     time.Duration
	firstByte time.Duration
	headAt    time.Duration // the final response head arrived
	interim   []int
	server    string
	resp      *traffic.Response
	respLen   int64
	respTee   *teeBody
	err       string
	flags     uint32
	ws        *wsTap
	upgraded  bool
}

type stateKey struct{}

// ServeHTTP proxies one request and records it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		ci = &connInfo{id: p.conns.Add(1), remote: r.RemoteAddr}
	}
	x := &exchangeState{p: p, conn: ci, start: p.clock()}
	x.flow = p.flowKey(r, ci.id)
	x.req = traffic.Request{
		Method: r.Method,
		URL:    r.RequestURI,
		Host:   r.Host,
		Scheme: "http",
		Proto:  r.Proto,
	}
	if ci.scan != nil {
		x.req.Header = ci.scan.take(r.Method, r.RequestURI)
	}
	if x.req.Header == nil {
		x.req.Header = requestFields(r)
	}
	if r.TLS != nil || ci.tls {
		x.req.Scheme = "https"
	}
	x.reqLen = r.ContentLength
	body := r.Body
	if body != nil && body != http.NoBody {
		x.reqTee = newTeeBody(body, p.cfg.MaxBody, p.clock)
		x.expectContinue = httpguts.HeaderValuesContainsToken(r.Header.Values("Expect"), "100-continue")
		// The transport sends the body upstream while the response comes
		// back: without this, net/http would consume and close the body
		// as soon as the response head is written, under the transport's
		// feet (it would then fail reading "a closed body"), and would
		// hold the head back while the client was still sending.
		http.NewResponseController(w).EnableFullDuplex()
		defer x.reqTee.seal()
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			x.mu.Lock()
			x.server = info.Conn.RemoteAddr().String()
			x.mu.Unlock()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			x.mu.Lock()
			x.wrote = p.clock()
			x.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			x.mu.Lock()
			x.firstByte = p.clock()
			x.mu.Unlock()
		},
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			x.mu.Lock()
			x.interim = append(x.interim, code)
			x.mu.Unlock()
			return nil
		},
	}
	ctx := context.WithValue(r.Context(), stateKey{}, x)
	r = r.WithContext(httptrace.WithClientTrace(ctx, trace))
	if x.reqTee != nil {
		// On the copy only: net/http looks at the request's own body after
		// the handler to decide whether the connection can be kept (a
		// client that waited in vain for 100 Continue has not sent it).
		r.Body = x.reqTee
	}
	defer func() {
		if v := recover(); v != nil {
			// ReverseProxy aborts the response with ErrAbortHandler when
			// copying the body fails: record what was seen, then let the
			// server drop the client connection.
			x.finish(r.Context().Err(), true)
			panic(v)
		}
	}()
	p.rp.ServeHTTP(w, r)
	x.endRequestBody(w, r)
	x.finish(r.Context().Err(), false)
}

// endRequestBody ends the transport's use of the request body before the
// handler returns (net/http forbids reading it afterwards), and reads into
// the record what is left of a body the upstream answered without reading
// to its end. ReverseProxy refuses the transport further reads once it
// returns, but a read may still be in progress: endRequestBody seals the
// body and waits for that read. The client has its response first; the
// waiting and reading are bounded in time (bodyDrainTimeout) and the
// reading in bytes, and there is no reading when the client is gone or
// never sent the body (it waited for a 100 Continue that did not come).
func (x *exchangeState) endRequestBody(w http.ResponseWriter, r *http.Request) {
	t := x.reqTee
	if t == nil {
		return
	}
	t.seal()
	x.mu.Lock()
	upgraded := x.ws != nil || x.upgraded
	x.mu.Unlock()
	if upgraded || t.atEOF() {
		return
	}
	rc := http.NewResponseController(w)
	if r.Context().Err() == nil {
		rc.Flush()
	}
	// The deadline also bounds net/http's own reading of what is left
	// (below, or when the handler returns); net/http sets the
	// connection's deadline afresh before reading the next request.
	rc.SetReadDeadline(time.Now().Add(bodyDrainTimeout))
	t.readMu.Lock()
	defer t.readMu.Unlock()
	left, ok := t.rest(x.reqLen, x.expectContinue)
	limit := max(x.p.cfg.MaxBody, minBodyDrain)
	if ok && left <= limit && r.Context().Err() == nil {
		t.drainLocked(limit)
	}
	if !t.atEOF() {
		// Too much to read, or the client stopped sending: close the
		// body now rather than when the handler returns, which in
		// full-duplex mode can make net/http read the connection twice at
		// once (golang/go#68560). net/http then keeps the connection if
		// the body ends within its own limit and closes it otherwise.
		t.rc.Close()
	}
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	if p.cfg.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	// Rewrite strips forwarding headers; a recorder must not change what
	// the upstream sees, so put the client's own back.
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	x, _ := res.Request.Context().Value(stateKey{}).(*exchangeState)
	if x == nil {
		return nil
	}
	resp := &traffic.Response{
		Status: res.StatusCode,
		Reason: strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode))),
		Proto:  res.Proto,
		Header: sortedFields(res.Header),
	}
	x.mu.Lock()
	x.headAt = p.clock()
	resp.Interim = append([]int(nil), x.interim...)
	x.resp = resp
	x.respLen = res.ContentLength
	x.mu.Unlock()
	if res.StatusCode == http.StatusSwitchingProtocols {
		if isWebSocket(res.Request.Header) && isWebSocket(res.Header) {
			if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
				tap := x.openWebSocket(res, rwc)
				res.Body = tap
				return nil
			}
		}
		x.mu.Lock()
		x.upgraded = true
		x.mu.Unlock()
		return nil
	}
	x.mu.Lock()
	x.respTee = newTeeBody(res.Body, p.cfg.MaxBody, p.clock)
	x.mu.Unlock()
	res.Body = x.respTee
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x, _ := r.Context().Value(stateKey{}).(*exchangeState)
	msg := classify(err, r.Context())
	if x != nil {
		x.mu.Lock()
		if x.err == "" {
			x.err = msg
		}
		x.mu.Unlock()
	}
	// After a WebSocket hijack this write goes nowhere, harmlessly.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "reprise proxy: %s\n", msg)
}

// exchange builds the Exchange record as seen so far.
func (x *exchangeState) exchange(end time.Duration) traffic.Exchange {
	ex := traffic.Exchange{
		Flow:    x.flow,
		ConnID:  x.conn.id,
		Start:   x.start,
		Request: x.req,
		Client:  x.conn.remote,
		Server:  x.server,
		Error:   x.err,
		Flags:   x.flags,
	}
	if x.reqTee != nil {
		b, err := x.reqTee.body(x.reqLen)
		ex.Request.Body = b
		if err != nil && ex.Error == "" {
			ex.Error = "client: request body: " + shortErr(err)
			ex.Flags |= traffic.FlagIncomplete
		}
	}
	if x.resp != nil {
		resp := *x.resp
		ex.Response = &resp
		if x.respTee != nil {
			b, err := x.respTee.body(x.respLen)
			resp.Body = b
			if err != nil && ex.Error == "" {
				ex.Error = "upstream: response body: " + shortErr(err)
				ex.Flags |= traffic.FlagIncomplete
			}
			if last := x.respTee.lastRead(); last > 0 {
				end = last
			}
		}
	} else {
		ex.Flags |= traffic.FlagNoResponse
	}
	x.timing(&ex.Timing, end)
	return ex
}

// timing sets the phases of an exchange that ended at end. They follow
// each other and never overlap, so none is negative: Send runs from the
// start to when the request was written upstream, Wait to the first byte
// of the final response, Receive to its last byte.
//
// The upstream may begin its answer before the transport reports the
// request written: when it answers before reading the whole body, and
// whenever the transport's last look at the body (the check that a
// Content-Length body has ended) runs late. Send then ends with the last
// request byte read before the answer began, or at the answer. After 1xx
// interim responses (100 Continue, 103 Early Hints), whose first byte
// httptrace reports, the final response begins when its head arrived.
func (x *exchangeState) timing(t *traffic.Timing, end time.Duration) {
	first := x.firstByte
	if len(x.interim) > 0 && x.headAt > 0 {
		first = x.headAt
	}
	sent := x.wrote
	if first > 0 && (sent == 0 || sent > first) {
		sent = first
		if x.reqTee != nil {
			if last := x.reqTee.lastRead(); last > x.start && last < first {
				sent = last
			}
		}
	}
	if sent > 0 {
		t.Send = max(sent-x.start, 0)
		if first > 0 {
			t.Wait = first - sent
		}
	}
	if first > 0 && end > first {
		t.Receive = end - first
	}
	t.Total = max(end-x.start, 0)
}

// finish records the exchange once ReverseProxy is done with it. aborted
// is set when the response copy failed part way.
func (x *exchangeState) finish(clientErr error, aborted bool) {
	p := x.p
	end := p.clock()
	x.mu.Lock()
	defer x.mu.Unlock()
	if t := x.ws; t != nil {
		// Recorded by the WebSocket tap. ReverseProxy has closed it unless
		// the switch failed before the relay began; closing again is
		// harmless and ends the record either way.
		x.mu.Unlock()
		t.Close()
		x.mu.Lock()
		return
	}
	if aborted {
		x.flags |= traffic.FlagIncomplete
		if x.err == "" {
			var respErr error
			if x.respTee != nil {
				respErr = x.respTee.readErr()
			}
			switch {
			case respErr != nil:
				x.err = "upstream: response body: " + shortErr(respErr)
			case clientErr != nil:
				x.err = "client: gone before the response was sent"
			default:
				x.err = "client: response write failed"
			}
		}
	}
	if x.upgraded {
		x.flags |= traffic.FlagUpgrade
	}
	ex := x.exchange(end)
	if ex.Response == nil && ex.Error == "" && clientErr != nil {
		ex.Error = "client: canceled"
	}
	p.exchanges.Add(1)
	if ex.Error != "" {
		p.errs.Add(1)
	}
	p.bytesIn.Add(max(ex.Request.Body.Size, 0))
	if ex.Response != nil {
		p.bytesOut.Add(max(ex.Response.Body.Size, 0))
	}
	p.rec.put(traffic.Record{Kind: traffic.KindExchange, Exchange: &ex})
}

// flowKey is the default flow key: the hashed credential when the request
// carries one, else the client connection.
func (p *Proxy) flowKey(r *http.Request, connID uint64) string {
	if p.cfg.FlowKey != nil {
		return p.cfg.FlowKey(r, connID)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, secret := redact.Credential(auth)
		return "auth:" + p.hash([]byte(secret))
	}
	q := r.URL.Query()
	for _, name := range []string{"token", "access_token"} {
		if v := q.Get(name); v != "" {
			return "auth:" + p.hash([]byte(v))
		}
	}
	return "conn:" + strconv.FormatUint(connID, 10)
}

// requestFields returns the request's header fields with Host first (as
// an HTTP/1.1 client sends it) and the rest in canonical name order.
func requestFields(r *http.Request) traffic.Fields {
	f := make(traffic.Fields, 0, len(r.Header)+1)
	if r.Host != "" {
		f = append(f, traffic.Field{Name: "Host", Value: r.Host})
	}
	return append(f, sortedFields(r.Header)...)
}

// sortedFields lists a header in name order, the order in which net/http
// writes it.
func sortedFields(h http.Header) traffic.Fields {
	names := make([]string, 0, len(h))
	n := 0
	for k, v := range h {
		names = append(names, k)
		n += len(v)
	}
	sort.Strings(names)
	f := make(traffic.Fields, 0, n)
	for _, k := range names {
		for _, v := range h[k] {
			f = append(f, traffic.Field{Name: k, Value: v})
		}
	}
	return f
}

func isWebSocket(h http.Header) bool {
	return httpguts.HeaderValuesContainsToken(h.Values("Upgrade"), "websocket")
}
