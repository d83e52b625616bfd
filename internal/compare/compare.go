package compare

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// Class is what a comparison found.
type Class int

// Classes, from the least to the most severe.
const (
	// Unchanged: not significant, or within the practical threshold.
	Unchanged Class = iota
	// Change: a difference that is neither better nor worse (a new
	// endpoint, a response shape that gained fields, a new 2xx status, a
	// new error seen too rarely to be significant).
	Change
	// Improvement: significantly and practically better in B.
	Improvement
	// Regression: significantly and practically worse in B.
	Regression
)

var classNames = []string{"unchanged", "change", "improvement", "regression"}

func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// MarshalText writes the class name.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Units of compared values.
const (
	unitMS    = "ms"    // milliseconds
	unitRatio = "ratio" // 0 to 1
	unitRate  = "per_s" // per second
	unitCount = "count"
	unitShare = "share" // of an endpoint's JSON responses
)

// Kinds of comparisons.
const (
	KindLatency      = "latency"      // a percentile or the mean of a duration distribution
	KindDistribution = "distribution" // a whole duration distribution (Mann-Whitney U)
	KindProportion   = "proportion"   // error rate, checks, shape checks
	KindRate         = "rate"         // requests per second
	KindStatus       = "status"       // an HTTP status appearing or gone
	KindError        = "error"        // an error kind or not-sent reason appearing or gone
	KindShape        = "shape"        // a response shape appearing or gone
	KindEndpoint     = "endpoint"     // an endpoint in one run only
	KindPaired       = "paired"       // the shift of paired durations (Wilcoxon signed-rank)
	KindField        = "field"        // a field of the answers differing between A and B
)

// Comparison is one compared quantity of one endpoint (or of the whole
// run: Endpoint "").
type Comparison struct {
	Endpoint string `json:"endpoint,omitempty"`
	// Metric names it: "latency p95", "service mean", "latency
	// distribution", "error_rate", "rate", "checks", "shape_checks",
	// "status 500", "error timeout", "not sent: run ended", "shape",
	// "endpoint".
	Metric string `json:"metric"`
	Kind   string `json:"kind"`
	// Key is the rule key ("latency.p95", "error_rate"), "" when no rule
	// applies to this kind.
	Key string `json:"key,omitempty"`
	// Unit of A, B and Delta: "ms", "ratio", "per_s", "count", "share".
	Unit string `json:"unit,omitempty"`
	// A and B are the values in each run; Delta is B - A; Relative is
	// Delta / A (absent when A is zero).
	A        float64  `json:"a"`
	B        float64  `json:"b"`
	Delta    float64  `json:"delta"`
	Relative *float64 `json:"relative,omitempty"`
	// NA and NB are the sample sizes behind A and B.
	NA int64 `json:"n_a"`
	NB int64 `json:"n_b"`
	// Effect is P(B > A) + P(B = A)/2 for a distribution (0.5: alike).
	Effect *float64 `json:"p_b_greater,omitempty"`
	// Test names the statistical test; P is its two-sided p-value and
	// PAdjusted the Benjamini-Hochberg adjusted one over every test of
	// the comparison, which decides Significant. Absent when untested
	// (too few values).
	Test      string   `json:"test,omitempty"`
	P         *float64 `json:"p,omitempty"`
	PAdjusted *float64 `json:"p_adjusted,omitempty"`
	// Significant: PAdjusted <= alpha. Practical: the change is beyond the
	// practical threshold (or breaches a rule).
	Significant bool  `json:"significant"`
	Practical   bool  `json:"practical"`
	Class       Class `json:"class"`
	// Rule is the --threshold-delta rule that decided a regression.
	Rule string `json:"rule,omitempty"`
	// Shape is the new (or vanished) shape; Closest the most similar shape
	// of the other run, and Diff what changed from Closest to Shape
	// (jsonshape.Diff lines).
	Shape   string   `json:"shape,omitempty"`
	Closest string   `json:"closest,omitempty"`
	Diff    []string `json:"diff,omitempty"`
	// CILow and CIHigh bound the 95% interval of Delta, in a live
	// comparison (paired bootstrap for percentiles, Student for the
	// mean, the sign test's order statistics for the paired shift).
	CILow  *float64 `json:"ci_low,omitempty"`
	CIHigh *float64 `json:"ci_high,omitempty"`
	// Field describes a field of the answers (KindField).
	Field *FieldDiff `json:"field,omitempty"`
	// Note explains ("too few values to test", "not significant").
	Note string `json:"note,omitempty"`

	higherWorse bool
	absMin      float64
	order       int
	// paired: a status or error of a live comparison, where one seen
	// too rarely to be significant is chance (races between the
	// releases), not a change.
	paired bool
}

