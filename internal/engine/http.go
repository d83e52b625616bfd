package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/jsonshape"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// maxKeptBody caps a response body kept for correlation.
const maxKeptBody = 1 << 20

// maxDecodedBody caps a kept body read through its content coding.
const maxDecodedBody = 16 << 20

// maxShapeBody caps the bodies whose JSON shape is taken.
const maxShapeBody = 64 << 10

// isJSON reports whether a Content-Type names JSON.
func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "json")
}

// hop-by-hop and per-connection headers are never replayed as recorded.
var skipHeaders = []string{
	"host", "content-length", "connection", "keep-alive", "proxy-connection",
	"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
}

// skipHeader reports whether a recorded header is one of skipHeaders or
// an HTTP/2 pseudo-header, whatever its case (without lowering it).
func skipHeader(name string) bool {
	if strings.HasPrefix(name, ":") {
		return true
	}
	for _, s := range skipHeaders {
		if len(s) == len(name) && strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

// exchange sends one recorded exchange and settles its ticket. It runs on
// a goroutine of its own.
func (l *lane) exchange(ctx context.Context, ev schedule.Event, t *ticket, step *flowStep, rw correlate.Rewrite, client *http.Client, held bool) {
	defer l.wg.Done()
	defer close(step.done)
	defer step.markWritten()

	x := ev.Record.Exchange
	fx := ev.Facts
	// A predecessor only written (the open model) and stuck past the
	// deadline does not hold the flow hostage: the request goes anyway,
	// late, and its latency says so. One whose answer the recorded client
	// waited for is waited for however long it takes.
	if held {
		// The dispatcher took the request's slot (max rate).
		defer l.release()
	}
	wait := ev.At + l.cfg.MaxLag
	if step.answered || held {
		wait = -1
	}
	l.waitFor(ctx, step.prev, wait)
	live, ok := l.dependencies(ctx, t.plan)
	if !ok {
		t.notSent(ctx, traffic.NotSentDependency)
		return
	}
	q := rw.Request(x.Request, live)
	if !held {
		// The in-flight limit's deadline runs from when the request was
		// free to go: waiting for its dependencies is not lateness.
		if !l.acquire(ctx, max(ev.At, l.now())+l.cfg.MaxLag) {
			t.notSent(ctx, traffic.NotSentInFlight)
			return
		}
		defer l.release()
	}
	res := t.res

	// The request's phases: straight from the lane's own client, else
	// from an httptrace on the transport's goroutines (hence atomics).
	// The lane's own client takes the timeout as a deadline and watches
	// the run's context itself: no context per request.
	ph := &t.ph
	ph.now, ph.written = l.now, step.markWritten
	reqCtx := ctx
	h1 := l.direct(client)
	if h1 == nil {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(httptrace.WithClientTrace(ctx, ph.trace()), l.cfg.Timeout)
		defer cancel()
	}
	deadline := time.Now().Add(l.cfg.Timeout)
	req, err := l.buildRequest(reqCtx, &q, l.parsed(x.Request.URL, q.URL, fx), h1 != nil)
	if err != nil {
		res.Error = ErrOther
		res.Sent = l.now()
		res.Latency = res.Sent - ev.At
		t.settle(res)
		l.cfg.Logger.Warn("cannot build request", "url", q.URL, "err", err)
		return
	}
	res.BytesSent = requestSize(req, len(q.Body.Data))

	res.Sent = l.now()
	// A mutation of a flow with open WebSockets may cause pushes: it is
	// known to the push matcher from the moment it is sent.
	var mut *mutation
	if isMutation(q.Method) {
		mut = l.ws.sendMutation(x.Flow, req.URL.Path, q.Body.Data, res.Sent)
	}
	resp, err := l.do(ctx, client, h1, req, ph, deadline)
	var body []byte
	wantShape := false
	if err == nil {
		step.markWritten()
		res.Status = resp.StatusCode
		res.BytesReceived = responseHeadSize(resp)
		wantShape = !l.cfg.NoShapes && isJSON(resp.Header.Get("Content-Type")) && (resp.ContentLength <= maxShapeBody || resp.Header.Get("Content-Encoding") != "")
		var n int64
		body, n, err = readBody(resp, (t.plan != nil && t.plan.NeedBody()) || mut != nil || wantShape || l.cfg.Observe != nil)
		res.BytesReceived += n
		if err != nil {
			// The status arrived but the body did not: a failure.
			res.Status = 0
		}
		// Correlation, shapes and push matching read what the client
		// would: the body through its content coding.
		body = l.decode(resp.Header, body)
	}
	done := l.now()
	step.markWritten()
	// Shapes of JSON responses only, whether or not the body was also
	// kept for correlation or push matching.
	if wantShape && res.Status > 0 && len(body) > 0 && len(body) <= maxShapeBody {
		res.Shape, _ = jsonshape.Of(body)
		res.ExpectedShape = fx.Shape()
	}
	ph.fill(&res, done)
	res.Service = done - res.Sent
	// The dispatcher may fire up to a tick early: latency never counts
	// less than the service time.
	res.Latency = max(done-ev.At, res.Service)
	if err != nil {
		res.Error = l.classify(err)
	}
	if mut != nil {
		l.ws.answerMutation(x.Flow, mut, err == nil && res.Status < 300, body)
	}
	if l.cfg.Observe != nil {
		o := Observation{Seq: ev.Seq, Kind: traffic.ResultHTTP, Endpoint: res.Endpoint, Status: res.Status, Body: body}
		if resp != nil {
			o.Header = resp.Header
		}
		l.cfg.Observe(o)
	}
	if t.plan != nil {
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		t.plan.Done(res.Status, h, body, err)
	}
	t.settle(res)
}

// direct returns the lane's own client of an exchange's client when
// requests go straight to it (see do), nil otherwise.
func (l *lane) direct(client *http.Client) *h1Transport {
	if l.cfg.FollowRedirects || l.cfg.Target.User != nil {
		return nil
	}
	h1, _ := client.Transport.(*h1Transport)
	return h1
}

// do sends req through client. Unless redirects are followed (or the
// target carries credentials for the client to send), it goes straight to
// the client's transport: http.Client.Do would copy every request's
// headers for redirects that are never followed. The lane's own client
// (h1, from direct) reports the request's phases to ph itself and ends
// the request at deadline. Errors read as the client's.
func (l *lane) do(ctx context.Context, client *http.Client, h1 *h1Transport, req *http.Request, ph *phases, deadline time.Time) (*http.Response, error) {
	if l.cfg.FollowRedirects || req.URL.User != nil {
		return client.Do(req)
	}
	var resp *http.Response
	var err error
	if h1 != nil {
		// buildRequest put the request on the target, and gave it no
		// context: the lane's own client bounds it.
		resp, err = h1.roundTrip(req, ph, h1Until{ctx: ctx, deadline: deadline, sticky: true})
	} else {
		resp, err = client.Transport.RoundTrip(req)
	}
	if err != nil {
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return nil, &url.Error{Op: op, URL: req.URL.String(), Err: err}
	}
	return resp, nil
}

// dependencies waits for the responses a plan depends on, however slow
// the target (each of them ends within its own timeout), and returns the
// live values to send; false when a producer failed (or the run ended).
func (l *lane) dependencies(ctx context.Context, plan correlate.Plan) ([]string, bool) {
	if plan == nil {
		return nil, true
	}
	if err := plan.Wait(ctx); err != nil {
		return nil, false
	}
	return plan.Live(), true
}

// decode reads a live body through the content coding its header names;
// a body that cannot be read is counted by cause and given as nil.
func (l *lane) decode(h http.Header, raw []byte) []byte {
	ce := h.Values("Content-Encoding")
	if len(raw) == 0 || len(ce) == 0 {
		return raw
	}
	res, err := coding.DecodeCodings(coding.Parse(ce...), raw, maxDecodedBody)
	if err != nil {
		l.undecodedMu.Lock()
		l.undecoded[err.Error()]++
		l.undecodedMu.Unlock()
		return nil
	}
	return res.Data
}

// readBody reads a response to its end; keep keeps up to maxKeptBody of
// it. It returns the kept bytes and how many were read.
func readBody(resp *http.Response, keep bool) ([]byte, int64, error) {
	defer resp.Body.Close()
	if !keep {
		n, err := io.Copy(io.Discard, resp.Body)
		return nil, n, err
	}
	// Sized once when the length is known (the common case), one byte
	// over so that the read meeting the end does not grow it.
	size := int64(512)
	if resp.ContentLength >= 0 {
		size = min(resp.ContentLength, maxKeptBody) + 1
	}
	buf, err := readAll(resp.Body, make([]byte, 0, size), maxKeptBody)
	n := int64(len(buf))
	if err == nil {
		var m int64
		m, err = io.Copy(io.Discard, resp.Body)
		n += m
	}
	return buf, n, err
}

// readAll is io.ReadAll into buf, of at most limit bytes.
func readAll(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) >= limit {
			return buf, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return buf, err
		}
	}
}

