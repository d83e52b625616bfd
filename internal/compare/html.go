package compare

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/report"
)

// WriteHTML writes the comparison as one self-contained HTML file (no
// script, font or other external resource, readable without
// JavaScript), in the style of the run report: the verdict first (with
// the regressions behind it and what was compared), then latency A
// against B per endpoint (a chart of p50 and p95, and a table of the
// changes with their 95% intervals in a live comparison), then the
// fields of the answers that differed (live only; fields differing only
// as noise folded away), then every regression, improvement and change
// as the text lists them, and the text report itself.
func (r *Report) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	if err := r.WriteText(&text, TextOptions{}); err != nil {
		return err
	}
	v := r.Verdict()
	d := htmlData{
		Verdict: strings.ToUpper(v.String()),
		State:   v.String(),
		Tally:   r.Tally(),
		Partial: r.Partial,
		Notes:   r.Notes,
		Text:    strings.TrimLeft(text.String(), "\n"),
		Live:    r.Live != nil,
	}
	d.Title = d.Verdict + " · reprise comparison"
	d.Runs = append(d.Runs, runLine("A", r.A), runLine("B", r.B))
	if r.A2 != nil {
		d.Runs = append(d.Runs, runLine("A2", *r.A2))
	}
	if l := r.Live; l != nil {
		d.Paired = fmt.Sprintf("One replay sent every event to A and B at the same intended time: %d pairs, %d answered by both; %d answers compared field by field",
			l.Pairs, l.Answered, l.Compared)
		if l.Connections > 0 {
			d.Paired += fmt.Sprintf(", and the messages of %d WebSocket connections", l.Connections)
		}
		if l.Noise == "a2" {
			d.Paired += "; noise learnt from A2."
		} else {
			d.Paired += "; noise recognised by its values (ids, timestamps, values varying per answer): --a2 learns it."
		}
	}
	d.Method = fmt.Sprintf("Flagged when significant (p adjusted ≤ %s over %d tests, Benjamini-Hochberg) and beyond %s and %s.",
		trim(r.Options.Alpha), r.Tests, report.FormatPercent(r.Options.MinChange), report.FormatDuration(r.Options.MinLatencyChange))
	for _, c := range r.Rows(Regression) {
		if len(d.Top) == maxTop {
			d.More++
			continue
		}
		d.Top = append(d.Top, findingOf(c))
	}
	d.Latency, d.Chart, d.ChartMore = r.latencyRows()
	d.Fields, d.OtherFields, d.NoiseFields = r.fieldRows()
	for _, c := range []Class{Regression, Improvement, Change} {
		for _, cmp := range r.Rows(c) {
			d.Findings = append(d.Findings, findingOf(cmp))
		}
	}
	if err := htmlTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("write html comparison: %w", err)
	}
	return nil
}

// maxTop bounds the regressions the verdict banner lists.
const maxTop = 8

type htmlData struct {
	Title, Verdict, State, Tally string
	Runs                         []string
	Paired, Method               string
	Partial, Notes               []string
	Top                          []finding
	More                         int
	Live                         bool
	Chart                        template.HTML
	ChartMore                    int
	Latency                      []latencyRow
	Fields                       []fieldGroup
	OtherFields                  []fieldGroup
	NoiseFields                  []fieldGroup
	Findings                     []finding
	Text                         string
}

// finding is one row of the regressions, improvements and changes.
type finding struct {
	Class, Endpoint, Metric, A, B, Change, Rel, P, Detail string
}

func findingOf(c *Comparison) finding {
	a, b := values(c)
	abs, rel := change(c)
	name := c.Endpoint
	if name == "" {
		name = overallName
	}
	return finding{Class: c.Class.String(), Endpoint: name, Metric: c.Metric, A: a, B: b, Change: abs, Rel: rel,
		P: pvalue(c.PAdjusted), Detail: strings.Join(detail(c), "; ")}
}

func runLine(label string, run Run) string {
	parts := []string{label + ":"}
	if run.File != "" {
		parts = append(parts, run.File)
	}
	if run.Meta.Target != "" {
		parts = append(parts, run.Meta.Target)
	}
	if run.Meta.Corpus != "" {
		parts = append(parts, "corpus "+run.Meta.Corpus)
	}
	if run.Meta.Speed > 0 {
		parts = append(parts, "speed "+trim(run.Meta.Speed)+"x")
	}
	parts = append(parts, fmt.Sprintf("%d requests in %s", run.Requests,
		report.FormatDuration(time.Duration(run.Duration*float64(time.Second)).Round(time.Millisecond))))
	return strings.Join(parts, " ")
}