// Endpoint groups the comparisons of one endpoint.
type Endpoint struct {
	// Endpoint is the name; "" for the overall stats.
	Endpoint string `json:"endpoint"`
	// Presence is "both", "new" (only in B) or "vanished" (only in A).
	Presence  string `json:"presence"`
	Class     Class  `json:"class"`
	RequestsA int64  `json:"requests_a"`
	RequestsB int64  `json:"requests_b"`
	// Comparisons, unchanged ones included.
	Comparisons []*Comparison `json:"comparisons"`
}

// Run identifies a compared run.
type Run struct {
	File     string       `json:"file,omitempty"`
	Meta     metrics.Meta `json:"meta"`
	Requests int64        `json:"requests"`
	Duration float64      `json:"duration_s"`
}

// Options tune a comparison. The zero value gives the defaults.
type Options struct {
	// Alpha is the significance level (default 0.01), applied to p-values
	// adjusted over all the comparison's tests (Benjamini-Hochberg).
	Alpha float64 `json:"alpha"`
	// MinChange is the practical threshold, relative to A (default 0.05):
	// smaller changes are never flagged, significant or not.
	MinChange float64 `json:"min_change"`
	// MinLatencyChange is the practical threshold for durations (default
	// 1ms): a latency change must exceed both it and MinChange.
	MinLatencyChange time.Duration `json:"-"`
	// MinErrorChange is the practical threshold for error rates and
	// checks, in absolute terms (default 0.001, a tenth of a percentage
	// point), with MinChange relative to A as well.
	MinErrorChange float64 `json:"min_error_change"`
	// MinEffect is the smallest departure of P(B > A) from one half that
	// counts as a shift of a whole distribution (default 0.06, the
	// "small" effect of Vargha and Delaney).
	MinEffect float64 `json:"min_effect"`
	// Rules replace the practical threshold for the regressions of their
	// metrics (--threshold-delta).
	Rules []Rule `json:"rules,omitempty"`
}

// Defaults of Options.
const (
	DefaultAlpha            = 0.01
	DefaultMinChange        = 0.05
	DefaultMinLatencyChange = time.Millisecond
	DefaultMinErrorChange   = 0.001
	DefaultMinEffect        = 0.06
)

func (o Options) withDefaults() Options {
	if o.Alpha <= 0 {
		o.Alpha = DefaultAlpha
	}
	if o.MinChange <= 0 {
		o.MinChange = DefaultMinChange
	}
	if o.MinLatencyChange <= 0 {
		o.MinLatencyChange = DefaultMinLatencyChange
	}
	if o.MinErrorChange <= 0 {
		o.MinErrorChange = DefaultMinErrorChange
	}
	if o.MinEffect <= 0 {
		o.MinEffect = DefaultMinEffect
	}
	return o
}

// MarshalJSON adds the latency threshold in milliseconds.
func (o Options) MarshalJSON() ([]byte, error) {
	type plain Options
	return json.Marshal(struct {
		plain
		MinLatencyChangeMS float64 `json:"min_latency_change_ms"`
	}{plain(o), float64(o.MinLatencyChange) / float64(time.Millisecond)})
}