type notSentError struct{}

func (notSentError) Error() string { return "request not sent" }

var errNotSent error = notSentError{}

var errSkipped = errors.New("request skipped")

// parsed returns the parsed request target sent: the record's, parsed
// once by analysis, unless the event's rewrite changed it.
func (l *lane) parsed(recorded, sent string, fx *analysis.Facts) *url.URL {
	if sent == recorded && fx != nil && fx.URL != nil {
		return fx.URL
	}
	u, err := url.Parse(sent)
	if err != nil {
		return nil
	}
	return u
}

// buildRequest makes the live request for a recorded one whose request
// target parses to target (nil when it does not parse). A request for
// the lane's own client (direct) carries no context (the client is given
// the run's) and a body it can read again without a GetBody closure.
func (l *lane) buildRequest(ctx context.Context, q *traffic.Request, target *url.URL, direct bool) (*http.Request, error) {
	if target == nil {
		return nil, fmt.Errorf("recorded URL %q does not parse", q.URL)
	}
	u := l.join(target, l.cfg.Target.Scheme)
	method := q.Method
	if method == "" {
		method = http.MethodGet
	}
	var req *http.Request
	if direct {
		req = &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody}
		if len(q.Body.Data) > 0 {
			req.Body, req.ContentLength = newReplayBody(q.Body.Data), int64(len(q.Body.Data))
		}
	} else {
		var body io.Reader = http.NoBody
		if len(q.Body.Data) > 0 {
			body = bytes.NewReader(q.Body.Data)
		}
		// The URL is set as a value, never printed and parsed again.
		var err error
		if req, err = http.NewRequestWithContext(ctx, method, "", body); err != nil {
			return nil, err
		}
		req.URL = u
	}
	req.Host = u.Host
	req.Header = l.header(q.Header)
	l.reorigin(req.Header, q.Host)
	if !direct {
		// The lane's own client resends any method itself.
		resendable(req.Header)
	}
	return req, nil
}

