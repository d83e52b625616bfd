package compare

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// LiveInfo describes a live comparison: one replay sent to every release
// at once, its requests paired with their twins.
type LiveInfo struct {
	LiveCounts
	// Noise says how noise in the answers was told from change: "a2"
	// (learnt from a second instance of A) or "heuristic" (values like
	// ids and timestamps, or varying from answer to answer).
	Noise string `json:"noise"`
	// Headers are the response headers compared; Ignore the fields
	// declared noise.
	Headers []string     `json:"headers"`
	Ignore  []IgnoreRule `json:"ignore,omitempty"`
	// MaxPairs bounds the pairs sampled per endpoint; Bootstrap is the
	// number of resamples of the percentile intervals.
	MaxPairs  int `json:"max_pairs"`
	Bootstrap int `json:"bootstrap"`
	// NoiseFields counts the fields that differed only as noise.
	NoiseFields int `json:"noise_fields"`
}

// LaneResults are the full results of one release of a live comparison.
type LaneResults struct {
	// Name is "a", "b" or "a2".
	Name     string
	Snapshot *metrics.Snapshot
}

// FieldDiff is what a live comparison found of one field of an
// endpoint's answers.
type FieldDiff struct {
	// Field is the field's key: "status", "header Content-Type", a JSON
	// path ("session.active", "sessions[].id", "len(sessions)"), or for
	// WebSocket messages "count(message[TYPE])" and
	// "message[TYPE].PATH".
	Field string `json:"field"`
	// Pairs counts the pairs (events, or WebSocket connections) whose
	// answers had the field in A or B, Differ those in which A and B
	// disagreed.
	Pairs  int64 `json:"pairs"`
	Differ int64 `json:"differ"`
	// NoisePairs and NoiseDiffer count the same for A against A2.
	NoisePairs  int64 `json:"noise_pairs,omitempty"`
	NoiseDiffer int64 `json:"noise_differ,omitempty"`
	// Noise says why the field's differences are noise ("" when they
	// are not): "id-like values", "timestamps", "a different value in
	// most answers", "differs as much between A and A2", or the
	// --ignore-field rule.
	Noise string `json:"noise,omitempty"`
	// Consistent: the field differs in most pairs beyond noise (a
	// regression when significant).
	Consistent bool `json:"consistent"`
	// Example is the first pair that differed: its event's sequence
	// number and the values (shortened, credentials redacted).
	ExampleSeq uint64 `json:"example_seq"`
	ExampleA   string `json:"example_a,omitempty"`
	ExampleB   string `json:"example_b,omitempty"`
	ExampleA2  string `json:"example_a2,omitempty"`

	withA2 bool
}

// pairedQs are the percentiles compared on pairs.
var pairedQs = []float64{0.5, 0.9, 0.95, 0.99}

