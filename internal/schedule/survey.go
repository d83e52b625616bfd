package schedule

import (
	"context"
	"fmt"
	"io"
	"sort"
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
	// Flows counts distinct recorded flows.
	Flows int
	// Users counts the recorded users those flows belong to (set by the
	// caller that found them, analysis.UserFinder; zero when unknown).
	Users int
	// First and Last are the earliest and latest record starts.
	First, Last time.Duration
	// MeanActive and PeakActive say how many flows one pass keeps active
	// at once (a flow is active from its first record to its last), on
	// average over the span and at most: what the report's flows line
	// measures, per copy.
	MeanActive float64
	PeakActive int
	// Disorder is the furthest a record came after a later-starting one
	// (a corpus written in completion order has its longest exchange's
	// length here); Options.Disorder takes it.
	Disorder time.Duration
}

// Span is the corpus time from the first record to the last.
func (s Survey) Span() time.Duration { return s.Last - s.First }

// SurveySource reads src to its end and describes it. Every flow counts,
// whatever the shard: each shard runs the same number of copies.
func SurveySource(ctx context.Context, src traffic.Source) (Survey, error) {
	var sv Survey
	flows := map[string]*span{}
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
		} else if sv.Records > 0 {
			sv.Disorder = max(sv.Disorder, sv.Last-start)
		}
		sv.Records++
		f := rec.Flow()
		if sp := flows[f]; sp != nil {
			sp.from, sp.to = min(sp.from, start), max(sp.to, start)
		} else if len(flows) < maxSurveyFlows {
			flows[f] = &span{start, start}
		}
	}
	sv.Flows = len(flows)
	sv.MeanActive, sv.PeakActive = activity(flows, sv.First, sv.Last)
	return sv, nil
}

// activity is the mean number of flows active over [first, last] and the
// most at once.
func activity(flows map[string]*span, first, last time.Duration) (float64, int) {
	if len(flows) == 0 {
		return 0, 0
	}
	type edge struct {
		at    time.Duration
		delta int
	}
	edges := make([]edge, 0, 2*len(flows))
	var busy time.Duration
	for _, sp := range flows {
		edges = append(edges, edge{sp.from, 1}, edge{sp.to, -1})
		busy += sp.to - sp.from
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta > edges[j].delta
	})
	active, peak := 0, 0
	for _, e := range edges {
		active += e.delta
		peak = max(peak, active)
	}
	if last <= first {
		return float64(len(flows)), peak
	}
	return float64(busy) / float64(last-first), peak
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