// resendable lets the transport send a request again, once, on a new
// connection, whatever its method, when the pooled connection it went out
// on was closed by the server before any byte of an answer came: the
// server's keep-alive timeout ran out as the request was sent, so it
// never read it. Browsers send such a request again; the transport does
// only for requests it deems idempotent, which an Idempotency-Key header
// with no value marks without sending anything. The result says Resent.
func resendable(h http.Header) {
	if _, ok := h["Idempotency-Key"]; ok {
		return
	}
	if _, ok := h["X-Idempotency-Key"]; ok {
		return
	}
	h["Idempotency-Key"] = nil
}

// header builds live headers from recorded ones: hop-by-hop fields
// dropped, auth and user rules applied. The values share one array (a
// header's slice is capped, so a second value of it copies).
func (l *lane) header(recorded traffic.Fields) http.Header {
	h := make(http.Header, len(recorded)+len(l.cfg.SetHeaders))
	vals := make([]string, 0, len(recorded)+len(l.cfg.SetHeaders))
	one := func(v string) []string {
		vals = append(vals, v)
		n := len(vals)
		return vals[n-1 : n : n]
	}
	for _, f := range recorded {
		if skipHeader(f.Name) {
			continue
		}
		v := f.Value
		if l.cfg.AuthToken != "" && strings.EqualFold(f.Name, "authorization") {
			if _, ok := traffic.Bearer(v); ok {
				v = "Bearer " + l.cfg.AuthToken
			}
		}
		name := http.CanonicalHeaderKey(f.Name)
		if vs, ok := h[name]; ok {
			h[name] = append(vs, v)
		} else {
			h[name] = one(v)
		}
	}
	// Every key of h is canonical: a rule's name finds its header by the
	// canonical form, whatever its case.
	for _, name := range l.cfg.DropHeaders {
		delete(h, http.CanonicalHeaderKey(name))
	}
	for _, f := range l.cfg.SetHeaders {
		h[http.CanonicalHeaderKey(f.Name)] = one(f.Value)
	}
	return h
}

// reorigin points Origin and Referer headers that named the recorded host
// at the target instead, as a browser of the new deployment would send
// them (servers check Origin on WebSocket upgrades and CORS requests).
func (l *lane) reorigin(h http.Header, recordedHost string) {
	t := l.cfg.Target
	for _, name := range []string{"Origin", "Referer"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (recordedHost != "" && !strings.EqualFold(u.Host, recordedHost)) {
			continue
		}
		u.Host = t.Host
		if u.Scheme == "http" || u.Scheme == "https" {
			u.Scheme = t.Scheme
		}
		h.Set(name, u.String())
	}
}

// replayBody is a request body of recorded bytes, read again (from its
// start) for another attempt.
type replayBody struct {
	bytes.Reader
	data []byte
}

func newReplayBody(data []byte) *replayBody {
	b := &replayBody{data: data}
	b.Reset(data)
	return b
}

func (*replayBody) Close() error { return nil }