// Compare ends the live comparison and compares B against A: a and b are
// the full results of each release (the run's lanes), a2 those of the
// second instance of A (nil without one). Durations, errors and
// statuses are judged on the pairs; checks, response shapes and
// WebSocket round trips and pushes (which have no twin to pair with) on
// the two results, as Compare does; the answers field by field.
func (l *Live) Compare(a, b, a2 *metrics.Snapshot, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if opts.Alpha >= 1 || math.IsNaN(opts.Alpha) {
		return nil, fmt.Errorf("alpha %v out of range: want a level between 0 and 1, such as 0.01", opts.Alpha)
	}
	l.finish()
	l.mu.Lock()
	counts := l.counts
	l.mu.Unlock()
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	r := &Report{A: runOf(a), B: runOf(b), Options: opts, Notes: notes(a, b),
		Results: []LaneResults{{"a", a}, {"b", b}}}
	info := &LiveInfo{Noise: "heuristic", Headers: l.opts.Headers, Ignore: l.opts.Ignore,
		MaxPairs: l.opts.MaxPairs, Bootstrap: bootstrapRounds}
	for _, k := range []traffic.ResultKind{traffic.ResultHTTP, traffic.ResultWSConnect} {
		if acc := l.overall[k]; acc != nil {
			counts.Pairs += acc.pairs
			counts.Answered += acc.answered
		}
	}
	for _, acc := range l.eps {
		if acc.answered > int64(acc.max) {
			counts.Sampled++
		}
	}
	info.LiveCounts = counts
	runs := []struct {
		name string
		s    *metrics.Snapshot
	}{{"A", a}, {"B", b}}
	if a2 != nil {
		run := runOf(a2)
		r.A2 = &run
		r.Results = append(r.Results, LaneResults{"a2", a2})
		info.Noise = "a2"
		runs = append(runs, struct {
			name string
			s    *metrics.Snapshot
		}{"A2", a2})
	}
	r.Live = info
	for _, x := range runs {
		if what, partial := x.s.Meta.Partial(); partial {
			r.Partial = append(r.Partial, x.name+" "+what)
		}
	}
	if counts.Unpaired > 0 || counts.Uncompared > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d results and %d answers found no twin in the other release (not sent there, or the run ended first): left out of the pairs",
			counts.Unpaired, counts.Uncompared))
	}
	c := comparer{opts: opts, a: a, b: b}
	lr := liveReport{l: l, c: &c, a2: a2 != nil}
	r.Overall = &Endpoint{Presence: "both", RequestsA: orEmpty(a.Overall).Requests, RequestsB: orEmpty(b.Overall).Requests}
	for _, k := range []traffic.ResultKind{traffic.ResultHTTP, traffic.ResultWSConnect} {
		if acc := l.overall[k]; acc != nil {
			lr.paired(r.Overall, "(all)", acc)
		}
	}
	lr.unpaired(r.Overall, orEmpty(a.Overall), orEmpty(b.Overall), false)
	names := map[string]bool{}
	for n := range l.eps {
		names[n] = true
	}
	for n := range l.fields {
		names[n] = true
	}
	for _, e := range a.Endpoints {
		names[e.Endpoint] = true
	}
	for _, e := range b.Endpoints {
		names[e.Endpoint] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		e := &Endpoint{Endpoint: n, Presence: "both"}
		ea, eb := a.Endpoint(n), b.Endpoint(n)
		if ea != nil {
			e.RequestsA = ea.Requests
		}
		if eb != nil {
			e.RequestsB = eb.Requests
		}
		if acc := l.eps[n]; acc != nil {
			lr.paired(e, n, acc)
		}
		if ea != nil && eb != nil {
			lr.unpaired(e, ea, eb, true)
		}
		if fs := l.fields[n]; fs != nil {
			lr.fields(e, fs)
		}
		r.Endpoints = append(r.Endpoints, e)
	}
	r.judge(&c)
	for _, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		queued(e)
	}
	for _, cmp := range r.all() {
		if cmp.Field != nil && cmp.Field.Noise != "" {
			info.NoiseFields++
		}
	}
	return r, nil
}

// queued judges again the latency changes of an endpoint whose service
// time did not change: the difference is time waiting to be sent,
// behind other requests of the same flows on the same connections (a
// slower endpoint holding a user's connections delays that user's
// other requests), not this endpoint's doing. They are unchanged, with
// a note; the endpoint that held the connections has its own change.
func queued(e *Endpoint) {
	e.Class = Unchanged
	for _, cmp := range e.Comparisons {
		if stat, ok := strings.CutPrefix(cmp.Metric, "latency "); ok && cmp.Class != Unchanged {
			if svc := e.metric("service " + stat); svc != nil && svc.Class == Unchanged {
				cmp.Class = Unchanged
				cmp.Note = "service time did not change: time waiting to be sent behind other requests of the same flows"
			}
		}
		e.Class = max(e.Class, cmp.Class)
	}
}

type liveReport struct {
	l  *Live
	c  *comparer
	a2 bool
}

func addTo(e *Endpoint, cmp *Comparison) {
	cmp.Endpoint = e.Endpoint
	cmp.order = len(e.Comparisons)
	e.Comparisons = append(e.Comparisons, cmp)
}