// latencyCell is one statistic of an endpoint in the latency table.
type latencyCell struct {
	A, B, Change, CI, Class string
}

type latencyRow struct {
	Endpoint string
	Pairs    int64
	Cells    []latencyCell // p50, p95, shift (or distribution)
	Class    string
}

// latencyStats are the latency table's columns, by metric.
var latencyStats = []string{"latency p50", "latency p95", "latency paired shift"}

// latencyRows builds the latency table (every endpoint with latency
// comparisons, the whole run first) and its chart (the whole run and the
// endpoints whose latency changed, up to maxChartRows; the number left
// out is returned).
func (r *Report) latencyRows() ([]latencyRow, template.HTML, int) {
	var rows []latencyRow
	var bars []report.BarRow
	chartMore := 0
	const cA, cB = "#718096", "#2b6cb0"
	for i, e := range append([]*Endpoint{r.Overall}, r.Endpoints...) {
		if e == nil {
			continue
		}
		name := e.Endpoint
		if i == 0 {
			name = overallName
		}
		row := latencyRow{Endpoint: name, Class: Unchanged.String()}
		found := false
		for _, stat := range latencyStats {
			cell := latencyCell{A: dash, B: dash, Change: dash, Class: Unchanged.String()}
			c := e.metric(stat)
			if c == nil && stat == "latency paired shift" {
				c = e.metric("latency distribution")
			}
			if c != nil {
				found = true
				cell.A, cell.B = value(c, c.A), value(c, c.B)
				abs, rel := change(c)
				cell.Change = strings.TrimSpace(abs + " " + rel)
				if c.Kind == KindDistribution {
					cell.A, cell.B = dash, dash
				}
				if c.CILow != nil && c.CIHigh != nil {
					cell.CI = fmtMS(*c.CILow) + " … " + fmtMS(*c.CIHigh)
				}
				cell.Class = c.Class.String()
				if c.Class > Unchanged && row.Class == Unchanged.String() || c.Class == Regression {
					row.Class = c.Class.String()
				}
				row.Pairs = max(row.Pairs, c.NA)
			}
			row.Cells = append(row.Cells, cell)
		}
		if !found {
			continue
		}
		rows = append(rows, row)
		p50, p95 := e.metric("latency p50"), e.metric("latency p95")
		if p50 == nil || p95 == nil || i > 0 && row.Class == Unchanged.String() {
			continue // the chart shows the whole run and what changed
		}
		if len(bars) == maxChartRows {
			chartMore++
			continue
		}
		bars = append(bars, report.BarRow{Label: name, Bars: []report.Bar{
			{Name: "A p50", Color: cA, Value: p50.A, Text: "A p50 " + value(p50, p50.A)},
			{Name: "B p50", Color: cB, Value: p50.B, Text: "B p50 " + value(p50, p50.B)},
			{Name: "A p95", Color: "#a0aec0", Value: p95.A, Text: "A p95 " + value(p95, p95.A)},
			{Name: "B p95", Color: "#63b3ed", Value: p95.B, Text: "B p95 " + value(p95, p95.B)},
		}})
	}
	var chart template.HTML
	if len(bars) > 0 {
		chart = report.BarChart(720, bars)
	}
	return rows, chart, chartMore
}

// maxChartRows bounds the rows of the latency chart.
const maxChartRows = 10

const dash = "–"

func fmtMS(v float64) string {
	d := time.Duration(math.Round(v * float64(time.Millisecond)))
	return sign(v) + report.FormatDuration(d.Abs())
}

// metric finds the comparison of a metric.
func (e *Endpoint) metric(name string) *Comparison {
	for _, c := range e.Comparisons {
		if c.Metric == name {
			return c
		}
	}
	return nil
}

// fieldGroup is the field rows of one endpoint.
type fieldGroup struct {
	Endpoint string
	Rows     []fieldRow
}

type fieldRow struct {
	Field, Differ, Noise, A, B, A2, Class, P, Why string
	Event                                         uint64
}

