package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// BenchmarkReplayHTTP measures how many requests per second the engine
// drives through loopback to a minimal server when the schedule asks for
// everything at once (client and server share the machine's cores).
func BenchmarkReplayHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	var recs []traffic.Record
	for i := 0; i < b.N; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprint("f", i%64), Start: time.Duration(i) * time.Microsecond,
			Request: traffic.Request{Method: "GET", URL: "/x"}, Response: &traffic.Response{Status: 200},
		}})
	}
	s, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{Speed: 1e6})
	var failed atomic.Int64
	b.ResetTimer()
	st, err := Run(context.Background(), Config{Target: mustURL(srv.URL), MaxInFlight: 256, MaxLag: time.Minute,
		Results: func(r traffic.Result) {
			if r.Failed() {
				failed.Add(1)
			}
		}}, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/st.Elapsed.Seconds(), "req/s")
	if failed.Load() > 0 {
		b.Fatalf("%d of %d failed", failed.Load(), b.N)
	}
}

// BenchmarkDispatchLag measures the dispatcher's timing at a steady 2000
// requests per second: the p50 and p99 of each request's lag behind its
// intended send time.
func BenchmarkDispatchLag(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	n := max(b.N, 2000)
	var recs []traffic.Record
	for i := 0; i < n; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprint("f", i%64), Start: time.Duration(i) * 500 * time.Microsecond,
			Request: traffic.Request{Method: "GET", URL: "/x"}, Response: &traffic.Response{Status: 200},
		}})
	}
	s, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	lags := make(chan time.Duration, n)
	b.ResetTimer()
	if _, err := Run(context.Background(), Config{Target: mustURL(srv.URL), Results: func(r traffic.Result) { lags <- r.Sent - r.Intended }}, s); err != nil {
		b.Fatal(err)
	}
	close(lags)
	var all []time.Duration
	for l := range lags {
		all = append(all, max(l, 0))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-lag-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-lag-µs")
}
