package metrics

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Meta describes the run a snapshot measured. The engine fills it.
type Meta struct {
	// Tool names the program and its version ("reprise 0.1.0").
	Tool string `json:"tool,omitempty"`
	// Target is the base URL replayed against.
	Target string `json:"target,omitempty"`
	// Corpus is the corpus file (or files) replayed.
	Corpus string `json:"corpus,omitempty"`
	// Speed is the time compression (10 = ten times faster).
	Speed float64 `json:"speed,omitempty"`
	// MaxRate is set for a run paced as fast as the target answered
	// (--speed max): latency runs from dispatch, and there is no schedule
	// to lag behind.
	MaxRate bool `json:"max_rate,omitempty"`
	// Multiply is the number of traffic copies.
	Multiply int `json:"multiply,omitempty"`
	// VUsMax is the number of virtual users the run had (k6's vus_max),
	// zero for a run of copies; merged shards add theirs.
	VUsMax int `json:"vus_max,omitempty"`
	// Shard is "i/N" for one shard of a sharded run.
	Shard string `json:"shard,omitempty"`
	// Shards is the number of shard snapshots merged into this one (0 or 1
	// for a single run).
	Shards int `json:"shards,omitempty"`
	// Start and End are the run's wall-clock bounds.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// StartAt is the planned start (replay run --start-at) that the
	// shards of one run share; zero when the run started as soon as it
	// was ready. Start is when it really did, a few milliseconds later.
	StartAt time.Time `json:"start_at,omitzero"`
	// Duration is the run's length on the engine clock; rates divide by
	// it. When zero, the span of the results is used.
	Duration time.Duration `json:"duration_ns"`
	// Scheduled counts the events the engine scheduled: HTTP exchanges,
	// WebSocket connections and WebSocket client messages (one result of
	// kind http, ws-connect or ws-send each).
	Scheduled int64 `json:"scheduled"`
	// ScheduledByKind optionally splits Scheduled by result kind, so the
	// accounting is checked kind by kind too.
	ScheduledByKind map[string]int64 `json:"scheduled_by_kind,omitempty"`
	// Aborted says why an abort threshold stopped the run early (empty
	// for a run that went to its end).
	Aborted string `json:"aborted,omitempty"`
	// PeakConns is the most connections the replay held open to the
	// target at once (the largest of merged shards' figures, summed).
	PeakConns int64 `json:"peak_conns,omitempty"`
	// Interrupted is set when a signal (or the caller) ended the run
	// before its end: the results cover what was sent until then.
	Interrupted *Interruption `json:"interrupted,omitempty"`
	// RunID identifies one run (random, set by the engine's caller), so
	// that a results document given twice is recognised; a merge has an
	// id of its own.
	RunID string `json:"run_id,omitempty"`
	// CorpusID identifies the corpus replayed (a hash of its header,
	// which holds its creation time to the nanosecond): runs of one
	// corpus share it whatever the file is called.
	CorpusID string `json:"corpus_id,omitempty"`
}

// Interruption says when and why a run was ended early by a signal.
type Interruption struct {
	// At is when the run stopped, from its start.
	At time.Duration `json:"at_ns"`
	// Reason is what ended it ("interrupt signal received", "terminated
	// signal received").
	Reason string `json:"reason,omitempty"`
	// Shards lists the shards ("1/3") that were interrupted, in a
	// merged run.
	Shards []string `json:"shards,omitempty"`
}

// Partial reports whether the run covers only part of what it was to
// replay (interrupted, or stopped by an abort threshold), and says how in
// a few words ("interrupted after 5s (interrupt signal received)").
func (m Meta) Partial() (string, bool) {
	var parts []string
	if i := m.Interrupted; i != nil {
		what := "interrupted after " + i.At.Round(time.Millisecond).String()
		if len(i.Shards) > 0 {
			what = "shard " + strings.Join(i.Shards, ", ") + " " + what
		}
		if i.Reason != "" {
			what += " (" + i.Reason + ")"
		}
		parts = append(parts, what)
	}
	if m.Aborted != "" {
		parts = append(parts, "stopped early by an abort threshold: "+m.Aborted)
	}
	return strings.Join(parts, "; "), len(parts) > 0
}