// Report is the comparison of run B against run A.
type Report struct {
	A, B    Run
	Options Options
	// Notes say what makes the runs hard to compare (other corpora,
	// speeds, a lone shard).
	Notes []string
	// Partial names each run that covers only part of its corpus
	// (interrupted by a signal, or stopped by an abort threshold): "B
	// interrupted after 5s (interrupt signal received)". The verdict is
	// then about that part only, and says so.
	Partial []string
	// Overall compares the whole runs; Endpoints each endpoint, sorted by
	// name.
	Overall   *Endpoint
	Endpoints []*Endpoint
	// Tests is the number of statistical tests (the size of the family
	// the p-values are adjusted over).
	Tests int
	// A2 is the second instance of release A of a live comparison, when
	// it had one.
	A2 *Run
	// Live describes a live comparison (one replay sent to both
	// releases); nil for a comparison of two results documents.
	Live *LiveInfo
	// Results are the full results of each release of a live comparison
	// ("a", "b", "a2").
	Results []LaneResults
}

// Compare compares run b against run a.
func Compare(a, b *metrics.Snapshot, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if opts.Alpha >= 1 || math.IsNaN(opts.Alpha) {
		return nil, fmt.Errorf("alpha %v out of range: want a level between 0 and 1, such as 0.01", opts.Alpha)
	}
	r := &Report{A: runOf(a), B: runOf(b), Options: opts, Notes: notes(a, b)}
	for _, x := range []struct {
		name string
		m    metrics.Meta
	}{{"A", a.Meta}, {"B", b.Meta}} {
		if what, partial := x.m.Partial(); partial {
			r.Partial = append(r.Partial, x.name+" "+what)
		}
	}
	c := comparer{opts: opts, a: a, b: b}
	r.Overall = c.endpoint("", orEmpty(a.Overall), orEmpty(b.Overall))
	names := map[string]bool{}
	for _, e := range a.Endpoints {
		names[e.Endpoint] = true
	}
	for _, e := range b.Endpoints {
		names[e.Endpoint] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		r.Endpoints = append(r.Endpoints, c.endpoint(n, a.Endpoint(n), b.Endpoint(n)))
	}
	r.judge(&c)
	return r, nil
}

// judge adjusts every p-value of the report over the whole family, then
// classifies each comparison and each endpoint.
func (r *Report) judge(c *comparer) {
	var ps []*float64
	all := r.all()
	for _, cmp := range all {
		if cmp.P != nil {
			q := *cmp.P
			cmp.PAdjusted = &q
			ps = append(ps, cmp.PAdjusted)
		}
	}
	adjustBH(ps)
	r.Tests = len(ps)
	for _, cmp := range all {
		c.classify(cmp)
	}
	for _, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		for _, cmp := range e.Comparisons {
			e.Class = max(e.Class, cmp.Class)
		}
	}
}

func orEmpty(s *metrics.Stats) *metrics.Stats {
	if s == nil {
		return &metrics.Stats{}
	}
	return s
}

func runOf(s *metrics.Snapshot) Run {
	r := Run{Meta: s.Meta, Duration: s.Duration().Seconds()}
	if s.Overall != nil {
		r.Requests = s.Overall.Requests
	}
	return r
}

// all lists every comparison, overall first.
func (r *Report) all() []*Comparison {
	var out []*Comparison
	for _, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		out = append(out, e.Comparisons...)
	}
	return out
}

// Count returns the number of comparisons of class c.
func (r *Report) Count(c Class) int {
	n := 0
	for _, cmp := range r.all() {
		if cmp.Class == c {
			n++
		}
	}
	return n
}

// Verdict is the most severe class found.
func (r *Report) Verdict() Class {
	v := Unchanged
	for _, cmp := range r.all() {
		v = max(v, cmp.Class)
	}
	return v
}

// Rows lists the comparisons of class c that the text shows, in its
// order: every one of the class except a service-time row that says what
// the latency row of the same statistic says. Its length is the count
// the text and the exit message give.
func (r *Report) Rows(c Class) []*Comparison {
	var out []*Comparison
	for _, g := range r.sectionGroups(c) {
		out = append(out, g.rows...)
	}
	return out
}

// Regressions lists the comparisons classed as regressions.
func (r *Report) Regressions() []*Comparison {
	var out []*Comparison
	for _, cmp := range r.all() {
		if cmp.Class == Regression {
			out = append(out, cmp)
		}
	}
	return out
}

