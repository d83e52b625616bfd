package metrics

import (
	"errors"
	"sort"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// IterationStats are the iterations of a run's virtual users, k6's
// iterations and iteration_duration: an iteration is one pass of one
// recorded user's traffic (package schedule).
type IterationStats struct {
	// Complete counts the iterations that ran whole; Interrupted those
	// cut short (by the end of the run, a ramp-down beyond its grace, or
	// an interrupt).
	Complete    int64 `json:"complete"`
	Interrupted int64 `json:"interrupted"`
	// Duration holds the duration of each complete iteration: from the
	// intended time of its first event to the completion of the last of
	// its results (its last event's intended time when that is later).
	Duration *Dist `json:"duration"`
}

// merge adds o into s.
func (s *IterationStats) merge(o *IterationStats) {
	s.Complete += o.Complete
	s.Interrupted += o.Interrupted
	s.Duration = mergeDist(s.Duration, o.Duration)
}

func (s *IterationStats) validate() error {
	if s.Complete < 0 || s.Interrupted < 0 {
		return errors.New("iterations: negative count")
	}
	if s.Duration.Count() > s.Complete {
		return errors.New("iterations: more durations than complete iterations")
	}
	return nil
}

// iterHorizon is how long after an iteration's last event its results
// may still extend its duration; later ones (beyond any request timeout
// in practice) no longer do. maxIterPending bounds the ended iterations
// kept waiting for their results.
const (
	iterHorizon    = 10 * time.Minute
	maxIterPending = 1 << 16
)

type iterKey struct{ vu, round int }

// iterSpan is an iteration in progress, or ended and waiting for the
// results of its last events.
type iterSpan struct {
	start, end time.Duration // first event's intended time; latest completion seen
	ended      bool
	complete   bool
	flows      map[string]*span // its flows, from first intended time to last completion
}

// vuActivity is when one VU has been running iterations without a break.
type vuActivity struct {
	from, to time.Duration
	busy     bool // an iteration of it has started and not ended
}

// iterations tracks the VU iterations of a Collector (nil until the first
// one starts).
type iterations struct {
	spans    map[iterKey]*iterSpan
	ended    []iterKey // ended iterations waiting for late results, oldest first
	endedAt  []time.Duration
	duration *Dist // of complete iterations no longer waiting
	started  int64
	complete int64
	latest   time.Duration // latest last event of an ended iteration
	vus      map[int]*vuActivity
	vuDiff   []int64 // finished VU activity, a difference array over seconds
	flowDiff []int64 // flows of finished iterations, likewise
	nFlows   int64   // flows of finished iterations
}

// StartIteration says that iteration round of virtual user vu started,
// its first event intended at at (schedule.Options.OnIteration).
func (c *Collector) StartIteration(vu, round int, at time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.iters
	if it == nil {
		it = &iterations{spans: map[iterKey]*iterSpan{}, vus: map[int]*vuActivity{}}
		c.iters = it
	}
	it.started++
	it.spans[iterKey{vu, round}] = &iterSpan{start: at, end: at}
	a := it.vus[vu]
	switch {
	case a == nil:
		it.vus[vu] = &vuActivity{from: at, to: at, busy: true}
	case at <= a.to:
		a.busy = true // the next iteration, straight after
	default:
		it.addVU(a.from, a.to)
		a.from, a.to, a.busy = at, at, true
	}
}

// EndIteration says that iteration round of virtual user vu handed out
// its last event, intended at last; end is when the iteration ends (its
// planned end, or when it was cut), complete whether it ran whole.
func (c *Collector) EndIteration(vu, round int, last, end time.Duration, complete bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.iters
	if it == nil {
		return
	}
	k := iterKey{vu, round}
	sp := it.spans[k]
	if sp == nil || sp.ended {
		return
	}
	sp.ended, sp.complete = true, complete
	sp.end = max(sp.end, last)
	if complete {
		it.complete++
	}
	if a := it.vus[vu]; a != nil {
		a.to, a.busy = max(a.to, end), false
	}
	it.latest = max(it.latest, last)
	it.ended = append(it.ended, k)
	it.endedAt = append(it.endedAt, last)
	for len(it.ended) > 0 && (it.endedAt[0] < it.latest-iterHorizon || len(it.ended) > maxIterPending) {
		it.finish(it.ended[0])
		it.ended, it.endedAt = it.ended[1:], it.endedAt[1:]
	}
}

// finish records an ended iteration's duration and flows and forgets it.
func (it *iterations) finish(k iterKey) {
	sp := it.spans[k]
	delete(it.spans, k)
	if sp == nil {
		return
	}
	if sp.complete {
		it.duration = record(it.duration, sp.end-sp.start)
	}
	for _, f := range sp.flows {
		it.flowDiff = addSpan(it.flowDiff, f.from, f.to)
	}
	it.nFlows += int64(len(sp.flows))
}

// flows adds the flows of every iteration to diff (a difference array
// over seconds) and counts them.
func (it *iterations) flows(diff []int64) ([]int64, int64) {
	for i, d := range it.flowDiff {
		for len(diff) <= i {
			diff = append(diff, 0)
		}
		diff[i] += d
	}
	n := it.nFlows
	for _, sp := range it.spans {
		for _, f := range sp.flows {
			diff = addSpan(diff, f.from, f.to)
		}
		n += int64(len(sp.flows))
	}
	return diff, n
}

// addResult extends the iteration a result of a scheduled event belongs
// to, and the span of its flow in it.
func (it *iterations) addResult(r *traffic.Result, end time.Duration) {
	switch r.Kind {
	case traffic.ResultHTTP, traffic.ResultWSConnect, traffic.ResultWSSend, traffic.ResultWSSession:
	default:
		return
	}
	sp := it.spans[iterKey{r.Copy, r.Round}]
	if sp == nil {
		return
	}
	sp.end = max(sp.end, end)
	if r.Flow == "" {
		return
	}
	if f := sp.flows[r.Flow]; f != nil {
		f.from, f.to = min(f.from, r.Intended), max(f.to, end)
		return
	}
	if sp.flows == nil {
		sp.flows = map[string]*span{}
	}
	sp.flows[r.Flow] = &span{r.Intended, end}
}

// addVU counts a finished stretch [from, to) of one VU's activity in
// the seconds it spans.
func (it *iterations) addVU(from, to time.Duration) {
	it.vuDiff = addSpan(it.vuDiff, from, to-1)
}

// snapshot returns the iteration stats so far, and the VUs active in
// each second (ongoing iterations run to last, the latest completion).
func (it *iterations) snapshot(last time.Duration) (*IterationStats, []int64) {
	// Interrupted: cut, or started and never ended (the run stopped
	// under them).
	st := &IterationStats{Complete: it.complete, Interrupted: it.started - it.complete, Duration: cloneDist(it.duration)}
	var keys []iterKey
	for k, sp := range it.spans {
		if sp.ended && sp.complete {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].vu != keys[j].vu {
			return keys[i].vu < keys[j].vu
		}
		return keys[i].round < keys[j].round
	})
	for _, k := range keys {
		sp := it.spans[k]
		st.Duration = record(st.Duration, sp.end-sp.start)
	}
	diff := append([]int64(nil), it.vuDiff...)
	for _, a := range it.vus {
		to := a.to
		if a.busy {
			to = max(to, last)
		}
		diff = addSpan(diff, a.from, to-1)
	}
	vus := make([]int64, max(len(diff)-1, 0))
	var n int64
	for i := range vus {
		n += diff[i]
		vus[i] = n
	}
	return st, vus
}