// Second is one second of the time series: the HTTP results that
// completed in it (by intended send time plus latency).
type Second struct {
	// Requests counts HTTP requests sent that completed in this second.
	Requests int64 `json:"requests"`
	// Failed counts HTTP results that failed (k6 sense, not-sent included).
	Failed int64 `json:"failed"`
	// Flows counts flows (a flow and copy pair) active in this second: its
	// first result was scheduled at or before and its last completed at or
	// after.
	Flows int64 `json:"flows"`
	// Overload counts HTTP results in this second that show a target
	// that cannot keep up (traffic.Result.Overload: timeouts, resets,
	// 429 and 5xx the recording did not have, requests kept back).
	Overload int64 `json:"overload,omitempty"`
	// VUs counts the virtual users running an iteration at some point of
	// this second (k6's vus).
	VUs int64 `json:"vus,omitempty"`
	// Latency of the requests completed in this second.
	Latency *Dist `json:"latency,omitempty"`
}

// ThresholdResult is the verdict of one threshold, as stored in a results
// document (package report evaluates thresholds).
type ThresholdResult struct {
	// Expr is the threshold as written ("GET /health: p95<50ms").
	Expr string `json:"expr"`
	// Endpoint is the endpoint it applies to, "" for the whole run.
	Endpoint string `json:"endpoint,omitempty"`
	// Metric names what was measured ("http_req_duration p(95)").
	Metric string `json:"metric"`
	// Op and Limit are the comparison; Observed the measured value, in
	// Unit ("ms", "ratio", "per_s", "count").
	Op       string  `json:"op"`
	Limit    float64 `json:"limit"`
	Observed float64 `json:"observed"`
	Unit     string  `json:"unit"`
	Pass     bool    `json:"pass"`
	// Note explains a verdict without data ("no requests").
	Note string `json:"note,omitempty"`
}

// Snapshot is everything measured by a run (or by merged shards of one).
type Snapshot struct {
	Meta Meta
	// Overall aggregates every result.
	Overall *Stats
	// Endpoints holds one Stats per endpoint, sorted by name.
	Endpoints []*Stats
	// Series is the per-second time series from the run's start.
	Series []Second
	// Flows counts the distinct flows (flow and copy pairs) seen.
	Flows int64
	// Iterations are the virtual users' iterations (nil for a run of
	// copies).
	Iterations *IterationStats
	// First is the earliest intended time and Last the latest completion,
	// as offsets from the run's start.
	First, Last time.Duration
	// Thresholds holds verdicts, when thresholds were evaluated.
	Thresholds []ThresholdResult
}

// Span runs from the earliest intended time to the latest completion.
func (s *Snapshot) Span() time.Duration { return s.Last - s.First }

// Duration is Meta.Duration, or Span when the engine gave none.
func (s *Snapshot) Duration() time.Duration {
	if s.Meta.Duration > 0 {
		return s.Meta.Duration
	}
	return s.Span()
}

// Endpoint returns the stats of the named endpoint, or nil.
func (s *Snapshot) Endpoint(name string) *Stats {
	i := sort.Search(len(s.Endpoints), func(i int) bool { return s.Endpoints[i].Endpoint >= name })
	if i < len(s.Endpoints) && s.Endpoints[i].Endpoint == name {
		return s.Endpoints[i]
	}
	return nil
}

// EndpointNames lists the endpoints, sorted.
func (s *Snapshot) EndpointNames() []string {
	out := make([]string, len(s.Endpoints))
	for i, e := range s.Endpoints {
		out[i] = e.Endpoint
	}
	return out
}