// requestSize estimates the bytes of a request on the wire (HTTP/1.1
// framing).
func requestSize(req *http.Request, body int) int64 {
	uri := max(len(req.URL.EscapedPath()), 1) // an empty path goes as "/"
	if req.URL.RawQuery != "" || req.URL.ForceQuery {
		uri += 1 + len(req.URL.RawQuery)
	}
	n := len(req.Method) + 1 + uri + len(" HTTP/1.1\r\n") + len("Host: \r\n") + len(req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if body > 0 {
		n += len("Content-Length: \r\n") + 4
	}
	return int64(n + 2 + body)
}

func responseHeadSize(resp *http.Response) int64 {
	n := len("HTTP/1.1 200 ") + len(http.StatusText(resp.StatusCode)) + 2
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return int64(n + 2)
}

// phases times a request's phases as k6 names them, from the events of
// the lane's own client (h1Events) or of an httptrace, which arrive on
// the transport's goroutines (hence atomics; each holds the runner
// clock's reading, 0 when the event did not happen).
type phases struct {
	getConn, dnsStart, connectStart, connectDone atomic.Int64
	tlsStart, tlsDone, gotConn, wrote, firstByte atomic.Int64
	writes                                       atomic.Int32 // times the request was written
	now                                          func() time.Duration
	written                                      func() // called as the request is written
}

// at notes the clock in v, once.
func (p *phases) at(v *atomic.Int64) { v.CompareAndSwap(0, int64(p.now())) }

func (p *phases) GetConn(string)                        { p.at(&p.getConn) }
func (p *phases) ConnectStart()                         { p.at(&p.connectStart) }
func (p *phases) ConnectDone()                          { p.connectDone.Store(int64(p.now())) }
func (p *phases) GotConn(httptrace.GotConnInfo)         { p.at(&p.gotConn) }
func (p *phases) GotFirstResponseByte()                 { p.at(&p.firstByte) }
func (p *phases) Got1xxResponse(int, http.Header) error { return nil }
func (p *phases) WroteRequest(err error) {
	p.at(&p.wrote)
	if err == nil {
		p.writes.Add(1)
	}
	p.written()
}

// trace is an httptrace reporting to p, for net/http's transport.
func (p *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              p.GetConn,
		DNSStart:             func(httptrace.DNSStartInfo) { p.at(&p.dnsStart) },
		ConnectStart:         func(string, string) { p.ConnectStart() },
		ConnectDone:          func(string, string, error) { p.ConnectDone() },
		TLSHandshakeStart:    func() { p.at(&p.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { p.tlsDone.Store(int64(p.now())) },
		GotConn:              p.GotConn,
		WroteRequest:         func(i httptrace.WroteRequestInfo) { p.WroteRequest(i.Err) },
		GotFirstResponseByte: p.GotFirstResponseByte,
	}
}

// fill sets the phases of res, done being when the body was read. As in
// k6: blocked runs from asking the pool for a connection to the start of
// DNS or dialing (or to getting a reused connection), connecting is the
// TCP dial, sending ends when the request is written, waiting at the
// first response byte and receiving at the end of the body.
func (p *phases) fill(res *traffic.Result, done time.Duration) {
	span := func(from, to int64) time.Duration {
		if from == 0 || to < from {
			return 0
		}
		return time.Duration(to - from)
	}
	get, got := p.getConn.Load(), p.gotConn.Load()
	unblocked := got
	for _, v := range []int64{p.connectStart.Load(), p.dnsStart.Load()} {
		if v != 0 && (unblocked == 0 || v < unblocked) {
			unblocked = v
		}
	}
	res.Blocked = span(get, unblocked)
	res.Resent = p.writes.Load() > 1
	res.Connecting = span(p.connectStart.Load(), p.connectDone.Load())
	res.TLSHandshaking = span(p.tlsStart.Load(), p.tlsDone.Load())
	wrote, first := p.wrote.Load(), p.firstByte.Load()
	res.Sending = span(got, wrote)
	res.Waiting = span(wrote, first)
	if first != 0 {
		res.Receiving = span(first, int64(done))
	}
}

// targetURL joins the target with a recorded request target.
func (l *lane) targetURL(recorded string, scheme string) (*url.URL, error) {
	u, err := url.Parse(recorded)
	if err != nil {
		return nil, fmt.Errorf("recorded URL %q: %w", recorded, err)
	}
	return l.join(u, scheme), nil
}

// join puts a parsed recorded request target on the target, under its
// path, with scheme.
func (l *lane) join(u *url.URL, scheme string) *url.URL {
	t := *l.cfg.Target
	t.Scheme = scheme
	path := u.Path
	raw := u.RawPath
	if base := strings.TrimSuffix(t.Path, "/"); base != "" {
		path = base + path
		if raw != "" {
			raw = strings.TrimSuffix(t.RawPath, "/") + raw
		}
	}
	t.Path, t.RawPath = path, raw
	t.RawQuery = u.RawQuery
	t.Fragment = ""
	return &t
}
