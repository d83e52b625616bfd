package correlate_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/reprise/reprise/corpora"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// demoRecords reads the shipped demo corpus into memory.
func demoRecords(b *testing.B) []traffic.Record {
	b.Helper()
	r, err := corpus.NewReader(bytes.NewReader(corpora.HappyDev))
	if err != nil {
		b.Fatal(err)
	}
	var recs []traffic.Record
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return recs
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
	}
}

// BenchmarkCopies measures planning ten copies of the demo corpus: the
// schedule alone, then with per-copy identities and correlation (the
// dispatcher's share of a replay's CPU). Reported per event.
func BenchmarkCopies(b *testing.B) {
	recs := demoRecords(b)
	for _, tc := range []struct {
		name      string
		ids, corr bool
	}{{"schedule", false, false}, {"identities", true, false}, {"identities+correlate", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			var events int64
			var body int64
			for i := 0; i < b.N; i++ {
				sched, err := schedule.New(traffic.SliceSource(recs), schedule.Options{Multiply: 10})
				if err != nil {
					b.Fatal(err)
				}
				ids := correlate.NewIdentities()
				c := correlate.New()
				for {
					ev, err := sched.Next(context.Background())
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					events++
					if x := ev.Record.Exchange; x != nil {
						body += int64(len(x.Request.Body.Data))
						if tc.ids {
							ids.Rewrite(ev).Request(x.Request, nil)
						}
					}
					if tc.corr {
						c.Plan(ev)
					}
				}
			}
			b.SetBytes(body / int64(b.N))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
