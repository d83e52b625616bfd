package analysis

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/reprise/reprise/internal/benchcorpus"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/routes"
	"github.com/reprise/reprise/internal/traffic"
)

// benchCorpus is a synthetic corpus of 5,000 requests (and the WebSocket
// records of a fifth of its users) made by bench/gencorpus, read into
// memory once per test binary.
var benchCorpus struct {
	once sync.Once
	recs []traffic.Record
	err  error
}

func benchRecords(tb testing.TB) []traffic.Record {
	tb.Helper()
	path := benchcorpus.Path(tb, "-requests", "5000", "-ws", "0.2")
	benchCorpus.once.Do(func() {
		r, err := corpus.Open(path)
		if err != nil {
			benchCorpus.err = err
			return
		}
		defer r.Close()
		for {
			rec, err := r.Next(context.Background())
			if err == io.EOF {
				return
			}
			if err != nil {
				benchCorpus.err = err
				return
			}
			benchCorpus.recs = append(benchCorpus.recs, rec)
		}
	})
	if benchCorpus.err != nil {
		tb.Fatal(benchCorpus.err)
	}
	return benchCorpus.recs
}

// benchOptions are the options a replay analyses the corpus with: routes
// learned from it and its recorded users.
func benchOptions(recs []traffic.Record) Options {
	l := routes.NewLearner(routes.Options{})
	uf := NewUserFinder()
	for _, r := range recs {
		l.AddRecord(r)
		uf.AddRecord(r)
	}
	return Options{Route: l.Router().Route, Users: uf.Users()}
}

// BenchmarkRecord measures Analyzer.Record per corpus record, in schedule
// order, every record seen for the first time (a single pass: nothing
// kept).
func BenchmarkRecord(b *testing.B) {
	recs := benchRecords(b)
	opts := benchOptions(recs)
	var a *Analyzer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		if k == 0 {
			a = NewAnalyzer(opts)
		}
		a.Record(uint64(k), recs[k])
	}
}

// BenchmarkUserFinder measures UserFinder.AddRecord per corpus record (the
// survey pass).
func BenchmarkUserFinder(b *testing.B) {
	recs := benchRecords(b)
	var f *UserFinder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		if k == 0 {
			f = NewUserFinder()
		}
		f.AddRecord(recs[k])
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchcorpus.Cleanup()
	os.Exit(code)
}
