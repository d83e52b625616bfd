package engine

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// https:// targets speak HTTP/2 when the server offers it, HTTP/1.1 with
// HTTP1, and a certificate that does not verify is a "tls" failure unless
// Insecure.
func TestHTTPSTargets(t *testing.T) {
	var mu sync.Mutex
	var protos []int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.ProtoMajor)
		mu.Unlock()
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	recs := []traffic.Record{exchange("a", 0, "GET", "/", 200), exchange("a", 1, "GET", "/", 200)}
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantProto int
		wantErr   string
	}{
		{"self-signed refused by default", Config{}, 0, ErrTLS},
		{"http2 when offered", Config{Insecure: true}, 2, ""},
		{"http1 forced", Config{Insecure: true, HTTP1: true}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			protos = nil
			mu.Unlock()
			tc.cfg.Target = mustURL(srv.URL)
			_, col := runRecords(t, tc.cfg, recs, 1)
			for _, r := range col.byKind(traffic.ResultHTTP) {
				if r.Error != tc.wantErr {
					t.Fatalf("result %+v, want error %q", r, tc.wantErr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantProto == 0 {
				if len(protos) != 0 {
					t.Fatalf("server saw %d requests over an unverified certificate", len(protos))
				}
				return
			}
			if len(protos) != 2 || protos[0] != tc.wantProto || protos[1] != tc.wantProto {
				t.Fatalf("server saw protocols %v, want HTTP/%d", protos, tc.wantProto)
			}
		})
	}
}

// Each request's phases are timed as k6 times them: a server that answers
// its head after 30 ms and its body 40 ms later shows waiting >= 30 ms and
// receiving >= 40 ms; the first request of a connection dials and
// handshakes, the next one reuses the connection and does neither.
func TestRequestPhases(t *testing.T) {
	const head, body = 30 * time.Millisecond, 40 * time.Millisecond
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(head)
		w.Write([]byte("first part "))
		w.(http.Flusher).Flush()
		time.Sleep(body)
		w.Write([]byte("the rest"))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(handler)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	recs := []traffic.Record{exchange("a", 0, "GET", "/", 200), exchange("a", 300*time.Millisecond, "GET", "/", 200)}
	for _, tc := range []struct {
		name string
		cfg  Config
		tls  bool
	}{
		{"http", Config{Target: mustURL(plain.URL)}, false},
		{"http net/http", Config{Target: mustURL(plain.URL), NetHTTP: true}, false},
		{"https http/1.1", Config{Target: mustURL(tlsSrv.URL), Insecure: true, HTTP1: true}, true},
		{"https h2", Config{Target: mustURL(tlsSrv.URL), Insecure: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, col := runRecords(t, tc.cfg, recs, 1)
			rs := col.byKind(traffic.ResultHTTP)
			if len(rs) != 2 {
				t.Fatalf("%d results", len(rs))
			}
			sort.Slice(rs, func(i, j int) bool { return rs[i].Intended < rs[j].Intended })
			for i, r := range rs {
				if r.Error != "" || r.Status != 200 {
					t.Fatalf("request %d: %+v", i, r)
				}
				// The client may see the first byte a little after the
				// server sent it, so receiving can come out slightly short.
				if r.Waiting < head || r.Receiving < body*8/10 {
					t.Errorf("request %d: waiting %v (server held the head %v), receiving %v (body took %v)", i, r.Waiting, head, r.Receiving, body)
				}
				if sum := r.Blocked + r.Connecting + r.TLSHandshaking + r.Sending + r.Waiting + r.Receiving; sum > r.Service {
					t.Errorf("request %d: phases add up to %v, more than the service time %v", i, sum, r.Service)
				}
			}
			first, second := rs[0], rs[1]
			if first.Connecting <= 0 {
				t.Errorf("first request: connecting %v, want the dial", first.Connecting)
			}
			if (first.TLSHandshaking > 0) != tc.tls {
				t.Errorf("first request: tls handshaking %v", first.TLSHandshaking)
			}
			if second.Connecting != 0 || second.TLSHandshaking != 0 {
				t.Errorf("second request reused the connection but shows connecting %v, tls %v", second.Connecting, second.TLSHandshaking)
			}
		})
	}
}

// A kept-alive connection that the server closes after reading the next
// request, without answering it, makes Go's transport write that (GET)
// request again on a new connection: the result says so, since the
// target saw it twice.
func TestResentRequestIsReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var seen, dropped atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					seen.Add(1)
					if n == 2 && dropped.CompareAndSwap(0, 1) {
						return // read, never answered
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					_ = req
				}
			}(c)
		}
	}()
	recs := []traffic.Record{exchange("a", 0, "GET", "/1", 200), exchange("a", 100*time.Millisecond, "GET", "/2", 200)}
	_, col := runRecords(t, Config{Target: mustURL("http://" + ln.Addr().String())}, recs, 1)
	rs := col.byKind(traffic.ResultHTTP)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Intended < rs[j].Intended })
	if len(rs) != 2 || rs[0].Status != 200 || rs[1].Status != 200 {
		t.Fatalf("results %+v", rs)
	}
	if seen.Load() != 3 {
		t.Fatalf("server read %d requests, want 3 (the second one twice)", seen.Load())
	}
	if rs[0].Resent || !rs[1].Resent {
		t.Fatalf("resent marks %v, %v; want false, true", rs[0].Resent, rs[1].Resent)
	}
}
