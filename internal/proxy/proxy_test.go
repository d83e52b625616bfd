package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// testProxy is a Proxy served on a loopback port.
type testProxy struct {
	*Proxy
	URL  string
	Sink *traffictest.Sink
	logs *lockedBuffer
	stop func()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProxy runs a proxy in front of upstream. stop (also run at cleanup)
// shuts it down and flushes the records into Sink.
func startProxy(t testing.TB, upstream string, cfgs ...func(*Config)) *testProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Sink: &traffictest.Sink{}, logs: &lockedBuffer{}}
	cfg := Config{Upstream: u, Sink: tp.Sink, Logger: slog.New(slog.NewTextHandler(tp.logs, nil))}
	for _, f := range cfgs {
		f(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	var once sync.Once
	tp.Proxy = p
	tp.URL = "http://" + ln.Addr().String()
	if cfg.TLS != nil {
		tp.URL = "https://" + ln.Addr().String()
	}
	tp.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			p.Close()
		})
	}
	t.Cleanup(tp.stop)
	return tp
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
}

func TestExchangeRecorded(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		w.Header().Add("Set-Thing", "a")
		w.Header().Add("Set-Thing", "b")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"got":%q,"path":%q}`, body, r.URL.RequestURI())
	}))
	defer upstream.Close()
	tp := startProxy(t, upstream.URL)

	req, _ := http.NewRequest("POST", tp.URL+"/v1/sessions?limit=10&x=%2F", strings.NewReader(`{"tag":"t1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Custom", "c1")
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(got), `"path":"/v1/sessions?limit=10&x=%2F"`) {
		t.Fatalf("client got %d %s", resp.StatusCode, got)
	}
	tp.stop()

	xs := tp.Sink.Exchanges()
	if len(xs) != 1 {
		t.Fatalf("recorded %d exchanges, want 1", len(xs))
	}
	x := xs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"method", x.Request.Method, "POST"},
		{"url", x.Request.URL, "/v1/sessions?limit=10&x=%2F"},
		{"host", x.Request.Host, strings.TrimPrefix(tp.URL, "http://")},
		{"scheme", x.Request.Scheme, "http"},
		{"proto", x.Request.Proto, "HTTP/1.1"},
		{"request header", x.Request.Header.Get("X-Custom"), "c1"},
		{"first request field is Host", x.Request.Header[0].Name, "Host"},
		{"request body", string(x.Request.Body.Data), `{"tag":"t1"}`},
		{"request size", x.Request.Body.Size, int64(12)},
		{"status", x.Response.Status, 201},
		{"reason", x.Response.Reason, "Created"},
		{"response header", x.Response.Header.Get("X-Upstream"), "yes"},
		{"repeated header kept", strings.Join(x.Response.Header.Values("Set-Thing"), ","), "a,b"},
		{"response body", string(x.Response.Body.Data), string(got)},
		{"response size", x.Response.Body.Size, int64(len(got))},
		{"truncated", x.Response.Body.Truncated, false},
		{"error", x.Error, ""},
		{"flow", strings.HasPrefix(x.Flow, "conn:"), true},
		{"server address", x.Server, strings.TrimPrefix(upstream.URL, "http://")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if x.ConnID == 0 || x.Start <= 0 || x.Timing.Total <= 0 || x.Timing.Total < x.Timing.Send+x.Timing.Wait {
		t.Errorf("conn %d start %v timing %+v", x.ConnID, x.Start, x.Timing)
	}
	st := tp.Stats()
	if st.Exchanges != 1 || st.Written != 1 || st.Lost != 0 || st.BytesIn != 12 || st.BytesOut != int64(len(got)) {
		t.Errorf("stats %+v", st)
	}
}