// PerSecond divides n by the run's duration in seconds (zero for a run of
// no duration).
func (s *Snapshot) PerSecond(n int64) float64 {
	d := s.Duration()
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// finalize recomputes derived values (rates).
func (s *Snapshot) finalize() {
	if s.Overall == nil {
		s.Overall = newStats("", "")
	}
	var set func(st *Stats)
	set = func(st *Stats) {
		st.Rate = s.PerSecond(st.Requests)
		for _, l := range st.ByLabel {
			set(l)
		}
	}
	set(s.Overall)
	for _, e := range s.Endpoints {
		set(e)
	}
}

// FlowsActive summarises Series[i].Flows over the seconds of the run:
// median, minimum and maximum. All zero without a series.
func (s *Snapshot) FlowsActive() (med, min, max int64) {
	if len(s.Series) == 0 {
		return 0, 0, 0
	}
	v := make([]int64, len(s.Series))
	for i, sec := range s.Series {
		v[i] = sec.Flows
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[(len(v)-1)/2], v[0], v[len(v)-1]
}

// VUsActive summarises Series[i].VUs over the seconds from the first with
// a virtual user running to the last: median, minimum and maximum. All
// zero when no second had one.
func (s *Snapshot) VUsActive() (med, min, max int64) {
	lo, hi := -1, -1
	for i, sec := range s.Series {
		if sec.VUs > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return 0, 0, 0
	}
	v := make([]int64, 0, hi-lo+1)
	for _, sec := range s.Series[lo : hi+1] {
		v = append(v, sec.VUs)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[(len(v)-1)/2], v[0], v[len(v)-1]
}

// Merge adds o into s exactly: counters add, histograms merge, the time
// series adds second by second (each snapshot's series starts at its own
// run start), Meta bounds widen, scheduled counts, iterations and VUs add
// (shards run their share of the VUs) and Meta.Shards
// counts the snapshots merged (a zero Snapshot counts for none, so
// merging N snapshots into one gives N). Threshold verdicts are dropped:
// evaluate them again on the merged snapshot.
func (s *Snapshot) Merge(o *Snapshot) {
	if s.Overall == nil {
		s.Overall = newStats("", "")
	}
	shards := func(m Meta) int {
		if m.Shards < 1 {
			return 1
		}
		return m.Shards
	}
	wasEmpty := len(s.Overall.Outcomes) == 0
	m := &s.Meta
	n := shards(*m) + shards(o.Meta)
	zero := wasEmpty && m.Scheduled == 0 && m.Start.IsZero() && m.Shards == 0
	if zero {
		n = shards(o.Meta) // a zero Snapshot is no run: merging into it copies
	}
	// Identities and interruptions first, while the shard labels are there.
	if zero {
		m.CorpusID, m.RunID = o.Meta.CorpusID, o.Meta.RunID
		m.Interrupted = labelled(o.Meta.Interrupted, o.Meta.Shard)
	} else {
		if m.CorpusID != o.Meta.CorpusID {
			m.CorpusID = "" // runs of several corpora: no one identity
		}
		m.RunID = "" // a merge is a run of its own: its maker gives the id
		m.Interrupted = mergeInterruptions(labelled(m.Interrupted, m.Shard), labelled(o.Meta.Interrupted, o.Meta.Shard))
	}
	if m.Tool == "" {
		m.Tool = o.Meta.Tool
	}
	if m.Target == "" {
		m.Target = o.Meta.Target
	}
	if m.Corpus == "" {
		m.Corpus = o.Meta.Corpus
	}
	if m.Speed == 0 {
		m.Speed = o.Meta.Speed
	}
	if m.Multiply == 0 {
		m.Multiply = o.Meta.Multiply
	}
	m.VUsMax += o.Meta.VUsMax
	m.Shard = ""
	m.Shards = n
	if !o.Meta.Start.IsZero() && (m.Start.IsZero() || o.Meta.Start.Before(m.Start)) {
		m.Start = o.Meta.Start
	}
	if o.Meta.End.After(m.End) {
		m.End = o.Meta.End
	}
	if zero {
		m.StartAt = o.Meta.StartAt
	} else if !m.StartAt.Equal(o.Meta.StartAt) {
		m.StartAt = time.Time{} // shards that did not share a planned start
	}
	if o.Meta.Duration > m.Duration {
		m.Duration = o.Meta.Duration
	}
	if !m.Start.IsZero() && !m.End.IsZero() && m.End.Sub(m.Start) > m.Duration {
		m.Duration = m.End.Sub(m.Start)
	}
	m.Scheduled += o.Meta.Scheduled
	m.ScheduledByKind = mergeCounts(m.ScheduledByKind, o.Meta.ScheduledByKind)
	// shards run side by side: their connections add up
	m.PeakConns += o.Meta.PeakConns
	if o.Meta.Aborted != "" && !strings.Contains(m.Aborted, o.Meta.Aborted) {
		// A shard stopped early makes the merged run partial.
		if m.Aborted != "" {
			m.Aborted += "; "
		}
		m.Aborted += o.Meta.Aborted
	}

	if o.Overall != nil {
		s.Overall.Merge(o.Overall)
	}
	for _, oe := range o.Endpoints {
		if e := s.Endpoint(oe.Endpoint); e != nil {
			e.Merge(oe)
			continue
		}
		s.Endpoints = append(s.Endpoints, oe.Clone())
		sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].Endpoint < s.Endpoints[j].Endpoint })
	}
	for len(s.Series) < len(o.Series) {
		s.Series = append(s.Series, Second{})
	}
	for i, sec := range o.Series {
		t := &s.Series[i]
		t.Requests += sec.Requests
		t.Failed += sec.Failed
		t.Overload += sec.Overload
		t.Flows += sec.Flows
		t.VUs += sec.VUs
		t.Latency = mergeDist(t.Latency, sec.Latency)
	}
	switch {
	case o.Overall == nil || len(o.Overall.Outcomes) == 0:
	case wasEmpty:
		s.First, s.Last = o.First, o.Last
	default:
		s.First = min(s.First, o.First)
		s.Last = max(s.Last, o.Last)
	}
	s.Flows += o.Flows
	if o.Iterations != nil {
		if s.Iterations == nil {
			s.Iterations = &IterationStats{}
		}
		s.Iterations.merge(o.Iterations)
	}
	s.Thresholds = nil
	s.finalize()
}

