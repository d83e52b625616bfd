package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/reprise/reprise/internal/traffic"
)

// nodeAcceptEncoding is what Node's fetch (undici) asks for by default.
const nodeAcceptEncoding = "gzip, deflate"

// nodeLikeClient behaves like Node's fetch on the wire: one keep-alive
// connection reused for every request, bodies received as sent (the
// caller asks for compression itself), and Expect: 100-continue honoured
// when a request carries it.
func nodeLikeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DisableCompression:    true,
			MaxConnsPerHost:       1,
			MaxIdleConnsPerHost:   1,
			ExpectContinueTimeout: 5 * time.Second,
		},
		Timeout: 10 * time.Second,
	}
}

// setNodeHeaders sets the header fields Node's fetch sends by default.
func setNodeHeaders(h http.Header) {
	h.Set("Accept", "*/*")
	h.Set("Accept-Language", "*")
	h.Set("Sec-Fetch-Mode", "cors")
	h.Set("User-Agent", "node")
	h.Set("Accept-Encoding", nodeAcceptEncoding)
	h.Set("Connection", "keep-alive")
}

// jsonBody returns a JSON document of about n bytes.
func jsonBody(n int) []byte {
	pad := max(n-len(`{"pad":""}`), 0)
	return []byte(`{"pad":"` + strings.Repeat("x", pad) + `"}`)
}

// codingUpstream answers like a Node or workerd API server, written on
// raw connections so that it can answer before it has read a request
// body (net/http's server reads the body first unless in full-duplex
// mode, which has golang/go#68560): JSON, compressed with gzip when the
// request accepts it, chunked, with keep-alive; after answering it reads
// and discards whatever is left of the body, as Node does. By path:
//
//	/read    reads the whole body, then answers (sending 100 Continue
//	         first when asked)
//	/decode  decodes one JSON value and answers without reading further
//	/early   answers without reading the body
//	/refuse  answers 401 without reading the body, and closes
//	/hold    reads the whole body, sends the head and the start of the
//	         answer, and the rest once hold() is closed
//	/once    reads the whole body and answers in a single write
//
// saw records the Accept-Encoding each request (X-Req) arrived with, nil
// when it had none.
type codingUpstream struct {
	URL  string
	hold func() <-chan struct{}

	mu  sync.Mutex
	saw map[string][]string
}

func newCodingUpstream(t *testing.T, hold func() <-chan struct{}) *codingUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &codingUpstream{URL: "http://" + ln.Addr().String(), hold: hold, saw: map[string][]string{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u.serveConn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return u
}

func (u *codingUpstream) acceptEncoding(id string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.saw[id]
}

func (u *codingUpstream) serveConn(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		u.mu.Lock()
		u.saw[r.Header.Get("X-Req")] = r.Header.Values("Accept-Encoding")
		u.mu.Unlock()
		expect := r.Header.Get("Expect") == "100-continue"
		got := -1
		switch r.URL.Path {
		case "/read", "/hold", "/once":
			if expect {
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			}
			b, _ := io.ReadAll(r.Body)
			got = len(b)
		case "/decode":
			var v any
			json.NewDecoder(r.Body).Decode(&v)
		case "/refuse":
			io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"+`{"error":"unauthorized"}`)
			return
		}
		var head bytes.Buffer
		head.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
		var buf bytes.Buffer // the chunked body written so far
		cw := httputil.NewChunkedWriter(&buf)
		var out io.Writer = cw
		var zw *gzip.Writer
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			head.WriteString("Content-Encoding: gzip\r\n")
			zw = gzip.NewWriter(cw)
			out = zw
		}
		head.WriteString("\r\n")
		fmt.Fprintf(out, `{"path":%q,"got":%d,`, r.URL.Path, got)
		if zw != nil {
			zw.Flush()
		}
		if r.URL.Path != "/once" {
			c.Write(head.Bytes())
			c.Write(buf.Bytes())
			head.Reset()
			buf.Reset()
		}
		if r.URL.Path == "/hold" {
			select {
			case <-u.hold():
			case <-time.After(5 * time.Second):
			}
		}
		fmt.Fprintf(out, `"pad":%q}`, strings.Repeat("answer ", 300))
		if zw != nil {
			zw.Close()
		}
		cw.Close()
		buf.WriteString("\r\n")
		if _, err := c.Write(append(head.Bytes(), buf.Bytes()...)); err != nil {
			return
		}
		// Keep the connection: read what is left of the body.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
	}
}