// fieldRows lists the fields of the answers that differed: those
// flagged (a regression or a change), those judged unchanged (not
// significant, or sporadic without A2), and those differing only as
// noise.
func (r *Report) fieldRows() (flagged, other, noise []fieldGroup) {
	for _, e := range r.Endpoints {
		var j, o, n fieldGroup
		j.Endpoint, o.Endpoint, n.Endpoint = e.Endpoint, e.Endpoint, e.Endpoint
		for _, c := range e.Comparisons {
			f := c.Field
			if c.Kind != KindField || f == nil {
				continue
			}
			row := fieldRow{Field: f.Field, Differ: fmt.Sprintf("%d of %d (%.0f%%)", f.Differ, f.Pairs, 100*c.B),
				A: f.ExampleA, B: f.ExampleB, A2: f.ExampleA2, Class: c.Class.String(), P: pvalue(c.PAdjusted), Event: f.ExampleSeq, Why: c.Note}
			if f.withA2 {
				row.Noise = fmt.Sprintf("%d of %d", f.NoiseDiffer, f.NoisePairs)
			}
			if f.Noise != "" {
				row.Why = f.Noise
				n.Rows = append(n.Rows, row)
				continue
			}
			if c.Class == Unchanged {
				o.Rows = append(o.Rows, row)
				continue
			}
			j.Rows = append(j.Rows, row)
		}
		if len(j.Rows) > 0 {
			flagged = append(flagged, j)
		}
		if len(o.Rows) > 0 {
			other = append(other, o)
		}
		if len(n.Rows) > 0 {
			noise = append(noise, n)
		}
	}
	return flagged, other, noise
}