func TestBodyCap(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Got", fmt.Sprint(n))
		w.Write(big)
	}))
	defer upstream.Close()
	tp := startProxy(t, upstream.URL, func(c *Config) { c.MaxBody = 1000 })
	resp, err := newClient().Post(tp.URL+"/up", "application/octet-stream", bytes.NewReader(big[:5000]))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, big) || resp.Header.Get("X-Got") != "5000" {
		t.Fatalf("client got %d bytes, upstream got %s: the cap must not cut what is forwarded", len(got), resp.Header.Get("X-Got"))
	}
	tp.stop()
	x := tp.Sink.Exchanges()[0]
	for _, c := range []struct {
		name string
		b    traffic.Body
		size int64
	}{{"request", x.Request.Body, 5000}, {"response", x.Response.Body, int64(len(big))}} {
		if len(c.b.Data) != 1000 || !c.b.Truncated || c.b.Size != c.size || !bytes.Equal(c.b.Data, big[:1000]) {
			t.Errorf("%s body: %d bytes kept, truncated %v, size %d (want 1000, true, %d)", c.name, len(c.b.Data), c.b.Truncated, c.b.Size, c.size)
		}
	}
}

func TestStreamingPassesThrough(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
	}{
		{"server-sent events", "text/event-stream"},
		{"chunked", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				fmt.Fprint(w, "data: first\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				fmt.Fprint(w, "data: second\n\n")
			}))
			defer upstream.Close()
			tp := startProxy(t, upstream.URL)
			resp, err := newClient().Get(tp.URL + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Fatalf("first event not passed through before the stream ended: %q %v", line, err)
			}
			close(release)
			rest, _ := io.ReadAll(br)
			if string(rest) != "\ndata: second\n\n" {
				t.Fatalf("rest = %q", rest)
			}
			tp.stop()
			x := tp.Sink.Exchanges()[0]
			if string(x.Response.Body.Data) != "data: first\n\ndata: second\n\n" || x.Response.Body.Size != 27 {
				t.Errorf("recorded body %q size %d", x.Response.Body.Data, x.Response.Body.Size)
			}
		})
	}
}

func TestInterimResponses(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()
	tp := startProxy(t, upstream.URL)
	resp, err := newClient().Get(tp.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tp.stop()
	x := tp.Sink.Exchanges()[0]
	if len(x.Response.Interim) != 1 || x.Response.Interim[0] != 103 || x.Response.Status != 200 {
		t.Errorf("interim %v status %d", x.Response.Interim, x.Response.Status)
	}
}

func TestUpstreamFailures(t *testing.T) {
	// A port with nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := ln.Addr().String()
	ln.Close()

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()

	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, bw, _ := http.NewResponseController(w).Hijack()
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		bw.Flush()
		conn.Close()
	}))
	defer cut.Close()

	tests := []struct {
		name       string
		upstream   string
		transport  http.RoundTripper
		wantStatus int
		wantErr    string
		wantFlags  uint32
	}{
		{"connection refused", "http://" + deadAddr, nil, 502, "upstream: connection refused", traffic.FlagNoResponse},
		{"timeout", slow.URL, &http.Transport{ResponseHeaderTimeout: 200 * time.Millisecond}, 502, "upstream: timeout", traffic.FlagNoResponse},
		{"body cut", cut.URL, nil, 0, "upstream: response body: connection closed early", traffic.FlagIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, tt.upstream, func(c *Config) { c.Transport = tt.transport })
			status := 0
			resp, err := newClient().Get(tp.URL + "/x")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			if tt.wantStatus == 0 && err == nil {
				t.Errorf("client got a whole response from a cut upstream body")
			}
			if tt.wantStatus != 0 && status != tt.wantStatus {
				t.Errorf("client got %d (%v), want %d", status, err, tt.wantStatus)
			}
			tp.stop()
			xs := tp.Sink.Exchanges()
			if len(xs) != 1 {
				t.Fatalf("%d exchanges recorded", len(xs))
			}
			if xs[0].Error != tt.wantErr || !xs[0].Has(tt.wantFlags) {
				t.Errorf("recorded error %q flags %b, want %q with %b", xs[0].Error, xs[0].Flags, tt.wantErr, tt.wantFlags)
			}
			if tp.Stats().Errors != 1 {
				t.Errorf("errors counted: %d", tp.Stats().Errors)
			}
		})
	}
}