// notes describes what makes two runs hard to compare.
func notes(a, b *metrics.Snapshot) []string {
	var out []string
	ma, mb := a.Meta, b.Meta
	switch {
	case ma.CorpusID != "" && mb.CorpusID != "":
		// the identities say it, whatever the files are called
		if ma.CorpusID != mb.CorpusID {
			out = append(out, fmt.Sprintf("the runs replayed different corpora (%s %s, %s %s): endpoints and counts may not correspond",
				ma.Corpus, ma.CorpusID, mb.Corpus, mb.CorpusID))
		}
	case ma.Corpus != "" && mb.Corpus != "" && ma.Corpus != mb.Corpus:
		out = append(out, fmt.Sprintf("the runs replayed different corpora (%s, %s): endpoints and counts may not correspond", ma.Corpus, mb.Corpus))
	}
	load := func(m metrics.Meta) string {
		if m.VUsMax > 0 {
			return fmt.Sprintf("speed %gx, %d VUs", m.Speed, m.VUsMax)
		}
		return fmt.Sprintf("speed %gx, %d copies", m.Speed, max(m.Multiply, 1))
	}
	if ma.Speed > 0 && mb.Speed > 0 && ma.Speed != mb.Speed || max(ma.Multiply, 1) != max(mb.Multiply, 1) || ma.VUsMax != mb.VUsMax {
		out = append(out, fmt.Sprintf("the runs offered different loads (A: %s; B: %s): differences may come from the load, not the release",
			load(ma), load(mb)))
	}
	for _, x := range []struct {
		name string
		m    metrics.Meta
	}{{"A", ma}, {"B", mb}} {
		if x.m.Shard != "" {
			out = append(out, fmt.Sprintf("%s is shard %s of a sharded run: merge its shards first (replay merge) to compare whole runs", x.name, x.m.Shard))
		}
	}
	shapes := func(s *metrics.Snapshot) bool { return s.Overall != nil && s.Overall.Shapes != nil }
	switch {
	case shapes(a) && !shapes(b):
		out = append(out, "B has no response shapes (an older results document, or shapes turned off): shapes not compared")
	case !shapes(a) && shapes(b):
		out = append(out, "A has no response shapes (an older results document, or shapes turned off): shapes not compared")
	}
	for _, x := range []struct {
		name string
		s    *metrics.Snapshot
	}{{"A", a}, {"B", b}} {
		if _, err := x.s.Accounting(); err != nil && x.s.Meta.Scheduled > 0 {
			out = append(out, x.name+": "+err.Error())
		}
	}
	return out
}

type comparer struct {
	opts Options
	a, b *metrics.Snapshot
}