// paired adds the comparisons of an endpoint's pairs: percentiles
// (paired bootstrap), the mean (paired t) and the shift (signed-rank) of
// each duration, the error rate (McNemar), and statuses and errors seen
// in one release only.
func (lr *liveReport) paired(e *Endpoint, name string, acc *pairAcc) {
	minLat := ms(lr.c.opts.MinLatencyChange)
	n := int64(len(acc.sample))
	for f, family := range acc.families() {
		if acc.answered == 0 {
			break
		}
		va, vb, win := acc.values(f)
		qcs := pairedQuantiles(va, vb, win, pairedQs, seedOf(name+" "+family))
		for i, q := range pairedQs {
			qc := qcs[i]
			stat := "p" + strconv.Itoa(int(q*100))
			a, b, d := nsToMS(qc.A), nsToMS(qc.B), nsToMS(qc.Delta)
			cmp := &Comparison{Metric: family + " " + stat, Kind: KindLatency, Key: family + "." + stat, Unit: unitMS,
				A: a, B: b, Delta: d, Relative: relative(a, d), NA: n, NB: n, Test: "paired block bootstrap",
				CILow: ptr(nsToMS(qc.Lo)), CIHigh: ptr(nsToMS(qc.Hi)), higherWorse: true, absMin: minLat}
			if math.IsNaN(qc.P) {
				cmp.Note = fmt.Sprintf("too few pairs to test %s (want %d beyond it on each side, over %d windows of %s)", stat, minTail, minWindows, Window)
			} else {
				cmp.P = ptr(qc.P)
			}
			addTo(e, cmp)
		}
		w := acc.diff[f]
		p, half := windowTest(acc.diffCluster(f), w.mean, w.variance(), float64(w.n))
		a, d := nsToMS(acc.meanA[f].mean), nsToMS(w.mean)
		mean := &Comparison{Metric: family + " mean", Kind: KindLatency, Key: family + ".mean", Unit: unitMS,
			A: a, B: round9(a + d), Delta: d, Relative: relative(a, d), NA: w.n, NB: w.n, Test: "paired t (window-robust)",
			higherWorse: true, absMin: minLat}
		if math.IsNaN(p) {
			mean.Note = fmt.Sprintf("too few pairs or windows to test the mean (want %d windows of %s)", minWindows, Window)
		} else {
			mean.P, mean.CILow, mean.CIHigh = ptr(p), ptr(nsToMS(w.mean-half)), ptr(nsToMS(w.mean+half))
		}
		addTo(e, mean)
		diffs := make([]float64, len(va))
		for i := range va {
			diffs[i] = vb[i] - va[i]
		}
		p, slower := signedRank(diffs, win)
		med := qcs[len(pairedQs)]
		ma := nsToMS(med.A)
		shift := &Comparison{Metric: family + " paired shift", Kind: KindPaired, Unit: unitMS,
			A: ma, B: round9(ma + nsToMS(med.Delta)), Delta: nsToMS(med.Delta), Relative: relative(ma, nsToMS(med.Delta)), NA: n, NB: n,
			Effect: ptr(slower), Test: "wilcoxon signed-rank (window-robust)", CILow: ptr(nsToMS(med.Lo)), CIHigh: ptr(nsToMS(med.Hi)),
			higherWorse: true, absMin: minLat}
		if math.IsNaN(p) {
			shift.Note = fmt.Sprintf("too few pairs with a difference to test (want %d over %d windows of %s)", minPairs, minWindows, Window)
		} else {
			shift.P = ptr(p)
		}
		addTo(e, shift)
	}
	metric := "error_rate"
	key := "error_rate"
	if acc.kind == traffic.ResultWSConnect {
		metric, key = "ws_connect_failures", ""
	}
	if acc.pairs > 0 {
		pa, pb := float64(acc.failA)/float64(acc.pairs), float64(acc.failB)/float64(acc.pairs)
		d := round9(pb - pa)
		cmp := &Comparison{Metric: metric, Kind: KindProportion, Key: key, Unit: unitRatio, A: pa, B: pb, Delta: d,
			Relative: relative(pa, d), NA: acc.pairs, NB: acc.pairs, Test: "mcnemar exact (and window-robust)", higherWorse: true,
			absMin: lr.c.opts.MinErrorChange}
		if p := mcnemar(acc.failOnlyA, acc.failOnlyB); !math.IsNaN(p) {
			// failures come in bursts: the windows' test too, the larger
			// p-value decides
			total := float64(acc.pairs)
			x := float64(acc.failOnlyB-acc.failOnlyA) / total
			iid := float64(acc.failOnlyA+acc.failOnlyB)/total - x*x
			if pw, _ := windowTest(acc.failCluster(), x, iid, total); !math.IsNaN(pw) {
				p = math.Max(p, pw)
			}
			cmp.P = ptr(p)
		} else if acc.failA == acc.failB {
			cmp.Note = "no pair failed in one release only"
		}
		addTo(e, cmp)
	}
	if e.Endpoint == "" {
		return
	}
	for _, code := range slices.Sorted(maps.Keys(acc.statuses)) {
		x := acc.statuses[code]
		if x.a > 0 && x.b > 0 || code == 0 {
			continue
		}
		addTo(e, lr.appearedPaired("status "+strconv.Itoa(code), KindStatus, x, acc.pairs, code >= 400))
	}
	for _, k := range slices.Sorted(maps.Keys(acc.errs)) {
		x := acc.errs[k]
		if x.a > 0 && x.b > 0 {
			continue
		}
		addTo(e, lr.appearedPaired(k, KindError, x, acc.pairs, true))
	}
}