func TestConcurrentClientsFlowsAndConns(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.URL.Query().Get("c"))
	}))
	defer upstream.Close()
	tp := startProxy(t, upstream.URL)
	const clients, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := newClient() // its own keep-alive connection
			for i := 0; i < each; i++ {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/r?c=%d&i=%d", tp.URL, c, i), nil)
				if c%2 == 0 {
					req.Header.Set("Authorization", fmt.Sprintf("Bearer user-%d", c))
				}
				resp, err := cl.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != fmt.Sprint(c) {
					errs <- fmt.Errorf("client %d got %q", c, b)
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tp.stop()
	xs := tp.Sink.Exchanges()
	if len(xs) != clients*each {
		t.Fatalf("%d exchanges recorded, want %d", len(xs), clients*each)
	}
	connOf := map[string]uint64{}
	flowOf := map[string]string{}
	for _, x := range xs {
		u, _ := url.Parse(x.Request.URL)
		c := u.Query().Get("c")
		if id, ok := connOf[c]; ok && id != x.ConnID {
			t.Errorf("client %s used conns %d and %d", c, id, x.ConnID)
		}
		connOf[c] = x.ConnID
		if f, ok := flowOf[c]; ok && f != x.Flow {
			t.Errorf("client %s in flows %s and %s", c, f, x.Flow)
		}
		flowOf[c] = x.Flow
	}
	seenConn := map[uint64]bool{}
	seenFlow := map[string]bool{}
	for c := range connOf {
		if seenConn[connOf[c]] || seenFlow[flowOf[c]] {
			t.Errorf("client %s shares its connection or flow with another client", c)
		}
		seenConn[connOf[c]] = true
		seenFlow[flowOf[c]] = true
		wantPrefix := "conn:"
		if c[0]%2 == 0 {
			wantPrefix = "auth:"
		}
		if !strings.HasPrefix(flowOf[c], wantPrefix) {
			t.Errorf("client %s flow %q, want prefix %q", c, flowOf[c], wantPrefix)
		}
	}
}

// failingWriter fails every write after the first limit bytes, like a
// disk that fills up.
type failingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buf.Len()+len(p) > f.limit {
		return 0, errors.New("write corpus: no space left on device")
	}
	return f.buf.Write(p)
}

func TestSinkFailureKeepsProxying(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "fine")
	}))
	defer upstream.Close()
	failing := &traffictest.Sink{Err: errors.New("no space left on device")}
	tp := startProxy(t, upstream.URL, func(c *Config) { c.Sink = failing })
	cl := newClient()
	for i := 0; i < 20; i++ {
		resp, err := cl.Get(tp.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "fine" {
			t.Fatalf("request %d: %d %q: traffic broken by a failing sink", i, resp.StatusCode, b)
		}
	}
	tp.stop()
	st := tp.Stats()
	if st.Lost != 20 || st.Exchanges != 20 || st.SinkErr == nil {
		t.Errorf("stats %+v, want 20 lost with the sink error", st)
	}
	if n := strings.Count(tp.logs.String(), "recording failed"); n != 1 {
		t.Errorf("%d warnings logged, want exactly 1:\n%s", n, tp.logs)
	}
}

func TestHeadersAsReceived(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()
	tp := startProxy(t, upstream.URL)
	conn, err := net.Dial("tcp", strings.TrimPrefix(tp.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Two pipelined requests, one with a chunked body, names in odd case
	// and order.
	fmt.Fprint(conn, "POST /one HTTP/1.1\r\nhost: example.test\r\nx-zeta: z\r\nTransfer-Encoding: chunked\r\nX-Alpha: a\r\n\r\n4\r\nbody\r\n0\r\n\r\n"+
		"GET /two HTTP/1.1\r\nX-Last-First: 1\r\nHost: example.test\r\nconnection: close\r\n\r\n")
	io.Copy(io.Discard, conn)
	tp.stop()
	xs := tp.Sink.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	want := map[string]string{
		"/one": "host=example.test|x-zeta=z|Transfer-Encoding=chunked|X-Alpha=a",
		"/two": "X-Last-First=1|Host=example.test|connection=close",
	}
	for _, x := range xs {
		if got := fieldString(x.Request.Header); got != want[x.Request.URL] {
			t.Errorf("%s: fields %q, want %q", x.Request.URL, got, want[x.Request.URL])
		}
	}
}
