package replay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/benchcorpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
)

const benchRequests = 10000

// BenchmarkRunMaxRate is the whole replay of a 10,000-request synthetic
// corpus at --speed max --max-in-flight 64 against an in-process server
// answering a small JSON body: the survey, reading and analysing every
// record, correlation, identities (a run tag), shapes, the engine and the
// metrics, every feature on. It reports per request what a user pays:
// ns, bytes and allocations (the server's own included; they are a small
// share). The engine's BenchmarkReplayHTTP feeds the engine directly and
// misses the corpus and analysis work this one counts.
func BenchmarkRunMaxRate(b *testing.B) {
	path := benchcorpus.Path(b, "-requests", "10000", "-ws", "0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"id":"bench","status":"served"}`)
	}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	opts := Options{
		Corpus:   path,
		Schedule: schedule.Options{Speed: 1},
		Engine: engine.Config{Target: target, MaxRate: true, MaxInFlight: 64, MaxConns: engine.DefaultMaxConns,
			Timeout: 30 * time.Second, MaxLag: 5 * time.Second},
		RunTag: "rbench",
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if n := out.Snapshot.Overall.Requests; n != benchRequests {
			b.Fatalf("%d requests answered, want %d", n, benchRequests)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N * benchRequests)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/request")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/request")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/request")
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchcorpus.Cleanup()
	os.Exit(code)
}