// appearedPaired is a status or error seen in one release only, tested
// on the pairs that disagree about it.
func (lr *liveReport) appearedPaired(metric, kind string, x *presence, pairs int64, bad bool) *Comparison {
	cmp := &Comparison{Metric: metric, Kind: kind, Unit: unitCount, A: float64(x.a), B: float64(x.b), Delta: float64(x.b - x.a),
		NA: pairs, NB: pairs, higherWorse: bad, Test: "mcnemar exact (and windows)", paired: true}
	if p := mcnemar(x.onlyA, x.onlyB); !math.IsNaN(p) {
		// a burst in one moment is one event: the windows it fell in are
		// tested too (all one way), the larger p-value decides
		pw := math.Min(1, 2*math.Pow(0.5, float64(x.spread.n)))
		cmp.P = ptr(math.Max(p, pw))
	}
	return cmp
}

// unpaired adds the comparisons without twins, from the two releases'
// results: checks, shape checks and shapes, WebSocket round trips and
// push delivery.
func (lr *liveReport) unpaired(e *Endpoint, ea, eb *metrics.Stats, endpoint bool) {
	c := lr.c
	for _, d := range []struct {
		family string
		a, b   *metrics.Dist
	}{
		{"ws_roundtrip", wsDist(ea, "roundtrip"), wsDist(eb, "roundtrip")},
		{"ws_push_delivery", wsDist(ea, "push"), wsDist(eb, "push")},
	} {
		for _, cmp := range c.durations(d.family, d.a, d.b, false) {
			addTo(e, cmp)
		}
	}
	if na, nb := ea.ChecksPassed+ea.ChecksFailed, eb.ChecksPassed+eb.ChecksFailed; na > 0 && nb > 0 {
		addTo(e, c.proportion("checks", ea.ChecksPassed, na, eb.ChecksPassed, nb, false))
	}
	sa, sb := ea.Shapes, eb.Shapes
	if sa == nil || sb == nil {
		return
	}
	if na, nb := sa.ChecksPassed+sa.ChecksFailed, sb.ChecksPassed+sb.ChecksFailed; na > 0 && nb > 0 {
		addTo(e, c.proportion("shape_checks", sa.ChecksPassed, na, sb.ChecksPassed, nb, false))
	}
	if endpoint && c.bothHaveShapes() {
		for _, cmp := range c.shapes(sa, sb) {
			addTo(e, cmp)
		}
	}
}

