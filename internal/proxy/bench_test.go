package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// benchUpstream answers like a small JSON API.
func benchUpstream(b *testing.B) *httptest.Server {
	body := []byte(`{"sessions":[{"id":"cm1","seq":1,"active":true,"metadata":"bWV0YQ=="}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchRequests(b *testing.B, base string) {
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	defer cl.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", base+"/v1/sessions?limit=10", strings.NewReader(`{"tag":"t"}`))
			req.Header.Set("Authorization", "Bearer bench-token")
			req.Header.Set("Content-Type", "application/json")
			resp, err := cl.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkDirect is the baseline for BenchmarkThroughProxy: the same
// requests straight to the upstream.
func BenchmarkDirect(b *testing.B) {
	benchRequests(b, benchUpstream(b).URL)
}

// BenchmarkThroughProxy sends the requests of BenchmarkDirect through the
// recording proxy, redacting and writing a real (in-memory) corpus.
func BenchmarkThroughProxy(b *testing.B) {
	up := benchUpstream(b)
	red, err := redact.New(redact.DefaultRules())
	if err != nil {
		b.Fatal(err)
	}
	w, err := corpus.NewWriter(io.Discard, traffic.Header{Source: "proxy"})
	if err != nil {
		b.Fatal(err)
	}
	tp := startProxy(b, up.URL, func(c *Config) { c.Sink = redact.NewSink(w, red); c.HashIdentity = red.Hash })
	benchRequests(b, tp.URL)
	b.StopTimer()
	tp.stop()
	w.Close()
	if st := tp.Stats(); st.Lost > 0 {
		b.Fatalf("lost %d records", st.Lost)
	}
}

// BenchmarkFrameParser measures WebSocket frame parsing (records handed
// to a discarding sink) in MB/s of wire bytes.
func BenchmarkFrameParser(b *testing.B) {
	var stream []byte
	for i := 0; len(stream) < 1<<20; i++ {
		stream = append(stream, frame(true, false, traffic.OpText, []byte(fmt.Sprintf(`{"type":"update","seq":%d,"body":"%s"}`, i, strings.Repeat("x", 200))), true)...)
	}
	p := newTestProxy(b)
	p.cfg.Sink = discardSink{}
	p.rec.sink = discardSink{}
	tap := &wsTap{x: &exchangeState{p: p, conn: &connInfo{id: 1}}}
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		fp := &frameParser{tap: tap, fromClient: true}
		for off := 0; off < len(stream); off += 4096 {
			fp.feed(stream[off:min(off+4096, len(stream))], 1)
		}
	}
	p.Close()
}

type discardSink struct{}

func (discardSink) Write(_ context.Context, _ traffic.Record) error { return nil }
func (discardSink) Close() error                                    { return nil }