// heldEOFCheck makes a scheduling race deterministic. After sending a
// Content-Length body, http.Transport reads the body once more to check
// that it has ended. The upstream already has every byte and may answer
// at once; on a loaded machine that last read runs after the proxy has
// begun writing the response to the client. heldEOFCheck holds it until
// the proxy comes back for more of the response body (so the response
// head and first bytes have gone to the client), lets it run, and closes
// checked once it has.
type heldEOFCheck struct {
	base http.RoundTripper

	mu      sync.Mutex
	armed   bool // the next request with a body is held
	checked chan struct{}
}

// arm holds the next request with a body.
func (h *heldEOFCheck) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = true
	h.checked = make(chan struct{})
}

// checkedCh is closed once the armed request's end-of-body check ran.
func (h *heldEOFCheck) checkedCh() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checked
}

func (h *heldEOFCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	armed := h.armed && req.Body != nil
	if armed {
		h.armed = false
	}
	checked := h.checked
	h.mu.Unlock()
	if !armed {
		return h.base.RoundTrip(req)
	}
	release := make(chan struct{})
	out := req.Clone(req.Context())
	out.Body = &heldBody{rc: req.Body, release: release, checked: checked}
	res, err := h.base.RoundTrip(out)
	if err == nil {
		res.Body = &releasingBody{rc: res.Body, release: release, checked: checked}
	}
	return res, err
}

// heldBody holds the read after the end of the body until release.
type heldBody struct {
	rc               io.ReadCloser
	release, checked chan struct{}
	ended            bool
	once             sync.Once
}

func (b *heldBody) Read(p []byte) (int, error) {
	if !b.ended {
		n, err := b.rc.Read(p)
		b.ended = err == io.EOF
		return n, err
	}
	select {
	case <-b.release:
	case <-time.After(5 * time.Second):
	}
	defer b.once.Do(func() { close(b.checked) })
	return b.rc.Read(p)
}

func (b *heldBody) Close() error { return b.rc.Close() }

// releasingBody releases the held read when the response body is read a
// second time (its first read returns a few bytes only), and waits until
// the held read has run.
type releasingBody struct {
	rc               io.ReadCloser
	release, checked chan struct{}
	reads            int
}

func (b *releasingBody) Read(p []byte) (int, error) {
	b.reads++
	if b.reads == 1 && len(p) > 16 {
		p = p[:16] // make sure the proxy comes back for more
	}
	if b.reads == 2 {
		close(b.release)
		select {
		case <-b.checked:
		case <-time.After(5 * time.Second):
		}
	}
	return b.rc.Read(p)
}

func (b *releasingBody) Close() error { return b.rc.Close() }

// abandoningTransport stops sending a request body once the upstream has
// answered, as Go's HTTP/2 transport does and as any transport must when
// the upstream closes the connection after answering: after the first
// bytes it reads no more until the whole response is in, then gives up.
type abandoningTransport struct{ base http.RoundTripper }

func (a abandoningTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		return a.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	b := &abandonedBody{rc: req.Body, answered: make(chan struct{})}
	out.Body = b
	res, err := a.base.RoundTrip(out)
	if err != nil {
		close(b.answered)
		return nil, err
	}
	res.Body = &endSignal{rc: res.Body, done: b.answered}
	return res, nil
}

// endSignal closes done when the body ends or is closed.
type endSignal struct {
	rc   io.ReadCloser
	done chan struct{}
	once sync.Once
}

func (e *endSignal) Read(p []byte) (int, error) {
	n, err := e.rc.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.done) })
	}
	return n, err
}

