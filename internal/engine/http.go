package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/jsonshape"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// maxKeptBody caps a response body kept for correlation.
const maxKeptBody = 1 << 20

// maxShapeBody caps the bodies whose JSON shape is taken.
const maxShapeBody = 64 << 10

// isJSON reports whether a Content-Type names JSON.
func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "json")
}

// hop-by-hop and per-connection headers are never replayed as recorded.
var skipHeaders = map[string]bool{
	"host": true, "content-length": true, "connection": true, "keep-alive": true,
	"proxy-connection": true, "proxy-authorization": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true,
}

func (r *runner) doHTTP(ctx context.Context, ev schedule.Event, prev <-chan struct{}, mine *flowStep, plan correlate.Plan, rw correlate.Rewrite) {
	defer r.wg.Done()
	var once sync.Once
	written := func() { once.Do(func() { close(mine.written) }) }
	defer close(mine.done)
	defer written()

	x := ev.Record.Exchange
	fx := ev.Facts
	res := traffic.Result{
		Kind:     traffic.ResultHTTP,
		Endpoint: fx.Endpoint.Name,
		Flow:     x.Flow,
		Copy:     ev.Copy,
		Intended: ev.At,
	}
	if x.Response != nil {
		res.Expected = x.Response.Status
	}
	deadline := ev.At + r.cfg.MaxLag
	notSent := func(reason string) {
		if ctx.Err() != nil {
			reason = traffic.NotSentRunEnded
		}
		res.NotSent = reason
		if plan != nil {
			plan.Done(0, nil, nil, errNotSent)
		}
		r.emit(res)
	}
	// A predecessor stuck past the deadline does not hold the flow
	// hostage: the request goes anyway, late, and its latency says so.
	r.waitFor(ctx, prev, deadline)
	var live []string
	if plan != nil {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := plan.Wait(wctx)
		cancel()
		if err != nil {
			notSent(traffic.NotSentDependency)
			return
		}
		live = plan.Live()
	}
	q := rw.Request(x.Request, live)
	if !r.acquire(ctx, deadline) {
		notSent(traffic.NotSentInFlight)
		return
	}
	defer r.release()

	req, err := r.buildRequest(ctx, &q)
	if err != nil {
		res.Error = ErrOther
		res.Sent = r.now()
		res.Latency = res.Sent - ev.At
		if plan != nil {
			plan.Done(0, nil, nil, err)
		}
		r.emit(res)
		r.cfg.Logger.Warn("cannot build request", "url", q.URL, "err", err)
		return
	}
	// The trace runs on the transport's goroutines: its times are atomics.
	var ph phases
	trace := ph.trace(r.now, written)
	reqCtx, cancel := context.WithTimeout(httptrace.WithClientTrace(ctx, trace), r.cfg.Timeout)
	defer cancel()
	req = req.WithContext(reqCtx)
	res.BytesSent = requestSize(req, len(q.Body.Data))

	res.Sent = r.now()
	// A mutation of a flow with open WebSockets may cause pushes: it is
	// known to the push matcher from the moment it is sent.
	var mut *mutation
	if isMutation(q.Method) && r.ws.flowHasOpen(x.Flow) {
		mut = r.ws.sendMutation(x.Flow, req.URL.Path, q.Body.Data, res.Sent)
	}
	resp, err := r.client.Do(req)
	var body []byte
	wantShape := false
	if err == nil {
		written()
		res.Status = resp.StatusCode
		res.BytesReceived = responseHeadSize(resp)
		var n int64
		watchPush := mut != nil
		wantShape = !r.cfg.NoShapes && isJSON(resp.Header.Get("Content-Type")) && resp.ContentLength <= maxShapeBody
		if (plan != nil && plan.NeedBody()) || watchPush || wantShape {
			var buf bytes.Buffer
			n, err = io.Copy(&buf, io.LimitReader(resp.Body, maxKeptBody))
			if err == nil {
				var m int64
				m, err = io.Copy(io.Discard, resp.Body)
				n += m
			}
			body = buf.Bytes()
		} else {
			n, err = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		res.BytesReceived += n
		if err != nil {
			// The status arrived but the body did not: a failure.
			res.Status = 0
		}
	}
	done := r.now()
	written()
	// Shapes of JSON responses only, whether or not the body was also
	// kept for correlation or push matching.
	if wantShape && res.Status > 0 && len(body) > 0 && len(body) <= maxShapeBody {
		res.Shape, _ = jsonshape.Of(body)
		res.ExpectedShape = fx.Shape
	}
	ph.fill(&res, done)
	res.Service = done - res.Sent
	// The dispatcher may fire up to a tick early: latency never counts
	// less than the service time.
	res.Latency = max(done-ev.At, res.Service)
	if err != nil {
		res.Error = classify(err)
	}
	if mut != nil {
		r.ws.answerMutation(x.Flow, mut, err == nil && res.Status < 300, body)
	}
	if plan != nil {
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		plan.Done(res.Status, h, body, err)
	}
	r.emit(res)
}

type notSentError struct{}

func (notSentError) Error() string { return "request not sent" }

var errNotSent error = notSentError{}

var errSkipped = errors.New("request skipped")

// buildRequest makes the live request for a recorded one.
func (r *runner) buildRequest(ctx context.Context, q *traffic.Request) (*http.Request, error) {
	u, err := r.targetURL(q.URL, r.cfg.Target.Scheme)
	if err != nil {
		return nil, err
	}
	var body io.Reader = http.NoBody
	if len(q.Body.Data) > 0 {
		body = bytes.NewReader(q.Body.Data)
	}
	method := q.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header = r.header(q.Header)
	r.reorigin(req.Header, q.Host)
	return req, nil
}

// header builds live headers from recorded ones: hop-by-hop fields
// dropped, auth and user rules applied.
func (r *runner) header(recorded traffic.Fields) http.Header {
	h := make(http.Header, len(recorded)+len(r.cfg.SetHeaders))
	for _, f := range recorded {
		lname := strings.ToLower(f.Name)
		if skipHeaders[lname] || strings.HasPrefix(lname, ":") {
			continue
		}
		v := f.Value
		if r.cfg.AuthToken != "" && lname == "authorization" && len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			v = "Bearer " + r.cfg.AuthToken
		}
		name := http.CanonicalHeaderKey(f.Name)
		h[name] = append(h[name], v)
	}
	// Every key of h is canonical: a rule's name finds its header by the
	// canonical form, whatever its case.
	for _, name := range r.cfg.DropHeaders {
		delete(h, http.CanonicalHeaderKey(name))
	}
	for _, f := range r.cfg.SetHeaders {
		h[http.CanonicalHeaderKey(f.Name)] = []string{f.Value}
	}
	return h
}