// fields adds the fields of an endpoint's answers that differed between
// A and B (or between A and A2).
func (lr *liveReport) fields(e *Endpoint, fs *fieldSet) {
	rd := newRedactor()
	for _, key := range fs.sortedKeys() {
		s := fs.stats[key]
		if s.d == 0 && s.d2 == 0 {
			continue
		}
		fd := &FieldDiff{Field: key, Pairs: s.n, Differ: s.d, NoisePairs: s.n2, NoiseDiffer: s.d2, ExampleSeq: s.exSeq, withA2: lr.a2}
		if s.hasEx {
			fd.ExampleA, fd.ExampleB = rd.example(key, s.exA), rd.example(key, s.exB)
			if lr.a2 && s.exA2 != "" {
				fd.ExampleA2 = rd.example(key, s.exA2)
			}
		}
		share := func(x, n int64) float64 {
			if n == 0 {
				return 0
			}
			return float64(x) / float64(n)
		}
		cmp := &Comparison{Metric: "field " + key, Kind: KindField, Unit: unitShare, B: share(s.d, s.n), NB: s.n, Field: fd, higherWorse: true}
		excess := cmp.B
		if lr.a2 {
			cmp.A, cmp.NA = share(s.d2, s.n2), s.n2
			excess = cmp.B - cmp.A
		}
		cmp.Delta = round9(cmp.B - cmp.A)
		fd.Consistent = excess >= 0.5
		switch rule, ign := ignored(lr.l.opts.Ignore, e.Endpoint, key); {
		case ign:
			fd.Noise = "--ignore-field " + rule.Expr
		case lr.a2 && s.onlyAB == 0 && s.d > 0:
			fd.Noise = "differs as much between A and A2"
		case lr.a2 && s.d > 0:
			// the pairs that disagree: A against B only, against A2
			// only; noise would go either way (and so would the windows
			// they fell in)
			p := binomialUpper(s.onlyAB, s.onlyAB+s.onlyAA2, 0.5)
			pw := binomialUpper(s.winAB.n, s.winAB.n+s.winAA2.n, 0.5)
			cmp.P = ptr(math.Max(p, pw))
			cmp.Test = "binomial (discordant pairs and windows, A-B against A-A2)"
		case lr.a2:
			fd.Noise = "differs only between A and A2"
		case s.noise() != "":
			fd.Noise = s.noise()
		default:
			// more than half the pairs differ (and of the windows):
			// a consistent change
			p := binomialUpper(s.d, s.n, 0.5)
			pw := binomialUpper(s.winD.n, s.winN.n, 0.5)
			cmp.P = ptr(math.Max(p, pw))
			cmp.Test = "binomial (pairs and windows differing, against one half)"
		}
		if fd.Noise != "" {
			cmp.Note = "noise: " + fd.Noise
		}
		addTo(e, cmp)
	}
}

// classifyField decides the class of a field's difference: a
// regression when it is significant and consistent (most pairs differ
// beyond noise), a change when significant and beyond the practical
// threshold (with A2 only: without it sporadic differences cannot be
// told from noise), else unchanged.
func (c *comparer) classifyField(cmp *Comparison) {
	fd := cmp.Field
	cmp.Significant = cmp.PAdjusted != nil && *cmp.PAdjusted <= c.opts.Alpha
	withA2 := fd.withA2
	excess := cmp.B - cmp.A
	cmp.Practical = fd.Noise == "" && (fd.Consistent || withA2 && excess >= c.opts.MinChange)
	switch {
	case withA2 && fd.Noise == "" && fd.NoiseDiffer > 0 && (!cmp.Significant || excess < c.opts.MinChange):
		// as much between the two instances of A: noise
		fd.Noise = "differs as often between A and A2"
		cmp.Note, cmp.Practical = "noise: "+fd.Noise, false
	case !cmp.Significant || !cmp.Practical:
		if fd.Noise == "" && !withA2 && !fd.Consistent && cmp.Note == "" {
			cmp.Note = fmt.Sprintf("sporadic: differs in %d of %d pairs (judged only with --a2)", fd.Differ, fd.Pairs)
		}
	case fd.Consistent:
		cmp.Class = Regression
	default:
		cmp.Class = Change
	}
}

func nsToMS(v float64) float64 {
	if math.IsNaN(v) {
		return v
	}
	return ms(time.Duration(math.Round(v)))
}