func (e *endSignal) Close() error {
	e.once.Do(func() { close(e.done) })
	return e.rc.Close()
}

type abandonedBody struct {
	rc       io.ReadCloser
	answered chan struct{}
	n        int
}

func (b *abandonedBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		select {
		case <-b.answered:
		case <-time.After(5 * time.Second):
		}
		return 0, errors.New("upstream answered: request body abandoned")
	}
	n, err := b.rc.Read(p)
	b.n += n
	return n, err
}

func (b *abandonedBody) Close() error { return b.rc.Close() }

// sendStep is one request of a client script.
type sendStep struct {
	method, path string
	body         []byte
	chunked      bool // sent without Content-Length
	split        int  // > 0: send body[split:] only once the response head is in, in two writes 200 ms apart
	expect       bool // Expect: 100-continue
	held         bool // hold the transport's end-of-body check (heldEOFCheck)
	status       int  // the status the client must get (200 when zero)
	notSent      bool // the client never sends the body (refused before 100)
}

// sent is what the client saw of one step.
type sent struct {
	step         sendStep
	id           string
	raw          []byte // response body as received (not decoded)
	headFirst    bool   // split: the response head came before the rest was sent
	upstreamSaw  int    // the upstream's "got"
	contentCoded string
}

// runSteps sends the steps in order on one keep-alive client.
func runSteps(t *testing.T, base string, hold *heldEOFCheck, steps []sendStep) []sent {
	t.Helper()
	cl := nodeLikeClient()
	defer cl.CloseIdleConnections()
	var out []sent
	for i, s := range steps {
		s2 := sent{step: s, id: fmt.Sprint(i)}
		var body io.Reader
		var restSent chan bool
		var gotHead chan struct{}
		switch {
		case s.body == nil:
		case s.split > 0:
			pr, pw := io.Pipe()
			gotHead, restSent = make(chan struct{}), make(chan bool, 1)
			go func() {
				pw.Write(s.body[:s.split])
				headFirst := false
				select {
				case <-gotHead:
					headFirst = true
				case <-time.After(3 * time.Second):
				}
				restSent <- headFirst
				// The rest in two writes, apart: the end of the body comes
				// after the proxy has finished the response.
				rest := s.body[s.split:]
				pw.Write(rest[:len(rest)/2])
				time.Sleep(200 * time.Millisecond)
				pw.Write(rest[len(rest)/2:])
				pw.Close()
			}()
			body = pr
		default:
			body = bytes.NewReader(s.body)
		}
		req, err := http.NewRequest(s.method, base+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		setNodeHeaders(req.Header)
		req.Header.Set("X-Req", s2.id)
		if s.body != nil {
			req.Header.Set("Content-Type", "application/json")
			req.ContentLength = int64(len(s.body))
			if s.chunked {
				req.ContentLength = -1
				body = struct{ io.Reader }{body} // hide the length
				req.Body = io.NopCloser(body)
			}
		}
		if s.expect {
			req.Header.Set("Expect", "100-continue")
		}
		if s.held {
			hold.arm()
		}
		resp, err := cl.Do(req)
		if gotHead != nil {
			close(gotHead)
		}
		if err != nil {
			t.Fatalf("step %d %s %s: %v", i, s.method, s.path, err)
		}
		s2.raw, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			// Keep going: the record of this exchange says what happened.
			t.Errorf("step %d %s %s: response body: %v", i, s.method, s.path, err)
		}
		if restSent != nil {
			s2.headFirst = <-restSent
		}
		want := s.status
		if want == 0 {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Fatalf("step %d %s %s: status %d, want %d: %s", i, s.method, s.path, resp.StatusCode, want, s2.raw)
		}
		s2.contentCoded = resp.Header.Get("Content-Encoding")
		plain, err := decodeBody(s2.contentCoded, s2.raw)
		var v struct{ Got int }
		if err == nil && want == http.StatusOK {
			err = json.Unmarshal(plain, &v)
		}
		if err != nil {
			t.Errorf("step %d %s %s: response %.60q: %v", i, s.method, s.path, plain, err)
		}
		s2.upstreamSaw = v.Got
		out = append(out, s2)
	}
	return out
}

