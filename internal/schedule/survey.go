package schedule

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// maxSurveyFlows bounds the distinct flows a survey remembers; a corpus
// with more is reported as having at least this many.
const maxSurveyFlows = 1 << 20

// Survey describes a corpus as a load plan sees it.
type Survey struct {
	// Records counts records other than headers.
	Records int64
	// Flows counts distinct recorded flows: the users a copy replays.
	Flows int
	// First and Last are the earliest and latest record starts.
	First, Last time.Duration
}

// Span is the corpus time from the first record to the last.
func (s Survey) Span() time.Duration { return s.Last - s.First }

// SurveySource reads src to its end and describes it. Every flow counts,
// whatever the shard: each shard runs the same number of copies.
func SurveySource(ctx context.Context, src traffic.Source) (Survey, error) {
	var sv Survey
	flows := map[string]struct{}{}
	for {
		rec, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sv, fmt.Errorf("survey corpus: %w", err)
		}
		if rec.Kind == traffic.KindHeader {
			continue
		}
		start := rec.Start()
		if sv.Records == 0 || start < sv.First {
			sv.First = start
		}
		if start > sv.Last {
			sv.Last = start
		}
		sv.Records++
		if f := rec.Flow(); len(flows) < maxSurveyFlows {
			flows[f] = struct{}{}
		}
	}
	sv.Flows = len(flows)
	return sv, nil
}

// LoopPeriod estimates the loop period of the surveyed corpus at speed:
// its span plus one mean gap between records (a second of corpus time for
// a corpus of one record), at least a millisecond.
func (sv Survey) LoopPeriod(speed float64) time.Duration {
	if speed <= 0 {
		speed = 1
	}
	gap := time.Second
	if sv.Records > 1 && sv.Span() > 0 {
		gap = sv.Span() / time.Duration(sv.Records-1)
	}
	return max(time.Duration(float64(sv.Span()+gap)/speed), time.Millisecond)
}
