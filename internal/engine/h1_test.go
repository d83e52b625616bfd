package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// h1For builds the lane's own client for srv, as a lane does.
func h1For(t testing.TB, srv *httptest.Server, maxConns int) *h1Transport {
	t.Helper()
	l := newLane(Config{Target: mustURL(srv.URL), MaxInFlight: 64, MaxConns: DefaultMaxConns, Timeout: 10 * time.Second}, &clock{start: time.Now()})
	tr, ok := l.newTransport(maxConns).(*h1Transport)
	if !ok {
		t.Fatalf("a plain-HTTP target got %T, want the lane's own client", l.newTransport(maxConns))
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// countConns counts the connections a test server accepted.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func get(t testing.TB, rt http.RoundTripper, ctx context.Context, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// Twenty requests at once through a client of two connections: two
// connections are opened, the other requests wait for them, every one is
// answered.
func TestH1BoundsAndReusesConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		fmt.Fprint(w, r.URL.Path)
	}))
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	tr := h1For(t, srv, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprint("/r", i)
			_, body, err := get(t, tr, context.Background(), srv.URL+path)
			if err == nil && body != path {
				err = fmt.Errorf("%s answered %q", path, body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("the server saw %d connections, want 2", n)
	}
}

// A kept-alive connection the server closed while it sat idle is never
// written to: the next request goes on a new connection, is written once
// and succeeds.
func TestH1SkipsConnectionsTheServerClosed(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	srv.Config.IdleTimeout = 30 * time.Millisecond
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	tr := h1For(t, srv, 0)
	for i := 0; i < 3; i++ {
		var writes, reused atomic.Int32
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { writes.Add(1) },
			GotConn: func(i httptrace.GotConnInfo) {
				if i.Reused {
					reused.Add(1)
				}
			},
		})
		if _, body, err := get(t, tr, ctx, srv.URL+"/"); err != nil || body != "ok" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
		if writes.Load() != 1 || reused.Load() != 0 {
			t.Errorf("request %d written %d times, on a reused connection %d times: want once on a new one", i, writes.Load(), reused.Load())
		}
		time.Sleep(150 * time.Millisecond)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("the server saw %d connections, want 3", n)
	}
}

// A request cancelled while the server holds it ends at once, as
// cancelled; one whose deadline passes ends as a timeout.
func TestH1CancelAndTimeout(t *testing.T) {
	srv := holdingServer(t, "")
	tr := h1For(t, srv, 0)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := get(t, tr, ctx, srv.URL+"/")
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled request: %v after %v, want context canceled at once", err, time.Since(start))
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, _, err = get(t, tr, ctx, srv.URL+"/")
	if classify(err) != ErrTimeout {
		t.Errorf("request past its deadline: %v (%s), want a timeout", err, classify(err))
	}
}

// rawServer answers the nth request with what answer writes, closing the
// connection after it when answer says so.
func rawServer(t *testing.T, answer func(w *bufio.Writer, n int) (end bool)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var served atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					end := answer(bw, int(served.Add(1)))
					if bw.Flush() != nil || req.Close || end {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &served
}

// Answers framed every way HTTP/1.1 frames them are read whole: after
// informational 1xx answers, chunked, and to the close of a connection
// (which is then not used again).
func TestH1ReadsEveryFraming(t *testing.T) {
	url, _ := rawServer(t, func(w *bufio.Writer, n int) bool {
		switch n {
		case 1:
			io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
		case 2:
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n")
		case 3:
			io.WriteString(w, "HTTP/1.1 204 No Content\r\n\r\n")
		default:
			io.WriteString(w, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the close")
			return true // the close ends the body
		}
		return false
	})
	l := newLane(Config{Target: mustURL(url), MaxInFlight: 4, MaxConns: 8, Timeout: 5 * time.Second}, &clock{start: time.Now()})
	tr := l.newTransport(0).(*h1Transport)
	defer tr.CloseIdleConnections()
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
	})
	for i, want := range []string{"first", "second", "", "to the close"} {
		resp, body, err := get(t, tr, ctx, url+"/")
		if err != nil || body != want || resp.StatusCode/100 != 2 {
			t.Fatalf("answer %d: %v %q, %v; want %q", i+1, resp, body, err, want)
		}
	}
	if fmt.Sprint(reused) != "[false true true true]" {
		t.Errorf("connections reused %v, want one connection for the four", reused)
	}
	if tr.open != 0 || len(tr.idle) != 0 {
		t.Errorf("after an answer read to the close: %d open, %d idle; want none", tr.open, len(tr.idle))
	}
}