// decodeBody undoes a gzip Content-Encoding.
func decodeBody(coding string, b []byte) ([]byte, error) {
	if coding != "gzip" {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return plain, fmt.Errorf("gzip: %w", err)
	}
	return plain, nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// checkComplete asserts that every exchange the client completed is
// recorded as complete: its response, no error, its request body whole,
// the response body as it went on the wire, and no negative phase.
func checkComplete(t *testing.T, tp *testProxy, up *codingUpstream, got []sent) {
	t.Helper()
	xs := tp.Sink.Exchanges()
	if len(xs) != len(got) {
		t.Fatalf("%d exchanges recorded, want %d", len(xs), len(got))
	}
	byID := map[string]traffic.Exchange{}
	for _, x := range xs {
		byID[x.Request.Header.Get("X-Req")] = x
	}
	for _, s := range got {
		x, ok := byID[s.id]
		name := fmt.Sprintf("%s %s (%d bytes", s.step.method, s.step.path, len(s.step.body))
		if s.step.chunked {
			name += ", chunked"
		}
		name += ")"
		if !ok {
			t.Errorf("%s: not recorded", name)
			continue
		}
		if x.Error != "" || x.Has(traffic.FlagIncomplete) || x.Response == nil {
			t.Errorf("%s: recorded with error %q, flags %b, response %v: the client got the whole answer", name, x.Error, x.Flags, x.Response != nil)
		}
		if x.Response == nil {
			continue
		}
		tm := x.Timing
		if tm.Send < 0 || tm.Wait < 0 || tm.Receive < 0 || tm.Total <= 0 || tm.Send+tm.Wait+tm.Receive != tm.Total {
			t.Errorf("%s: timing send %v wait %v receive %v total %v", name, tm.Send, tm.Wait, tm.Receive, tm.Total)
		}
		rb := x.Request.Body
		switch {
		case s.step.notSent:
			if len(rb.Data) != 0 {
				t.Errorf("%s: recorded %d body bytes the client never sent", name, len(rb.Data))
			}
		case !bytes.Equal(rb.Data, s.step.body) || rb.Size != int64(len(s.step.body)) || rb.Truncated:
			t.Errorf("%s: request body recorded as %d bytes (size %d, truncated %v, sum %s), sent %d (sum %s)",
				name, len(rb.Data), rb.Size, rb.Truncated, sum(rb.Data), len(s.step.body), sum(s.step.body))
		}
		if s.step.split > 0 && !s.headFirst {
			t.Errorf("%s: the proxy held the response head until the client had sent its whole body", name)
		}
		if s.step.path == "/read" || s.step.path == "/hold" || s.step.path == "/once" {
			if s.upstreamSaw != len(s.step.body) {
				t.Errorf("%s: upstream received %d body bytes", name, s.upstreamSaw)
			}
		}
		if !bytes.Equal(x.Response.Body.Data, s.raw) || x.Response.Header.Get("Content-Encoding") != s.contentCoded {
			t.Errorf("%s: response recorded as %d bytes with Content-Encoding %q, client received %d with %q",
				name, len(x.Response.Body.Data), x.Response.Header.Get("Content-Encoding"), len(s.raw), s.contentCoded)
		}
		if ae := up.acceptEncoding(s.id); len(ae) != 1 || ae[0] != nodeAcceptEncoding {
			t.Errorf("%s: upstream got Accept-Encoding %q, the client sent %q", name, ae, nodeAcceptEncoding)
		}
	}
	if st := tp.Stats(); st.Errors != 0 {
		t.Errorf("proxy counted %d errors on exchanges that all completed", st.Errors)
	}
}

// TestNodeClientExchangesComplete reproduces what a Node client (fetch:
// keep-alive, default headers, JSON POST bodies) met through the proxy: a
// false "request body: invalid Read on closed Body" error and negative
// Wait timings on exchanges that completed.
func TestNodeClientExchangesComplete(t *testing.T) {
	tests := []struct {
		name  string
		steps []sendStep
		// oneConn: every request must reuse the client's first connection.
		oneConn bool
		// abandon: the transport stops sending bodies once answered.
		abandon bool
	}{
		{
			name: "keep-alive GETs and JSON POSTs",
			steps: []sendStep{
				{method: "GET", path: "/read"},
				{method: "POST", path: "/read", body: jsonBody(2)},
				{method: "POST", path: "/read", body: jsonBody(700)},
				{method: "POST", path: "/read", body: jsonBody(5000)},
				{method: "POST", path: "/read", body: jsonBody(70_000)},
				{method: "POST", path: "/read", body: jsonBody(300_000)},
				{method: "POST", path: "/read", body: jsonBody(900), chunked: true},
				{method: "POST", path: "/read", body: jsonBody(70_000), chunked: true},
				{method: "GET", path: "/read"},
			},
			oneConn: true,
		},
		{
			name: "end-of-body check after the response began",
			steps: []sendStep{
				{method: "POST", path: "/once", body: jsonBody(16_000), held: true},
				{method: "GET", path: "/read"},
				{method: "POST", path: "/once", body: jsonBody(70_000), held: true},
				{method: "POST", path: "/once", body: jsonBody(5000), held: true},
			},
			oneConn: true,
		},
		{
			name: "end-of-body check while the response streams",
			steps: []sendStep{
				{method: "POST", path: "/hold", body: jsonBody(16_000), held: true},
				{method: "POST", path: "/hold", body: jsonBody(70_000), held: true},
			},
			oneConn: true,
		},
		{
			name: "upstream answers before reading the whole body",
			steps: []sendStep{
				{method: "POST", path: "/early", body: jsonBody(3000), split: 1000},
				{method: "POST", path: "/early", body: jsonBody(40_000), split: 10, chunked: true},
				{method: "POST", path: "/decode", body: jsonBody(600), split: 600, chunked: true},
				{method: "POST", path: "/decode", body: jsonBody(20_000), split: 20_000, chunked: true},
				{method: "POST", path: "/early", body: jsonBody(500)},
				{method: "GET", path: "/read"},
			},
		},
		{
			name: "transport stops sending the body once answered",
			steps: []sendStep{
				{method: "POST", path: "/early", body: jsonBody(3000), split: 1000},
				{method: "POST", path: "/early", body: jsonBody(40_000), split: 10, chunked: true},
				{method: "POST", path: "/early", body: jsonBody(300_000), split: 100_000},
			},
			abandon: true,
		},
		{
			name: "Expect: 100-continue",
			steps: []sendStep{
				{method: "POST", path: "/read", body: jsonBody(20_000), expect: true},
				{method: "POST", path: "/refuse", body: jsonBody(20_000), expect: true, status: http.StatusUnauthorized, notSent: true},
				{method: "POST", path: "/read", body: jsonBody(900), expect: true, chunked: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.DisableCompression = true
			hold := &heldEOFCheck{base: base}
			up := newCodingUpstream(t, hold.checkedCh)
			var rt http.RoundTripper = hold
			if tt.abandon {
				rt = abandoningTransport{base: hold}
			}
			tp := startProxy(t, up.URL, func(c *Config) { c.Transport = rt })
			got := runSteps(t, tp.URL, hold, tt.steps)
			tp.stop()
			checkComplete(t, tp, up, got)
			if tt.oneConn {
				conns := map[uint64]bool{}
				for _, x := range tp.Sink.Exchanges() {
					conns[x.ConnID] = true
				}
				if len(conns) != 1 {
					t.Errorf("the client's keep-alive connection was not kept: %d connections recorded", len(conns))
				}
			}
		})
	}
}

// TestContentCodingAsOnTheWire checks that the proxy forwards the
// client's Accept-Encoding untouched (Go's transport would add gzip to a
// request without one, and decode the answer behind the client's back)
// and records compressed responses as they went on the wire.
func TestContentCodingAsOnTheWire(t *testing.T) {
	transports := []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"default transport", func() http.RoundTripper { return nil }},
		{"caller's http.Transport", func() http.RoundTripper { return &http.Transport{} }},
	}
	encodings := []struct {
		name   string
		accept []string // nil: no Accept-Encoding at all
		coded  string
	}{
		{"node default", []string{nodeAcceptEncoding}, "gzip"},
		{"none", nil, ""},
		{"identity", []string{"identity"}, ""},
		{"br only", []string{"br"}, ""},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			up := newCodingUpstream(t, nil)
			tp := startProxy(t, up.URL, func(c *Config) { c.Transport = tr.rt() })
			cl := nodeLikeClient()
			defer cl.CloseIdleConnections()
			raws := map[string][]byte{}
			for _, enc := range encodings {
				req, _ := http.NewRequest("POST", tp.URL+"/read", bytes.NewReader(jsonBody(3000)))
				setNodeHeaders(req.Header)
				req.Header.Del("Accept-Encoding")
				for _, v := range enc.accept {
					req.Header.Add("Accept-Encoding", v)
				}
				req.Header.Set("X-Req", enc.name)
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raws[enc.name], _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if ce := resp.Header.Get("Content-Encoding"); ce != enc.coded {
					t.Errorf("%s: client got Content-Encoding %q, want %q", enc.name, ce, enc.coded)
				}
				if saw := up.acceptEncoding(enc.name); strings.Join(saw, "|") != strings.Join(enc.accept, "|") || (saw == nil) != (enc.accept == nil) {
					t.Errorf("%s: upstream got Accept-Encoding %q, the client sent %q", enc.name, saw, enc.accept)
				}
			}
			tp.stop()
			for _, x := range tp.Sink.Exchanges() {
				name := x.Request.Header.Get("X-Req")
				var want string
				for _, enc := range encodings {
					if enc.name == name {
						want = enc.coded
					}
				}
				data := x.Response.Body.Data
				if ce := x.Response.Header.Get("Content-Encoding"); ce != want || !bytes.Equal(data, raws[name]) {
					t.Errorf("%s: recorded Content-Encoding %q and %d bytes; on the wire %q and %d bytes", name, ce, len(data), want, len(raws[name]))
				}
				if want == "gzip" {
					plain, err := decodeBody("gzip", data)
					if err != nil || !bytes.HasPrefix(plain, []byte(`{"path":"/read","got":3000,`)) {
						t.Errorf("%s: recorded gzip stream decodes to %.40q (%v)", name, plain, err)
					}
				}
			}
		})
	}
}