// labelled returns a copy of i naming shard among the interrupted shards
// (nil for nil).
func labelled(i *Interruption, shard string) *Interruption {
	if i == nil {
		return nil
	}
	c := *i
	c.Shards = slices.Clone(i.Shards)
	if shard != "" && !slices.Contains(c.Shards, shard) {
		c.Shards = append(c.Shards, shard)
		slices.Sort(c.Shards)
	}
	return &c
}

// mergeInterruptions combines the interruptions of two merged runs: the
// merged run is partial from the earliest one on.
func mergeInterruptions(a, b *Interruption) *Interruption {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	c := *a
	c.At = min(a.At, b.At)
	if b.Reason != "" && !strings.Contains(c.Reason, b.Reason) {
		if c.Reason != "" {
			c.Reason += "; "
		}
		c.Reason += b.Reason
	}
	c.Shards = slices.Clone(a.Shards)
	for _, sh := range b.Shards {
		if !slices.Contains(c.Shards, sh) {
			c.Shards = append(c.Shards, sh)
		}
	}
	slices.Sort(c.Shards)
	return &c
}

// Accounting is the breakdown of scheduled events: scheduled = completed +
// failed (by error kind) + not sent (by reason), over the result kinds that
// stand for scheduled events (ScheduledKinds).
type Accounting struct {
	Scheduled int64            `json:"scheduled"`
	Completed int64            `json:"completed"`
	Failed    map[string]int64 `json:"failed,omitempty"`
	NotSent   map[string]int64 `json:"not_sent,omitempty"`
	// ByKind is the same breakdown per result kind.
	ByKind map[string]*Outcome `json:"by_kind,omitempty"`
}

// Accounted is Completed + Failed + NotSent.
func (a Accounting) Accounted() int64 {
	return a.Completed + sum(a.Failed) + sum(a.NotSent)
}

// String renders "1000 scheduled = 990 completed + 6 failed (timeout 4,
// reset 2) + 4 not sent (in-flight limit 4)".
func (a Accounting) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d scheduled = %d completed + %d failed", a.Scheduled, a.Completed, sum(a.Failed))
	writeCounts(&b, a.Failed)
	fmt.Fprintf(&b, " + %d not sent", sum(a.NotSent))
	writeCounts(&b, a.NotSent)
	return b.String()
}

func writeCounts(b *strings.Builder, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	b.WriteString(" (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %d", k, m[k])
	}
	b.WriteString(")")
}

// Accounting returns the breakdown of Meta.Scheduled and an error when it
// does not add up: scheduled events missing from the results (or results
// the engine did not schedule), overall or for a kind listed in
// Meta.ScheduledByKind.
func (s *Snapshot) Accounting() (Accounting, error) {
	a := Accounting{Scheduled: s.Meta.Scheduled, ByKind: map[string]*Outcome{}}
	for _, k := range ScheduledKinds {
		o := &Outcome{}
		if s.Overall != nil {
			if oo := s.Overall.Outcomes[k.String()]; oo != nil {
				o.merge(oo)
			}
		}
		a.ByKind[k.String()] = o
		a.Completed += o.Completed
		a.Failed = mergeCounts(a.Failed, o.Failed)
		a.NotSent = mergeCounts(a.NotSent, o.NotSent)
	}
	got := a.Accounted()
	if got != a.Scheduled {
		diff := a.Scheduled - got
		what := fmt.Sprintf("%d missing from the results", diff)
		if diff < 0 {
			what = fmt.Sprintf("%d results beyond what was scheduled", -diff)
		}
		return a, fmt.Errorf("accounting does not add up: %s; %s", a.String(), what)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Meta.ScheduledByKind)) {
		want := s.Meta.ScheduledByKind[k]
		var have int64
		if o := a.ByKind[k]; o != nil {
			have = o.Total()
		}
		if have != want {
			return a, fmt.Errorf("accounting does not add up for %s: %d scheduled, %d accounted for", k, want, have)
		}
	}
	return a, nil
}
