package compare

import (
	"math/rand/v2"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// DefaultMaxPairs bounds the pairs kept per endpoint for the tests of
// quantiles and of the paired shift (LiveOptions.MaxPairs): beyond it a
// uniform reservoir sample of them is kept, so memory stays bounded
// however long the run. Counts, error rates and the paired mean use
// every pair.
const DefaultMaxPairs = 10000

// Window is the span of run time whose pairs are taken as one cluster
// by the paired tests (pairtest.go).
const Window = 250 * time.Millisecond

// maxWindows bounds the windows an endpoint keeps sums of: past it (a
// run longer than about 17 minutes) windows are merged two by two, each
// twice as long.
const maxWindows = 4096

// outcome is what one lane's result says, kept until its twin comes.
type outcome struct {
	endpoint string
	kind     traffic.ResultKind
	// at is the event's intended time, from the run's start.
	at time.Duration
	// answered: the target answered (a status and no transport error).
	answered bool
	failed   bool
	status   int
	// errKind is the transport error or the reason it was not sent.
	errKind string
	// dur are the durations compared: latency and service time of an
	// HTTP exchange, connecting time of a WebSocket handshake.
	dur [2]time.Duration
}

func outcomeOf(r *traffic.Result) outcome {
	o := outcome{endpoint: r.Endpoint, kind: r.Kind, at: r.Intended, failed: r.Failed(), status: r.Status}
	sent := r.NotSent == ""
	o.answered = sent && r.Error == "" && r.Status > 0
	switch {
	case r.Error != "":
		o.errKind = "error " + r.Error
	case r.NotSent != "":
		o.errKind = "not sent: " + r.NotSent
	}
	switch r.Kind {
	case traffic.ResultHTTP:
		o.dur = [2]time.Duration{r.Latency, r.Service}
	case traffic.ResultWSConnect:
		c := r.Connecting
		if c == 0 {
			c = r.Service
		}
		o.dur[0] = c
		o.answered = sent && r.Error == ""
	}
	return o
}

// pairSample is the durations of one pair, in nanoseconds: a[f] in A
// and b[f] in B for each duration family f, and its event's intended
// time.
type pairSample struct {
	at   time.Duration
	a, b [2]float64
}

// presence counts one status or error kind over pairs.
type presence struct {
	a, b         int64 // pairs having it in A, in B
	onlyA, onlyB int64 // pairs having it in one release only
	// spread counts the windows of the pairs having it in one release
	// only.
	spread spread
}

// window is the sums of one window's pairs.
type window struct {
	// n pairs, answered of them answered by both.
	n, answered float64
	// diff sums B - A of each duration family over the answered pairs;
	// fail sums +1 for each pair failed in B only, -1 in A only.
	diff [2]float64
	fail float64
}

// pairAcc accumulates the pairs of one endpoint (or of all of them):
// counts over every pair, sums per window, and a reservoir sample of
// the answered pairs' durations.
type pairAcc struct {
	kind traffic.ResultKind
	// pairs counts every pair; answered those both targets answered
	// (the ones timed).
	pairs, answered int64
	// failed counts pairs failed in A, in B, and in one only.
	failA, failB, failOnlyA, failOnlyB int64
	statuses                           map[int]*presence
	errs                               map[string]*presence
	// diff and meanA accumulate, over every answered pair, B - A and A
	// of each duration family.
	diff, meanA [2]welford
	// windows are the sums per window of length width.
	windows map[int64]*window
	width   time.Duration
	sample  []pairSample
	max     int
	rng     *rand.Rand
}

func newPairAcc(kind traffic.ResultKind, maxPairs int, seed uint64) *pairAcc {
	return &pairAcc{kind: kind, max: maxPairs, statuses: map[int]*presence{}, errs: map[string]*presence{},
		windows: map[int64]*window{}, width: Window, rng: rand.New(rand.NewPCG(seed, 0x7a1c))}
}

// families are the duration families a kind of result is compared on.
func (p *pairAcc) families() []string {
	if p.kind == traffic.ResultWSConnect {
		return []string{"ws_connecting"}
	}
	return []string{"latency", "service"}
}

// window returns the window of an intended time, merging windows two by
// two when there are too many.
func (p *pairAcc) window(at time.Duration) (int64, *window) {
	k := int64(at / p.width)
	w := p.windows[k]
	if w != nil {
		return k, w
	}
	if len(p.windows) >= maxWindows {
		merged := make(map[int64]*window, len(p.windows)/2+1)
		for j, x := range p.windows {
			m := merged[j/2]
			if m == nil {
				m = &window{}
				merged[j/2] = m
			}
			m.n += x.n
			m.answered += x.answered
			m.fail += x.fail
			for f := range m.diff {
				m.diff[f] += x.diff[f]
			}
		}
		p.windows, p.width = merged, 2*p.width
		return p.window(at)
	}
	w = &window{}
	p.windows[k] = w
	return k, w
}

func (p *pairAcc) add(a, b *outcome) {
	p.pairs++
	k, w := p.window(a.at)
	w.n++
	if a.failed {
		p.failA++
	}
	if b.failed {
		p.failB++
	}
	switch {
	case a.failed && !b.failed:
		p.failOnlyA++
		w.fail--
	case b.failed && !a.failed:
		p.failOnlyB++
		w.fail++
	}
	if a.status > 0 || b.status > 0 {
		countPresence(p.statuses, a.status, b.status, 0, k)
	}
	if a.errKind != "" || b.errKind != "" {
		countPresence(p.errs, a.errKind, b.errKind, "", k)
	}
	if !a.answered || !b.answered {
		return
	}
	p.answered++
	w.answered++
	s := pairSample{at: a.at}
	for f := range p.families() {
		s.a[f], s.b[f] = float64(a.dur[f]), float64(b.dur[f])
		p.diff[f].add(s.b[f] - s.a[f])
		p.meanA[f].add(s.a[f])
		w.diff[f] += s.b[f] - s.a[f]
	}
	// reservoir sampling (Vitter's algorithm R): every answered pair has
	// the same chance to be in the sample
	if len(p.sample) < p.max {
		p.sample = append(p.sample, s)
		return
	}
	if j := p.rng.Int64N(p.answered); j < int64(p.max) {
		p.sample[j] = s
	}
}

func countPresence[K comparable](m map[K]*presence, a, b, none K, win int64) {
	get := func(k K) *presence {
		x := m[k]
		if x == nil {
			x = &presence{}
			m[k] = x
		}
		return x
	}
	if a == b {
		if a != none {
			x := get(a)
			x.a++
			x.b++
		}
		return
	}
	if a != none {
		x := get(a)
		x.a++
		x.onlyA++
		x.spread.add(win)
	}
	if b != none {
		x := get(b)
		x.b++
		x.onlyB++
		x.spread.add(win)
	}
}

// values returns the A and B values of family f of the sample, and the
// window of each pair.
func (p *pairAcc) values(f int) (a, b []float64, win []int64) {
	a, b, win = make([]float64, len(p.sample)), make([]float64, len(p.sample)), make([]int64, len(p.sample))
	for i, s := range p.sample {
		a[i], b[i], win[i] = s.a[f], s.b[f], int64(s.at/p.width)
	}
	return a, b, win
}

// diffCluster returns the windows' sums of family f's differences.
func (p *pairAcc) diffCluster(f int) cluster {
	var c cluster
	for _, w := range p.windows {
		if w.answered > 0 {
			c.n = append(c.n, w.answered)
			c.sum = append(c.sum, w.diff[f])
		}
	}
	return c
}

// failCluster returns the windows' sums of the failures in one release
// only (+1 B, -1 A).
func (p *pairAcc) failCluster() cluster {
	var c cluster
	for _, w := range p.windows {
		c.n = append(c.n, w.n)
		c.sum = append(c.sum, w.fail)
	}
	return c
}