var htmlTemplate = template.Must(template.New("compare").Parse(`<!doctype html>
` + report.PageHead + `.verdict.regression{background:#fff5f5;border-color:#c53030}.verdict.regression h1{color:#9b2c2c}
.verdict.unchanged{background:#f0fff4;border-color:#2f855a}.verdict.unchanged h1{color:#22543d}
.verdict.improvement{background:#ebf8ff;border-color:#2b6cb0}.verdict.improvement h1{color:#2c5282}
.verdict.change{background:#fffaf0;border-color:#dd6b20}.verdict.change h1{color:#9c4221}
.warn{font-weight:600;color:#9c4221;margin:4px 0}
th.group{text-align:center;border-bottom:1px solid #cbd5e0}
td.name,th.name,td.left,th.left{text-align:left}td.left{white-space:normal}
td.value{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;text-align:left;white-space:normal;word-break:break-all}
td.ci{color:#4a5568;font-size:12px}
.regression{color:#c53030;font-weight:600}.improvement{color:#2b6cb0;font-weight:600}.change{color:#9c4221}.unchanged{color:#4a5568}
tr.regression td.name{box-shadow:inset 4px 0 #c53030}tr.improvement td.name{box-shadow:inset 4px 0 #2b6cb0}tr.change td.name{box-shadow:inset 4px 0 #dd6b20}
tr.regression td,tr.improvement td,tr.change td,tr.unchanged td{font-weight:400;color:#1a202c}
</style></head><body>
<header id="verdict" class="verdict {{.State}}">
<h1>{{if eq .State "regression"}}✗{{else if eq .State "unchanged"}}✓{{else if eq .State "improvement"}}↑{{else}}~{{end}} {{.Verdict}}: {{.Tally}}</h1>
{{if .Top}}<ul class="regressions">
{{range .Top}}<li class="regression">✗ {{.Endpoint}} · {{.Metric}}: {{.A}} → {{.B}} ({{.Change}}{{if .Rel}} {{.Rel}}{{end}})</li>
{{end}}{{if .More}}<li>and {{.More}} more, listed under Findings</li>{{end}}</ul>{{end}}
{{range .Partial}}<p class="warn">⚠ Partial run: {{.}}; the verdict judges only that part.</p>{{end}}
{{if .Paired}}<p class="note">{{.Paired}}</p>{{end}}
<p class="note">{{.Method}}</p>
{{range .Notes}}<p class="warn">⚠ {{.}}</p>{{end}}
<p class="run">{{range $i, $r := .Runs}}{{if $i}}<br>{{end}}{{$r}}{{end}}</p>
</header>
<nav><a href="#latency">Latency A against B</a>{{if .Live}}<a href="#fields">Field differences</a>{{end}}<a href="#findings">Findings ({{len .Findings}})</a><a href="#text">Text report</a></nav>
<h2 id="latency">Latency, A against B, per endpoint</h2>
{{if .Chart}}<section id="chart-latency">{{.Chart}}
<div class="legend"><span style="color:#718096">■ A p50</span><span style="color:#2b6cb0">■ B p50</span><span style="color:#a0aec0">■ A p95</span><span style="color:#63b3ed">■ B p95</span></div>
<p class="note">The whole run{{if .ChartMore}} and the first endpoints whose latency changed ({{.ChartMore}} more in the table){{else}} and every endpoint whose latency changed{{end}}.</p></section>{{end}}
{{if .Latency}}<table id="latency-table"><tr><th class="name" rowspan="2">endpoint</th><th rowspan="2">{{if .Live}}pairs{{else}}requests (A){{end}}</th>
<th colspan="4" class="group">p50</th><th colspan="4" class="group">p95</th><th colspan="4" class="group">{{if .Live}}paired shift (median of B − A){{else}}distribution (Mann-Whitney){{end}}</th></tr>
<tr><th>A</th><th>B</th><th>change</th><th>95% interval</th><th>A</th><th>B</th><th>change</th><th>95% interval</th><th>A</th><th>B</th><th>change</th><th>95% interval</th></tr>
{{range .Latency}}<tr class="{{.Class}}"><td class="name">{{.Endpoint}}</td><td>{{.Pairs}}</td>{{range .Cells}}<td>{{.A}}</td><td>{{.B}}</td><td class="{{.Class}}">{{.Change}}</td><td class="ci">{{.CI}}</td>{{end}}</tr>
{{end}}</table>
<p class="note">p99 and the mean, service time and WebSocket durations are under Findings when they changed, and in the text report.</p>{{else}}<p class="note">No latency was compared.</p>{{end}}
{{if .Live}}<h2 id="fields">Field differences</h2>
<p class="note">Each pair's answers compared: status, chosen headers, JSON bodies by path (arrays by index, or by id when both sides share ids), WebSocket messages per connection and type. A field differing in most pairs beyond noise is a regression.</p>
{{if .Fields}}{{range .Fields}}<h3>{{.Endpoint}}</h3>
{{template "fields" .Rows}}{{end}}{{else}}<p class="note">No field differed beyond noise in most pairs{{if .OtherFields}} (fields differing now and then are below){{end}}.</p>{{end}}
{{if .OtherFields}}<details><summary>Fields differing in some pairs, judged unchanged (not significant, or sporadic: without --a2 such differences cannot be told from races)</summary>
{{range .OtherFields}}<h3>{{.Endpoint}}</h3>
{{template "fields" .Rows}}{{end}}</details>{{end}}
{{if .NoiseFields}}<details><summary>Fields differing only as noise</summary>
{{range .NoiseFields}}<h3>{{.Endpoint}}</h3>
<table class="noise-table"><tr><th class="name">field</th><th>A and B differ in</th><th>A and A2 differ in</th><th class="left">example: A</th><th class="left">B</th><th class="left">why noise</th></tr>
{{range .Rows}}<tr><td class="name">{{.Field}}</td><td>{{.Differ}}</td><td>{{.Noise}}</td><td class="value">{{.A}}</td><td class="value">{{.B}}</td><td class="left">{{.Why}}</td></tr>
{{end}}</table>{{end}}</details>{{end}}{{end}}
<h2 id="findings">Findings</h2>
{{if .Findings}}<table id="findings-table"><tr><th class="left">class</th><th class="name">endpoint</th><th class="left">metric</th><th>A</th><th>B</th><th>change</th><th></th><th>p adj</th><th class="left">detail</th></tr>
{{range .Findings}}<tr class="{{.Class}}"><td class="left {{.Class}}">{{.Class}}</td><td class="name">{{.Endpoint}}</td><td class="left">{{.Metric}}</td><td>{{.A}}</td><td>{{.B}}</td><td>{{.Change}}</td><td>{{.Rel}}</td><td>{{.P}}</td><td class="left">{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p class="note">No significant difference beyond the practical thresholds.</p>{{end}}
<h2 id="text">Text report</h2>
<details><summary>The comparison as replay compare prints it</summary>
<pre>{{.Text}}</pre></details>
</body></html>
{{define "fields"}}<table class="field-table"><tr><th class="name">field</th><th>A and B differ in</th><th>A and A2 differ in</th><th class="left">example: A</th><th class="left">B</th><th class="left">A2</th><th>event</th><th>p adj</th><th class="left">judged</th></tr>
{{range .}}<tr class="{{.Class}}"><td class="name">{{.Field}}</td><td>{{.Differ}}</td><td>{{.Noise}}</td><td class="value">{{.A}}</td><td class="value">{{.B}}</td><td class="value">{{.A2}}</td><td>#{{.Event}}</td><td>{{.P}}</td><td class="left {{.Class}}">{{.Class}}{{if .Why}} ({{.Why}}){{end}}</td></tr>
{{end}}</table>{{end}}`))
