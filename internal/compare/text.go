package compare

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/report"
)

// TextOptions tune WriteText.
type TextOptions struct {
	// All adds a table of every comparison, unchanged ones included.
	All bool
}

const indent = "     "

// maxDiffShown bounds the jsonshape.Diff lines shown under a shape row.
const maxDiffShown = 6

// overallName labels the whole-run comparisons in tables.
const overallName = "(all endpoints)"

// WriteText writes the comparison for people: the two runs, notes, the
// verdict, then regressions, improvements and changes (most severe
// first, grouped by endpoint) and one line summing up the rest.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("\n")
	r.writeRun(bw, "A", r.A)
	r.writeRun(bw, "B", r.B)
	if r.A2 != nil {
		r.writeRun(bw, "A2", *r.A2)
	}
	if r.Live != nil {
		r.writeLive(bw)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "%snote: %s\n", indent, n)
	}
	for _, p := range r.Partial {
		fmt.Fprintf(bw, "%swarning: partial run: %s; it covers only part of its corpus, and the verdict only that part\n", indent, p)
	}
	verdict := strings.ToUpper(r.Verdict().String())
	if len(r.Partial) > 0 {
		verdict += " (PARTIAL: " + strings.Join(r.Partial, "; ") + ")"
	}
	fmt.Fprintf(bw, "\n%sverdict: %s  %s\n", indent, verdict, r.Tally())
	fmt.Fprintf(bw, "%sflagged when significant (p adj <= %s, p-values adjusted over %d tests by Benjamini-Hochberg) and beyond %s and %s\n",
		indent, trim(r.Options.Alpha), r.Tests, report.FormatPercent(r.Options.MinChange), report.FormatDuration(r.Options.MinLatencyChange))
	if len(r.Options.Rules) > 0 {
		var exprs []string
		for _, ru := range r.Options.Rules {
			exprs = append(exprs, ru.Expr)
		}
		fmt.Fprintf(bw, "%srules (deciding the regressions of %s): %s\n", indent, ruleMetrics(r.Options.Rules), strings.Join(exprs, "; "))
	}
	for _, c := range []Class{Regression, Improvement, Change} {
		r.writeSection(bw, c)
	}
	r.writeUnchanged(bw)
	if o.All {
		r.writeAll(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// Tally says how many endpoints regressed, improved and changed:
// "regressed: 2 endpoints and the whole run  improved: 1 endpoint".
func (r *Report) Tally() string {
	var parts []string
	for _, c := range []struct {
		class Class
		verb  string
	}{{Regression, "regressed"}, {Improvement, "improved"}, {Change, "changed"}} {
		n, whole := 0, false
		for i, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
			has := false
			for _, cmp := range e.Comparisons {
				has = has || cmp.Class == c.class
			}
			switch {
			case has && i == 0:
				whole = true
			case has:
				n++
			}
		}
		if n == 0 && !whole {
			continue
		}
		what := plural(n, "endpoint")
		if whole {
			what += " and the whole run"
		}
		parts = append(parts, c.verb+": "+what)
	}
	if len(parts) == 0 {
		return "no significant difference beyond the practical thresholds"
	}
	return strings.Join(parts, "  ")
}

func ruleMetrics(rules []Rule) string {
	seen := map[string]bool{}
	var keys []string
	for _, r := range rules {
		if !seen[r.Metric] {
			seen[r.Metric] = true
			keys = append(keys, r.Metric)
		}
	}
	return strings.Join(keys, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func trim(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func (r *Report) writeRun(w *bufio.Writer, label string, run Run) {
	parts := []string{label}
	if run.File != "" {
		parts = append(parts, run.File)
	}
	m := run.Meta
	if m.Target != "" {
		parts = append(parts, "target "+m.Target)
	}
	if m.Corpus != "" {
		parts = append(parts, "corpus "+m.Corpus)
	}
	if m.Speed > 0 {
		parts = append(parts, "speed "+trim(m.Speed)+"x")
	}
	if m.Shards > 1 {
		parts = append(parts, strconv.Itoa(m.Shards)+" shards")
	}
	d := time.Duration(run.Duration * float64(time.Second)).Round(time.Millisecond)
	parts = append(parts, fmt.Sprintf("%d requests in %s", run.Requests, report.FormatDuration(d)))
	if !m.Start.IsZero() {
		parts = append(parts, "started "+m.Start.UTC().Format("2006-01-02 15:04:05Z"))
	}
	fmt.Fprintf(w, "%s%s\n", indent, strings.Join(parts, "  "))
}

// writeLive says how a live comparison paired and compared.
func (r *Report) writeLive(w *bufio.Writer) {
	l := r.Live
	fmt.Fprintf(w, "%spaired: %s sent to A and B at the same intended times, %d answered by both (durations compared on these pairs)\n",
		indent, plural(int(l.Pairs), "event"), l.Answered)
	line := fmt.Sprintf("%d answers compared field by field", l.Compared)
	if l.Connections > 0 {
		line += fmt.Sprintf(", and the messages of %s", plural(int(l.Connections), "WebSocket connection"))
	}
	if l.Noise == "a2" {
		line += "; noise learnt from A2 (fields differing as often between A and A2)"
	} else {
		line += "; noise by heuristics (ids, timestamps, values varying per answer; --a2 learns it)"
	}
	fmt.Fprintf(w, "%s%s\n", indent, line)
	if l.Sampled > 0 {
		fmt.Fprintf(w, "%spercentiles and shifts of %s tested on a uniform sample of %d pairs each\n", indent, plural(l.Sampled, "endpoint"), l.MaxPairs)
	}
}

// priority orders rows: failures first, then response shapes, latency,
// service time, WebSocket, rate, endpoints.
func priority(c *Comparison) int {
	switch {
	case c.Kind == KindError || c.Kind == KindStatus || c.Metric == "error_rate":
		return 0
	case c.Kind == KindShape || c.Kind == KindField || c.Metric == "shape_checks" || c.Metric == "checks":
		return 1
	case strings.HasPrefix(c.Metric, "latency"):
		return 2
	case strings.HasPrefix(c.Metric, "service"):
		return 3
	case strings.HasPrefix(c.Metric, "ws_"):
		return 4
	case c.Kind == KindRate:
		return 5
	}
	return 6
}

// group is the rows of one endpoint in a section.
type group struct {
	name string
	rows []*Comparison
	prio int
}

// sectionGroups returns the comparisons of class c grouped by endpoint:
// the whole run first, then endpoints by their most severe kind of row,
// then by name.
func (r *Report) sectionGroups(c Class) []group {
	var gs []group
	for i, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		g := group{name: e.Endpoint, prio: math.MaxInt}
		if i == 0 {
			g.name, g.prio = overallName, -1
		}
		for _, cmp := range e.Comparisons {
			if cmp.Class == c && !redundant(e, cmp) {
				g.rows = append(g.rows, cmp)
				if i > 0 {
					g.prio = min(g.prio, priority(cmp))
				}
			}
		}
		if len(g.rows) == 0 {
			continue
		}
		sort.SliceStable(g.rows, func(x, y int) bool {
			px, py := priority(g.rows[x]), priority(g.rows[y])
			if px != py {
				return px < py
			}
			return g.rows[x].order < g.rows[y].order
		})
		gs = append(gs, g)
	}
	sort.SliceStable(gs, func(x, y int) bool {
		if gs[x].prio != gs[y].prio {
			return gs[x].prio < gs[y].prio
		}
		return gs[x].name < gs[y].name
	})
	return gs
}

// counterpart finds the comparison of metric on an endpoint ("" for the
// whole run).
func (r *Report) counterpart(endpoint, metric string) *Comparison {
	e := r.Overall
	if endpoint != "" {
		e = nil
		for _, x := range r.Endpoints {
			if x.Endpoint == endpoint {
				e = x
			}
		}
	}
	if e == nil {
		return nil
	}
	for _, c := range e.Comparisons {
		if c.Metric == metric {
			return c
		}
	}
	return nil
}

// redundant reports whether a service-time row says what the latency row
// of the same statistic says (same class): service time is latency less
// the replay's own lateness, so it is shown only when the two disagree
// (a latency change the server did not cause, or the other way round).
func redundant(e *Endpoint, c *Comparison) bool {
	stat, ok := strings.CutPrefix(c.Metric, "service ")
	if !ok {
		return false
	}
	for _, o := range e.Comparisons {
		if o.Metric == "latency "+stat {
			return o.Class == c.Class
		}
	}
	return false
}

var sectionTitles = map[Class]string{Regression: "regressions", Improvement: "improvements", Change: "changes"}

func (r *Report) writeSection(w *bufio.Writer, c Class) {
	gs := r.sectionGroups(c)
	if len(gs) == 0 {
		return
	}
	n := 0
	for _, g := range gs {
		n += len(g.rows)
	}
	fmt.Fprintf(w, "\n%s%s (%d)\n", indent, sectionTitles[c], n)
	t := table{{"endpoint", "metric", "A", "B", "change", "", "p adj"}}
	for _, g := range gs {
		lastLatency, queued := -1, true
		for i, cmp := range g.rows {
			if stat, ok := strings.CutPrefix(cmp.Metric, "latency "); ok {
				lastLatency = i
				if sc := r.counterpart(cmp.Endpoint, "service "+stat); sc == nil || sc.Class == cmp.Class {
					queued = false
				}
			}
		}
		for i, cmp := range g.rows {
			name := ""
			if i == 0 {
				name = g.name
			}
			abs, rel := change(cmp)
			va, vb := values(cmp)
			t = append(t, []string{name, cmp.Metric, va, vb, abs, rel, pvalue(cmp.PAdjusted)})
			for _, d := range detail(cmp) {
				t = append(t, []string{"", "  " + d})
			}
			if i == lastLatency && queued && (c == Regression || c == Improvement) {
				t = append(t, []string{"", "  service time (from the actual send) did not change: the difference is time waiting to be sent"},
					[]string{"", "  (behind earlier requests of the same flows, or a replay behind schedule)"})
			}
		}
	}
	t.write(w, map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true})
}

// detail is the lines under a row: the diff of a shape, the example
// and noise of a field, the interval of a paired change.
func detail(c *Comparison) []string {
	switch {
	case c.Kind == KindField:
		return fieldDetail(c)
	case c.CILow != nil && c.CIHigh != nil && c.Unit == unitMS:
		lo := time.Duration(math.Round(*c.CILow * float64(time.Millisecond)))
		hi := time.Duration(math.Round(*c.CIHigh * float64(time.Millisecond)))
		return []string{fmt.Sprintf("95%% interval of the change: %s%s to %s%s (%s)", sign(*c.CILow), report.FormatDuration(lo.Abs()),
			sign(*c.CIHigh), report.FormatDuration(hi.Abs()), c.Test)}
	case c.Kind != KindShape:
		return nil
	}
	var out []string
	switch {
	case c.Closest == "" && c.Delta > 0:
		return []string{"A had no JSON responses of another shape here: " + c.Shape}
	case c.Closest == "":
		return []string{"B has no JSON responses here; A had " + c.Shape}
	case len(c.Diff) == 0:
		return []string{"same fields as " + c.Closest + ", arranged differently"}
	}
	d := c.Diff
	more := 0
	if len(d) > maxDiffShown {
		more = len(d) - maxDiffShown
		d = d[:maxDiffShown]
	}
	line := strings.Join(d, "  ")
	if more > 0 {
		line += fmt.Sprintf("  … %d more", more)
	}
	out = append(out, line)
	return out
}

func (r *Report) writeUnchanged(w *bufio.Writer) {
	endpoints, comparisons, untested := 0, 0, 0
	for _, e := range r.Endpoints {
		if e.Class == Unchanged {
			endpoints++
		}
	}
	for _, cmp := range r.all() {
		if cmp.Class != Unchanged {
			continue
		}
		if cmp.P == nil && cmp.Kind != KindStatus && cmp.Kind != KindError && cmp.Kind != KindShape && cmp.Kind != KindField {
			untested++
			continue
		}
		comparisons++
	}
	line := fmt.Sprintf("unchanged: %s; %s not significant or within %s and %s",
		plural(endpoints, "endpoint"), plural(comparisons, "other comparison"),
		report.FormatPercent(r.Options.MinChange), report.FormatDuration(r.Options.MinLatencyChange))
	if untested > 0 {
		line += fmt.Sprintf("; %d untested (too few values)", untested)
	}
	if r.Live != nil && r.Live.NoiseFields > 0 {
		line += fmt.Sprintf("; %s differing only as noise", plural(r.Live.NoiseFields, "field"))
	}
	fmt.Fprintf(w, "\n%s%s\n", indent, line)
}

func (r *Report) writeAll(w *bufio.Writer) {
	fmt.Fprintf(w, "\n%sall comparisons\n", indent)
	t := table{{"endpoint", "metric", "A", "B", "change", "", "p", "p adj", "class"}}
	for i, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		name := e.Endpoint
		if i == 0 {
			name = overallName
		}
		for j, cmp := range e.Comparisons {
			n := ""
			if j == 0 {
				n = name
			}
			abs, rel := change(cmp)
			va, vb := values(cmp)
			t = append(t, []string{n, cmp.Metric, va, vb, abs, rel,
				pvalue(cmp.P), pvalue(cmp.PAdjusted), cmp.Class.String()})
		}
	}
	t.write(w, map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true})
}

