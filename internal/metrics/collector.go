package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// maxSeconds bounds the time series (one week of one-second buckets);
// later results land in the last bucket.
const maxSeconds = 7 * 24 * 3600

// MaxEndpoints bounds the endpoints a Collector keeps (routes caps them
// far lower); results for further endpoints count under OtherEndpoint.
const MaxEndpoints = 1000

// OtherEndpoint collects results without an endpoint or beyond
// MaxEndpoints ("OTHER", as package routes names what it folds away).
const OtherEndpoint = "OTHER"

// MaxLabels bounds the labels kept per endpoint; results with further
// labels count under OtherLabel.
const MaxLabels = 32

// OtherLabel collects the results of labels beyond MaxLabels.
const OtherLabel = "other"

// Collector gathers traffic.Result values into per-endpoint and overall
// statistics, a per-second time series and per-flow activity spans. It is
// safe for concurrent use; an engine with very many workers may also give
// each worker its own Collector and merge their snapshots, which is exact.
type Collector struct {
	mu        sync.Mutex
	overall   *Stats
	endpoints map[string]*Stats
	series    []Second
	flows     map[flowKey]*span
	first     time.Duration
	last      time.Duration
	any       bool
	iters     *iterations // VU iterations, once one started
}

type flowKey struct {
	flow string
	copy int
}

type span struct{ from, to time.Duration }

// NewCollector returns an empty Collector.
func NewCollector() *Collector {
	return &Collector{
		overall:   newStats("", ""),
		endpoints: make(map[string]*Stats),
		flows:     make(map[flowKey]*span),
	}
}

// Add folds one result into the collector. Its Endpoint may carry a label
// ("WS /v1/updates [session-scoped]", see SplitLabel): the result counts
// for the endpoint and for that label of it. An empty Endpoint counts as
// OtherEndpoint.
func (c *Collector) Add(r traffic.Result) {
	name, label := r.Endpoint, r.Label
	if label == "" {
		name, label = SplitLabel(r.Endpoint)
	}
	if name == "" {
		name = OtherEndpoint
	}
	end := r.Intended
	if r.NotSent == "" {
		end += r.Latency
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overall.add(&r, true)
	ep := c.endpoints[name]
	if ep == nil && len(c.endpoints) >= MaxEndpoints {
		name, label = OtherEndpoint, ""
		ep = c.endpoints[name]
	}
	if ep == nil {
		ep = newStats(name, "")
		c.endpoints[name] = ep
	}
	ep.add(&r, false)
	if label != "" {
		l := ep.LabelStats(label)
		if l == nil && len(ep.ByLabel) >= MaxLabels {
			label = OtherLabel
			l = ep.LabelStats(label)
		}
		if l == nil {
			l = newStats(name, label)
			ep.ByLabel = append(ep.ByLabel, l)
			sort.Slice(ep.ByLabel, func(i, j int) bool { return ep.ByLabel[i].Label < ep.ByLabel[j].Label })
		}
		l.add(&r, false)
	}
	if !c.any || r.Intended < c.first {
		c.first = r.Intended
	}
	if !c.any || end > c.last {
		c.last = end
	}
	c.any = true
	if r.Kind == traffic.ResultHTTP {
		sec := c.second(end)
		if r.NotSent == "" {
			sec.Requests++
			if sec.Latency == nil {
				sec.Latency = NewSparseDist()
			}
			sec.Latency.Record(r.Latency)
		}
		if r.Failed() {
			sec.Failed++
		}
		if r.Overload() {
			sec.Overload++
		}
	}
	if c.iters != nil {
		// With virtual users a flow belongs to an iteration: a VU
		// replays another user's flows in its next one.
		c.iters.addResult(&r, end)
	} else if r.Flow != "" {
		k := flowKey{r.Flow, r.Copy}
		sp := c.flows[k]
		if sp == nil {
			c.flows[k] = &span{r.Intended, end}
		} else {
			if r.Intended < sp.from {
				sp.from = r.Intended
			}
			if end > sp.to {
				sp.to = end
			}
		}
	}
}

// second returns the time-series bucket holding offset t.
func (c *Collector) second(t time.Duration) *Second {
	i := secondIndex(t)
	for len(c.series) <= i {
		c.series = append(c.series, Second{})
	}
	return &c.series[i]
}

// addSpan counts a span [from, to] in every second it touches of diff, a
// difference array over seconds, grown as needed.
func addSpan(diff []int64, from, to time.Duration) []int64 {
	lo, hi := secondIndex(from), secondIndex(max(to, from))
	for len(diff) <= hi+1 {
		diff = append(diff, 0)
	}
	diff[lo]++
	diff[hi+1]--
	return diff
}

func secondIndex(t time.Duration) int {
	if t < 0 {
		return 0
	}
	i := int(t / time.Second)
	if i >= maxSeconds {
		i = maxSeconds - 1
	}
	return i
}

// Snapshot returns a deep copy of everything collected so far; the
// Collector goes on collecting. Meta is left for the caller (the engine)
// to fill.
func (c *Collector) Snapshot() *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &Snapshot{Overall: c.overall.Clone()}
	names := make([]string, 0, len(c.endpoints))
	for n := range c.endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.Endpoints = append(s.Endpoints, c.endpoints[n].Clone())
	}
	s.Series = make([]Second, len(c.series))
	for i, sec := range c.series {
		s.Series[i] = Second{Requests: sec.Requests, Failed: sec.Failed, Overload: sec.Overload, Latency: cloneDist(sec.Latency)}
	}
	// active flows per second, from each flow's span (a difference
	// array); with virtual users, the flows of each iteration
	var diff []int64
	for _, sp := range c.flows {
		diff = addSpan(diff, sp.from, sp.to)
	}
	var iterFlows int64
	if c.iters != nil {
		var vus []int64
		s.Iterations, vus = c.iters.snapshot(c.last)
		for len(s.Series) < len(vus) {
			s.Series = append(s.Series, Second{})
		}
		for i, n := range vus {
			s.Series[i].VUs = n
		}
		diff, iterFlows = c.iters.flows(diff)
	}
	if len(diff) > 0 {
		for len(s.Series) < len(diff)-1 {
			s.Series = append(s.Series, Second{})
		}
		var active int64
		for i := range s.Series {
			if i < len(diff) {
				active += diff[i]
			}
			s.Series[i].Flows = active
		}
	}
	s.Flows = int64(len(c.flows)) + iterFlows
	if c.any {
		s.First, s.Last = c.first, c.last
	}
	s.finalize()
	return s
}

// Progress is a cheap view of a running collection for live display.
type Progress struct {
	// Requests, Failed and NotSent count HTTP results so far.
	Requests, Failed, NotSent int64
	// Errors counts transport errors of every kind so far.
	Errors int64
	// Second is the last whole second before now, with its index.
	Second      Second
	SecondIndex int
}

// Progress returns the totals so far and the last whole second before
// now (an offset on the engine clock).
func (c *Collector) Progress(now time.Duration) Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := Progress{Requests: c.overall.Requests, Failed: c.overall.Failed}
	for _, o := range c.overall.Outcomes {
		p.Errors += sum(o.Failed)
	}
	if o := c.overall.Outcomes[traffic.ResultHTTP.String()]; o != nil {
		p.NotSent = sum(o.NotSent)
	}
	i := secondIndex(now) - 1
	if i >= 0 && i < len(c.series) {
		sec := c.series[i]
		p.Second = Second{Requests: sec.Requests, Failed: sec.Failed, Latency: cloneDist(sec.Latency)}
		p.SecondIndex = i
	}
	return p
}