// TestTimingPhases checks the phases for the orders in which a request's
// end and a response's start can be seen.
func TestTimingPhases(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name                       string
		wrote, first, headAt, last int // last: the last request body byte read (0: no body)
		interim                    []int
		end                        int
		send, wait, receive, total int
	}{
		{"request written, then answered", 10, 30, 31, 8, nil, 50, 10, 20, 20, 50},
		{"end-of-body check reported after the answer", 35, 30, 31, 9, nil, 50, 9, 21, 20, 50},
		{"answered before the body was read", 0, 30, 31, 40, nil, 50, 30, 0, 20, 50},
		{"answered, body still coming, write reported later", 45, 30, 31, 44, nil, 50, 30, 0, 20, 50},
		{"100 Continue before the body", 20, 5, 30, 19, []int{100}, 50, 20, 10, 20, 50},
		{"no response", 10, 0, 0, 0, nil, 60, 10, 0, 0, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &exchangeState{wrote: ms(tt.wrote), firstByte: ms(tt.first), headAt: ms(tt.headAt), interim: tt.interim}
			if tt.last > 0 {
				x.reqTee = &teeBody{last: ms(tt.last)}
			}
			var got traffic.Timing
			x.timing(&got, ms(tt.end))
			want := traffic.Timing{Send: ms(tt.send), Wait: ms(tt.wait), Receive: ms(tt.receive), Total: ms(tt.total)}
			if got != want {
				t.Errorf("timing %+v, want %+v", got, want)
			}
		})
	}
}