// values formats A and B of a comparison; a field shows the values of
// its example pair.
func values(c *Comparison) (a, b string) {
	if c.Kind == KindField {
		if c.Field == nil {
			return "", ""
		}
		return c.Field.ExampleA, c.Field.ExampleB
	}
	return value(c, c.A), value(c, c.B)
}

// value formats A or B of a comparison.
func value(c *Comparison, v float64) string {
	switch c.Kind {
	case KindDistribution:
		return ""
	case KindEndpoint:
		if v == 0 {
			return "-"
		}
		return strconv.FormatInt(int64(v), 10) + " reqs"
	}
	switch c.Unit {
	case unitMS:
		return report.FormatDuration(time.Duration(math.Round(v * float64(time.Millisecond))))
	case unitRatio, unitShare:
		return report.FormatPercent(v)
	case unitRate:
		return report.FormatRate(v)
	}
	return strconv.FormatInt(int64(v), 10)
}

// change formats the change of a comparison: absolute, and relative to
// A when it has a meaning.
func change(c *Comparison) (abs, rel string) {
	switch c.Kind {
	case KindDistribution:
		return "P(B>A)=" + strconv.FormatFloat(*c.Effect, 'f', 2, 64), ""
	case KindEndpoint:
		if c.A == 0 {
			return "new endpoint", ""
		}
		return "vanished", ""
	case KindStatus, KindError:
		s := "new"
		if c.B == 0 {
			s = "gone"
		}
		if c.Note != "" {
			s += " (" + c.Note + ")"
		}
		return s, ""
	case KindShape:
		if c.Delta > 0 {
			return "new shape", ""
		}
		return "shape gone", ""
	case KindField:
		if c.Field == nil {
			return "", ""
		}
		return fmt.Sprintf("differs in %d of %d", c.Field.Differ, c.Field.Pairs), strconv.FormatFloat(c.B*100, 'f', 0, 64) + "%"
	}
	switch c.Unit {
	case unitMS:
		d := time.Duration(math.Round(c.Delta * float64(time.Millisecond)))
		abs = sign(c.Delta) + report.FormatDuration(d.Abs())
	case unitRatio:
		return sign(c.Delta) + strconv.FormatFloat(math.Abs(c.Delta)*100, 'f', 2, 64) + "pp", ""
	case unitRate:
		abs = sign(c.Delta) + report.FormatRate(math.Abs(c.Delta))
	}
	if c.Relative != nil {
		rel = sign(*c.Relative) + strconv.FormatFloat(math.Abs(*c.Relative)*100, 'f', 1, 64) + "%"
	}
	return abs, rel
}