// reorigin points Origin and Referer headers that named the recorded host
// at the target instead, as a browser of the new deployment would send
// them (servers check Origin on WebSocket upgrades and CORS requests).
func (r *runner) reorigin(h http.Header, recordedHost string) {
	t := r.cfg.Target
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

// requestSize estimates the bytes of a request on the wire (HTTP/1.1
// framing).
func requestSize(req *http.Request, body int) int64 {
	n := len(req.Method) + 1 + len(req.URL.RequestURI()) + len(" HTTP/1.1\r\n") + len("Host: \r\n") + len(req.URL.Host)
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

// phases times a request's phases as k6 names them, from httptrace
// events that arrive on the transport's goroutines (hence atomics; each
// holds the runner clock's reading, 0 when the event did not happen).
type phases struct {
	getConn, dnsStart, connectStart, connectDone atomic.Int64
	tlsStart, tlsDone, gotConn, wrote, firstByte atomic.Int64
	writes                                       atomic.Int32 // times the request was written
}

func (p *phases) trace(now func() time.Duration, written func()) *httptrace.ClientTrace {
	at := func(v *atomic.Int64) { v.CompareAndSwap(0, int64(now())) }
	return &httptrace.ClientTrace{
		GetConn:           func(string) { at(&p.getConn) },
		DNSStart:          func(httptrace.DNSStartInfo) { at(&p.dnsStart) },
		ConnectStart:      func(string, string) { at(&p.connectStart) },
		ConnectDone:       func(string, string, error) { p.connectDone.Store(int64(now())) },
		TLSHandshakeStart: func() { at(&p.tlsStart) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { p.tlsDone.Store(int64(now())) },
		GotConn:           func(httptrace.GotConnInfo) { at(&p.gotConn) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			at(&p.wrote)
			if i.Err == nil {
				p.writes.Add(1)
			}
			written()
		},
		GotFirstResponseByte: func() { at(&p.firstByte) },
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