// endpoint compares one endpoint (name "" for the overall stats); ea or
// eb is nil when the endpoint is in one run only.
func (c *comparer) endpoint(name string, ea, eb *metrics.Stats) *Endpoint {
	e := &Endpoint{Endpoint: name, Presence: "both"}
	if ea != nil {
		e.RequestsA = ea.Requests
	}
	if eb != nil {
		e.RequestsB = eb.Requests
	}
	add := func(cmp *Comparison) {
		cmp.Endpoint = name
		cmp.order = len(e.Comparisons)
		e.Comparisons = append(e.Comparisons, cmp)
	}
	switch {
	case ea == nil:
		e.Presence = "new"
		add(&Comparison{Metric: "endpoint", Kind: KindEndpoint, Unit: unitCount, B: float64(eventsOf(eb)), NB: eventsOf(eb), Delta: float64(eventsOf(eb)), Note: "only in B"})
		return e
	case eb == nil:
		e.Presence = "vanished"
		add(&Comparison{Metric: "endpoint", Kind: KindEndpoint, Unit: unitCount, A: float64(eventsOf(ea)), NA: eventsOf(ea), Delta: -float64(eventsOf(ea)), Note: "only in A"})
		return e
	}
	for _, d := range []struct {
		family string
		a, b   *metrics.Dist
		dist   bool
	}{
		{"latency", ea.Latency, eb.Latency, true},
		{"service", ea.Service, eb.Service, true},
		{"ws_connecting", wsDist(ea, "connecting"), wsDist(eb, "connecting"), false},
		{"ws_roundtrip", wsDist(ea, "roundtrip"), wsDist(eb, "roundtrip"), false},
		{"ws_push_delivery", wsDist(ea, "push"), wsDist(eb, "push"), false},
	} {
		for _, cmp := range c.durations(d.family, d.a, d.b, d.dist) {
			add(cmp)
		}
	}
	if na, nb := ea.HTTPScheduled(), eb.HTTPScheduled(); na > 0 && nb > 0 {
		add(c.proportion("error_rate", ea.Failed, na, eb.Failed, nb, true))
	}
	if ea.Requests > 0 || eb.Requests > 0 {
		add(c.rate(ea.Requests, eb.Requests))
	}
	if na, nb := ea.ChecksPassed+ea.ChecksFailed, eb.ChecksPassed+eb.ChecksFailed; na > 0 && nb > 0 {
		add(c.proportion("checks", ea.ChecksPassed, na, eb.ChecksPassed, nb, false))
	}
	sa, sb := ea.Shapes, eb.Shapes
	if sa != nil && sb != nil {
		if na, nb := sa.ChecksPassed+sa.ChecksFailed, sb.ChecksPassed+sb.ChecksFailed; na > 0 && nb > 0 {
			add(c.proportion("shape_checks", sa.ChecksPassed, na, sb.ChecksPassed, nb, false))
		}
	}
	if name == "" {
		return e
	}
	for _, cmp := range c.statuses(ea, eb) {
		add(cmp)
	}
	for _, cmp := range c.errors(ea, eb) {
		add(cmp)
	}
	if sa != nil && sb != nil && c.bothHaveShapes() {
		for _, cmp := range c.shapes(sa, sb) {
			add(cmp)
		}
	}
	return e
}

func (c *comparer) bothHaveShapes() bool {
	return c.a.Overall != nil && c.a.Overall.Shapes != nil && c.b.Overall != nil && c.b.Overall.Shapes != nil
}

// eventsOf counts an endpoint's results: HTTP requests scheduled, or
// WebSocket connections and sends.
func eventsOf(s *metrics.Stats) int64 {
	var n int64
	for _, o := range s.Outcomes {
		n += o.Total()
	}
	return n
}

func wsDist(s *metrics.Stats, which string) *metrics.Dist {
	if s.WS == nil {
		return nil
	}
	switch which {
	case "connecting":
		return s.WS.Connecting
	case "roundtrip":
		return s.WS.RoundTrip
	}
	return s.WS.Push
}

// ms converts to milliseconds, to the nanosecond (so that differences
// print without float noise).
func ms(d time.Duration) float64 { return math.Round(float64(d)) / float64(time.Millisecond) }

func ptr(v float64) *float64 { return &v }