// fieldDetail is the lines under a field's row: the example pair, and
// how the field fares between A and A2.
func fieldDetail(c *Comparison) []string {
	f := c.Field
	if f == nil {
		return nil
	}
	line := fmt.Sprintf("example: event #%d", f.ExampleSeq)
	if f.ExampleA2 != "" {
		line += ", A2 " + f.ExampleA2
	}
	if f.NoisePairs > 0 || f.withA2 {
		line += fmt.Sprintf("; A against A2: differs in %d of %d", f.NoiseDiffer, f.NoisePairs)
	}
	if f.Noise != "" {
		line += "; noise: " + f.Noise
	}
	return []string{line}
}

func sign(v float64) string {
	if v < 0 {
		return "-"
	}
	return "+"
}

func pvalue(p *float64) string {
	switch {
	case p == nil:
		return "-"
	case *p < 0.0001:
		return "<0.0001"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

// table renders aligned rows: right-aligned in the columns given, the
// last cell of a short row (a detail line) spilling freely.
type table [][]string

func (t table) write(w *bufio.Writer, right map[int]bool) {
	var ws []int
	for _, row := range t {
		if len(row) < len(t[0]) {
			continue // detail lines do not set widths
		}
		for i, c := range row {
			if i >= len(ws) {
				ws = append(ws, 0)
			}
			ws[i] = max(ws[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range t {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := 0
			if i < len(ws) && len(row) == len(t[0]) {
				pad = ws[i] - utf8.RuneCountInString(c)
			}
			if i == 0 && len(row) < len(t[0]) {
				pad = ws[0] - utf8.RuneCountInString(c)
			}
			if right[i] {
				b.WriteString(strings.Repeat(" ", max(pad, 0)))
				b.WriteString(c)
			} else {
				b.WriteString(c)
				b.WriteString(strings.Repeat(" ", max(pad, 0)))
			}
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteString("\n")
	}
}