// A body closed before its end closes its connection (the rest of the
// answer is never read), and the next request gets a new one.
func TestH1EarlyCloseDropsConnection(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }))
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	tr := h1For(t, srv, 1)
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(resp.Body, buf)
	resp.Body.Close()
	if _, body, err := get(t, tr, context.Background(), srv.URL+"/"); err != nil || len(body) != len(big) {
		t.Fatalf("after an early close: %d bytes, %v", len(body), err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("the server saw %d connections, want 2", n)
	}
}

// The lane uses net/http's client where its own does not go: https,
// through a proxy, or when asked to.
func TestH1OnlyForPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		own  bool
	}{
		{"http", Config{Target: mustURL("http://127.0.0.1:1")}, true},
		{"https", Config{Target: mustURL("https://127.0.0.1:1")}, false},
		{"net-http", Config{Target: mustURL("http://127.0.0.1:1"), NetHTTP: true}, false},
		{"proxy", Config{Target: mustURL("http://127.0.0.1:1"), Proxy: http.ProxyURL(mustURL("http://127.0.0.1:2"))}, false},
	} {
		c.cfg.MaxInFlight, c.cfg.MaxConns = 4, 4
		_, own := newLane(c.cfg, &clock{start: time.Now()}).newTransport(0).(*h1Transport)
		if own != c.own {
			t.Errorf("%s: the lane's own client %v, want %v", c.name, own, c.own)
		}
	}
}

// BenchmarkH1RoundTrip measures a GET and its 55-byte answer through the
// lane's own client and through net/http's, on loopback (allocations per
// request with -benchmem).
func BenchmarkH1RoundTrip(b *testing.B) {
	body := []byte(`{"id":"req_1","ok":true,"status":"accepted","n":123456}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"own", func() http.RoundTripper { return h1For(b, srv, 1) }},
		{"net-http", func() http.RoundTripper {
			l := newLane(Config{Target: mustURL(srv.URL), MaxInFlight: 4, MaxConns: 4, NetHTTP: true}, &clock{start: time.Now()})
			return l.newTransport(1)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt := c.rt()
			req, _ := http.NewRequest("GET", srv.URL+"/v1/sessions", nil)
			req.Header.Set("Authorization", "Bearer x")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// The lane's requests through its own client, held by a server that never
// answers: those still in flight when the run ends are cut at the end of
// its grace (and say so), and a request's timeout ends it as a timeout.
func TestOwnClientRequestsEndOnTimeAndWhenCut(t *testing.T) {
	srv := holdingServer(t, "/quick")
	rec := func(i int, path string) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprint("f", i), Start: time.Duration(i) * time.Millisecond,
			Request: traffic.Request{Method: "POST", URL: path}, Response: &traffic.Response{Status: 200}}}
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"cut", Config{Duration: 200 * time.Millisecond, Grace: 100 * time.Millisecond, Timeout: time.Minute}, ErrCut},
		{"timeout", Config{Timeout: 150 * time.Millisecond}, ErrTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Target = mustURL(srv.URL)
			recs := []traffic.Record{rec(0, "/quick")}
			for i := 1; i <= 5; i++ {
				recs = append(recs, rec(i, "/held"))
			}
			start := time.Now()
			_, col := runRecords(t, c.cfg, recs, 1)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the run took %v", took)
			}
			got := map[string]int{}
			for _, r := range col.byKind(traffic.ResultHTTP) {
				got[r.Error]++
			}
			if got[""] != 1 || got[c.want] != 5 {
				t.Errorf("results by error %v, want 1 answered and 5 %q", got, c.want)
			}
		})
	}
}

// A server sending header lines without end is not read into memory
// without end: past the bound of a head the answer fails as a protocol
// error, as net/http's transport fails it.
func TestH1BoundsTheHead(t *testing.T) {
	url, _ := rawServer(t, func(w *bufio.Writer, n int) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("y", 1000) + "\r\n"
		for i := 0; i < 1000; i++ {
			if _, err := io.WriteString(w, line); err != nil {
				break
			}
		}
		return true
	})
	l := newLane(Config{Target: mustURL(url), MaxInFlight: 4, MaxConns: 8, Timeout: 5 * time.Second}, &clock{start: time.Now()})
	tr := l.newTransport(0).(*h1Transport)
	tr.maxHead = 64 << 10
	_, _, err := get(t, tr, context.Background(), url+"/")
	if err == nil || classify(err) != ErrProtocol || !strings.Contains(err.Error(), "exceeded") {
		t.Fatalf("an endless head: %v (%s), want a protocol error", err, classify(err))
	}
}