// round9 rounds to nine decimals: differences of ratios without float
// noise.
func round9(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// relative is delta / a, nil when a is zero.
func relative(a, delta float64) *float64 {
	if a == 0 {
		return nil
	}
	return ptr(delta / a)
}

// durations compares two duration distributions: percentiles (quantile
// test), mean (Welch) and, for latency and service, the whole
// distribution (Mann-Whitney U).
func (c *comparer) durations(family string, da, db *metrics.Dist, whole bool) []*Comparison {
	if da.Count() == 0 || db.Count() == 0 {
		return nil
	}
	ha, hb := newHist(da), newHist(db)
	var out []*Comparison
	qs := []float64{50, 90, 95, 99}
	pa, pb := da.Percentiles(qs...), db.Percentiles(qs...)
	for i, q := range qs {
		stat := "p" + strconv.Itoa(int(q))
		a, b, d := ms(pa[i]), ms(pb[i]), ms(pb[i]-pa[i])
		cmp := &Comparison{Metric: family + " " + stat, Kind: KindLatency, Key: family + "." + stat, Unit: unitMS,
			A: a, B: b, Delta: d, Relative: relative(a, d), NA: da.Count(), NB: db.Count(),
			higherWorse: true, absMin: ms(c.opts.MinLatencyChange), Test: "quantile"}
		p := quantileTest(ha, hb, float64(pa[i]/time.Microsecond), float64(pb[i]/time.Microsecond), q/100)
		if math.IsNaN(p) {
			cmp.Note = fmt.Sprintf("too few values to test p%d (want %d beyond it in each run)", int(q), minTail)
		} else {
			cmp.P = ptr(p)
		}
		out = append(out, cmp)
	}
	a, b, d := ms(da.Mean()), ms(db.Mean()), ms(db.Mean()-da.Mean())
	mean := &Comparison{Metric: family + " mean", Kind: KindLatency, Key: family + ".mean", Unit: unitMS,
		A: a, B: b, Delta: d, Relative: relative(a, d), NA: da.Count(), NB: db.Count(),
		higherWorse: true, absMin: ms(c.opts.MinLatencyChange), Test: "welch t"}
	ma, mb := float64(da.Mean()/time.Microsecond), float64(db.Mean()/time.Microsecond)
	p := welch(ma, ha.sd(ma), da.Count(), mb, hb.sd(mb), db.Count())
	if math.IsNaN(p) {
		mean.Note = "too few values to test the mean"
	} else {
		mean.P = ptr(p)
	}
	out = append(out, mean)
	if whole {
		p, eff := mannWhitney(ha, hb)
		cmp := &Comparison{Metric: family + " distribution", Kind: KindDistribution, Unit: unitMS,
			A: ms(pa[0]), B: ms(pb[0]), Delta: ms(pb[0] - pa[0]), NA: da.Count(), NB: db.Count(),
			Effect: ptr(eff), P: ptr(p), Test: "mann-whitney u", higherWorse: true}
		out = append(out, cmp)
	}
	return out
}

// proportion compares xa of na with xb of nb; higherWorse says which way
// is a regression.
func (c *comparer) proportion(name string, xa, na, xb, nb int64, higherWorse bool) *Comparison {
	a, b := float64(xa)/float64(na), float64(xb)/float64(nb)
	d := round9(b - a)
	p, test := proportions(xa, na, xb, nb)
	cmp := &Comparison{Metric: name, Kind: KindProportion, Key: name, Unit: unitRatio, A: a, B: b, Delta: d,
		Relative: relative(a, d), NA: na, NB: nb, Test: test, higherWorse: higherWorse, absMin: c.opts.MinErrorChange}
	if !math.IsNaN(p) {
		cmp.P = ptr(p)
	}
	return cmp
}

// rate compares requests per second over each run's duration.
func (c *comparer) rate(xa, xb int64) *Comparison {
	ta, tb := c.a.Duration().Seconds(), c.b.Duration().Seconds()
	var a, b float64
	if ta > 0 {
		a = float64(xa) / ta
	}
	if tb > 0 {
		b = float64(xb) / tb
	}
	cmp := &Comparison{Metric: "rate", Kind: KindRate, Key: "rate", Unit: unitRate, A: a, B: b, Delta: round9(b - a),
		Relative: relative(a, round9(b-a)), NA: xa, NB: xb, Test: "poisson rates"}
	if p := poisson(xa, ta, xb, tb); !math.IsNaN(p) {
		cmp.P = ptr(p)
	}
	return cmp
}

// unionKeys returns the keys of a and b, sorted, each once.
func unionKeys[K cmp.Ordered, V any](a, b map[K]V) []K {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// statuses finds HTTP statuses in one run only.
func (c *comparer) statuses(ea, eb *metrics.Stats) []*Comparison {
	var out []*Comparison
	for _, code := range unionKeys(ea.Statuses, eb.Statuses) {
		xa, xb := ea.Statuses[code], eb.Statuses[code]
		if xa > 0 && xb > 0 {
			continue
		}
		out = append(out, c.appeared("status "+strconv.Itoa(code), KindStatus, xa, ea.Requests, xb, eb.Requests, code >= 400))
	}
	return out
}

// errors finds error kinds and not-sent reasons in one run only.
func (c *comparer) errors(ea, eb *metrics.Stats) []*Comparison {
	var out []*Comparison
	na, nb := eventsOf(ea), eventsOf(eb)
	for _, set := range []struct {
		prefix string
		a, b   map[string]int64
	}{
		{"error ", ea.Errors(), eb.Errors()},
		{"not sent: ", ea.NotSent(), eb.NotSent()},
	} {
		for _, k := range unionKeys(set.a, set.b) {
			xa, xb := set.a[k], set.b[k]
			if xa > 0 && xb > 0 {
				continue
			}
			out = append(out, c.appeared(set.prefix+k, KindError, xa, na, xb, nb, true))
		}
	}
	return out
}

// appeared compares a count present in one run only: xa of na against
// xb of nb, one of them zero. bad says whether its appearance is a
// regression (and its disappearance an improvement).
func (c *comparer) appeared(name, kind string, xa, na, xb, nb int64, bad bool) *Comparison {
	cmp := &Comparison{Metric: name, Kind: kind, Unit: unitCount, A: float64(xa), B: float64(xb), Delta: float64(xb - xa),
		NA: na, NB: nb, higherWorse: bad}
	if na > 0 && nb > 0 {
		p, test := proportions(xa, na, xb, nb)
		cmp.Test = test
		if !math.IsNaN(p) {
			cmp.P = ptr(p)
		}
	}
	return cmp
}

// shapes compares the response shapes of an endpoint: shapes frequent in
// B that A did not have (or had significantly less), and shapes of A
// gone from B.
func (c *comparer) shapes(sa, sb *metrics.Shapes) []*Comparison {
	var out []*Comparison
	explained := map[string]bool{}
	for _, s := range sb.Seen {
		if _, listed := sa.Lookup(s.Shape); listed || compatibleWithAny(s.Shape, sa.Seen, false) {
			continue
		}
		// a shape A did not list may hide among A's others
		xa := sa.Other()
		cmp := c.shapeComparison(s.Shape, xa, sa.Count, s.Count, sb.Count, sa.Seen)
		cmp.Note = "new shape in B"
		if len(cmp.Diff) > 0 {
			explained[cmp.Closest] = true
		}
		out = append(out, cmp)
	}
	for _, s := range sa.Seen {
		if _, listed := sb.Lookup(s.Shape); listed || explained[s.Shape] || compatibleWithAny(s.Shape, sb.Seen, true) {
			continue
		}
		xb := sb.Other()
		cmp := c.shapeComparison(s.Shape, s.Count, sa.Count, xb, sb.Count, sb.Seen)
		// gone from B: the diff reads from A's shape to B's closest
		cmp.Note = "shape of A not seen in B"
		if cmp.Closest != "" {
			cmp.Diff = metrics.ShapeDiff(s.Shape, cmp.Closest)
		}
		cmp.higherWorse = false
		out = append(out, cmp)
	}
	return out
}

// compatibleWithAny reports whether shape differs from one of others in
// values only (metrics.ShapeDiff: null or empty on one side); fromShape
// reads the difference from shape to the other, else the other way.
func compatibleWithAny(shape string, others []metrics.ShapeCount, fromShape bool) bool {
	for _, o := range others {
		if fromShape && metrics.ShapesCompatible(shape, o.Shape) || !fromShape && metrics.ShapesCompatible(o.Shape, shape) {
			return true
		}
	}
	return false
}

func (c *comparer) shapeComparison(shape string, xa, na, xb, nb int64, other []metrics.ShapeCount) *Comparison {
	var a, b float64
	if na > 0 {
		a = float64(xa) / float64(na)
	}
	if nb > 0 {
		b = float64(xb) / float64(nb)
	}
	cmp := &Comparison{Metric: "shape", Kind: KindShape, Unit: unitShare, A: a, B: b, Delta: round9(b - a),
		NA: na, NB: nb, Shape: shape, higherWorse: true}
	if na > 0 && nb > 0 {
		p, test := proportions(xa, na, xb, nb)
		cmp.Test = test
		if !math.IsNaN(p) {
			cmp.P = ptr(p)
		}
	}
	best := -1
	for _, o := range other {
		d := metrics.ShapeDiff(o.Shape, shape)
		if best < 0 || len(d) < best {
			best = len(d)
			cmp.Closest, cmp.Diff = o.Shape, d
		}
	}
	return cmp
}

// classify decides the class of a comparison once p-values are adjusted.
func (c *comparer) classify(cmp *Comparison) {
	cmp.Significant = cmp.PAdjusted != nil && *cmp.PAdjusted <= c.opts.Alpha
	worse := cmp.Delta > 0 == cmp.higherWorse
	rel := math.NaN()
	if cmp.Relative != nil {
		rel = *cmp.Relative
	}
	switch cmp.Kind {
	case KindEndpoint:
		cmp.Class = Change
		return
	case KindField:
		c.classifyField(cmp)
		return
	case KindPaired:
		// a shift of paired durations: the median of the differences
		// beyond the practical threshold, relative to A's median
		d := math.Abs(cmp.Delta)
		cmp.Practical = d >= cmp.absMin && d >= c.opts.MinChange*cmp.A
		if cmp.Significant && cmp.Practical {
			cmp.Class = Improvement
			if worse {
				cmp.Class = Regression
			}
		}
		return
	case KindDistribution:
		// a shift of the whole distribution: a small effect at least,
		// and a median moved beyond the practical threshold (a
		// consistent 50µs on a 1ms endpoint is no regression)
		eff := *cmp.Effect
		d := math.Abs(cmp.Delta)
		cmp.Practical = math.Abs(eff-0.5) >= c.opts.MinEffect && d >= ms(c.opts.MinLatencyChange) && d >= c.opts.MinChange*cmp.A
		worse = eff > 0.5
	case KindStatus, KindError:
		cmp.Practical = true
		appeared := cmp.A == 0
		switch {
		case appeared && !cmp.Significant && cmp.paired:
			cmp.Note = "not significant"
		case appeared && !cmp.Significant:
			// too rare to tell from chance: shown, not judged
			cmp.Class, cmp.Note = Change, "not significant"
		case !cmp.Significant:
			// gone, but it was rare anyway
		case appeared && cmp.higherWorse:
			cmp.Class = Regression // a new error or 4xx/5xx status
		case !appeared && cmp.higherWorse:
			cmp.Class = Improvement // an error gone
		default:
			cmp.Class = Change // a 1xx-3xx status appearing or gone
		}
		return
	case KindShape:
		cmp.Practical = cmp.Delta > 0 && cmp.B > 0 || cmp.Delta < 0 && cmp.A > 0
		if !cmp.Significant || !cmp.Practical {
			return
		}
		if !cmp.higherWorse {
			cmp.Class = Change // a shape of A gone
			return
		}
		cmp.Class = Change
		for _, d := range cmp.Diff {
			if strings.HasPrefix(d, "-") {
				cmp.Class = Regression // B lost or retyped a field
				break
			}
		}
		return
	default:
		change := rel
		if cmp.Kind == KindProportion && !cmp.higherWorse {
			// pass rates: the change is measured on the failures,
			// 99.9% -> 99.0% is ten times as many
			change = math.NaN()
			if cmp.A < 1 {
				change = -cmp.Delta / (1 - cmp.A)
			}
		}
		absOK := math.Abs(cmp.Delta) >= cmp.absMin
		relOK := math.IsNaN(change) || math.Abs(change) >= c.opts.MinChange
		cmp.Practical = absOK && relOK
	}
	if rules := rulesFor(c.opts.Rules, cmp.Endpoint, cmp.Key); cmp.Key != "" && len(rules) > 0 {
		for _, r := range rules {
			if r.breached(cmp.Delta, rel) {
				if cmp.Significant {
					cmp.Class, cmp.Rule, cmp.Practical = Regression, r.Expr, true
				}
				return
			}
		}
		// within the rules: never a regression, an improvement by default
		if cmp.Significant && cmp.Practical && !worse {
			cmp.Class = Improvement
		}
		if worse {
			cmp.Practical = false
		}
		return
	}
	if cmp.Significant && cmp.Practical {
		if worse {
			cmp.Class = Regression
		} else {
			cmp.Class = Improvement
		}
	}
}
