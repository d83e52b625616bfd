package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// WriteHTML writes a self-contained HTML report (no scripts, no external
// files): the run, the k6-style lines, charts of the per-second series
// (requests and failures, p50/p95/p99 latency, active flows) as inline SVG,
// the endpoint and WebSocket tables and the threshold verdicts.
func WriteHTML(w io.Writer, s *metrics.Snapshot, vs Verdicts) error {
	var summary bytes.Buffer
	if err := Summary(&summary, s, SummaryOptions{Verdicts: vs}); err != nil {
		return err
	}
	d := htmlData{
		Title:   "reprise report",
		Meta:    s.Meta,
		Summary: strings.TrimLeft(summary.String(), "\n"),
	}
	if s.Meta.Corpus != "" {
		d.Title = "reprise: " + s.Meta.Corpus
	}
	d.Charts = charts(s)
	for _, e := range s.Endpoints {
		if e.Latency == nil && e.WS == nil {
			continue
		}
		row := endpointRow{Name: e.Endpoint, Requests: e.Requests, Rate: formatRate(e.Rate), ErrPct: formatPercent(e.ErrorRate())}
		if e.Latency != nil && e.Latency.Count() > 0 {
			p := e.Latency.Percentiles(50, 95, 99)
			row.P50, row.P95, row.P99 = formatDuration(p[0]), formatDuration(p[1]), formatDuration(p[2])
			row.Max = formatDuration(e.Latency.Max())
			row.bar = p[1]
		}
		for _, v := range vs.ForEndpoint(e.Endpoint) {
			row.Verdicts = append(row.Verdicts, verdictCell{Text: v.Expr, Pass: v.Pass, Skipped: v.Skipped})
		}
		d.Endpoints = append(d.Endpoints, row)
	}
	var longest time.Duration
	for _, r := range d.Endpoints {
		longest = max(longest, r.bar)
	}
	for i := range d.Endpoints {
		if longest > 0 {
			d.Endpoints[i].BarPct = 100 * float64(d.Endpoints[i].bar) / float64(longest)
		}
	}
	for _, v := range vs {
		d.Verdicts = append(d.Verdicts, verdictCell{Text: v.Expr, Pass: v.Pass, Skipped: v.Skipped, Note: v.metricLabel() + "=" + formatValue(v.Threshold, v.Observed)})
	}
	return htmlTemplate.Execute(w, d)
}

type htmlData struct {
	Title     string
	Meta      metrics.Meta
	Summary   string
	Charts    []chart
	Endpoints []endpointRow
	Verdicts  []verdictCell
}

type endpointRow struct {
	Name               string
	Requests           int64
	Rate, ErrPct       string
	P50, P95, P99, Max string
	Verdicts           []verdictCell
	BarPct             float64
	bar                time.Duration
}

type verdictCell struct {
	Text    string
	Pass    bool
	Skipped bool
	Note    string
}

// chart is one SVG line chart over the run's seconds.
type chart struct {
	Title  string
	Unit   string
	Width  int
	Height int
	Series []line2
	YTicks []tick
	XTicks []tick
}

type line2 struct {
	Name   string
	Color  string
	Points string // SVG polyline points
}

type tick struct {
	Pos   float64
	Label string
}

const (
	chartW, chartH = 760, 180
	padL, padB     = 56, 22
)

func charts(s *metrics.Snapshot) []chart {
	n := len(s.Series)
	if n == 0 {
		return nil
	}
	reqs := make([]float64, n)
	fails := make([]float64, n)
	flows := make([]float64, n)
	p50 := make([]float64, n)
	p95 := make([]float64, n)
	p99 := make([]float64, n)
	for i, sec := range s.Series {
		reqs[i], fails[i], flows[i] = float64(sec.Requests), float64(sec.Failed), float64(sec.Flows)
		if sec.Latency != nil && sec.Latency.Count() > 0 {
			p := sec.Latency.Percentiles(50, 95, 99)
			p50[i], p95[i], p99[i] = ms(p[0]), ms(p[1]), ms(p[2])
		}
	}
	return []chart{
		makeChart("Requests per second", "/s", n, []named{{"requests", "#2b6cb0", reqs}, {"failed", "#c53030", fails}}),
		makeChart("Latency from the intended send time", "ms", n, []named{{"p50", "#2f855a", p50}, {"p95", "#d69e2e", p95}, {"p99", "#c53030", p99}}),
		makeChart("Active flows (concurrent users)", "", n, []named{{"flows", "#6b46c1", flows}}),
	}
}

type named struct {
	name, color string
	v           []float64
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func makeChart(title, unit string, n int, series []named) chart {
	top := 0.0
	for _, s := range series {
		for _, v := range s.v {
			top = math.Max(top, v)
		}
	}
	top = niceCeil(top)
	c := chart{Title: title, Unit: unit, Width: chartW, Height: chartH}
	plotW, plotH := float64(chartW-padL-8), float64(chartH-padB-8)
	x := func(i int) float64 {
		if n <= 1 {
			return padL
		}
		return padL + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return 8 + plotH*(1-v/top) }
	for _, s := range series {
		var b strings.Builder
		for i, v := range s.v {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(v))
		}
		c.Series = append(c.Series, line2{Name: s.name, Color: s.color, Points: strings.TrimSpace(b.String())})
	}
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: trimFloat(v, 1) + unit})
	}
	step := max(1, n/8)
	for i := 0; i < n; i += step {
		c.XTicks = append(c.XTicks, tick{Pos: x(i), Label: fmt.Sprintf("%ds", i)})
	}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for zero).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
pre{background:#f7fafc;border:1px solid #e2e8f0;padding:12px;overflow-x:auto;font-size:12px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #edf2f7;text-align:right}
td:first-child,th:first-child{text-align:left}
.bar{background:#bee3f8;height:10px;display:inline-block}
.pass{color:#2f855a}.fail{color:#c53030;font-weight:bold}.skip{color:#718096}
svg text{font-size:11px;fill:#4a5568}
</style></head><body>
<h1>{{.Title}}</h1>
<p>target <b>{{.Meta.Target}}</b> · speed {{.Meta.Speed}}x{{if gt .Meta.Multiply 1}} · {{.Meta.Multiply}} copies{{end}} · {{.Meta.Start.Format "2006-01-02 15:04:05 MST"}} · {{.Meta.Tool}}</p>
{{range .Charts}}
<h2>{{.Title}}</h2>
<svg width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{range .YTicks}}<line x1="56" x2="752" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#edf2f7"/><text x="50" y="{{.Pos}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="176" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .Series}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.5" points="{{.Points}}"><title>{{.Name}}</title></polyline>
{{end}}</svg>
<div>{{range .Series}}<span style="color:{{.Color}}">■ {{.Name}}</span> {{end}}</div>
{{end}}
<h2>Endpoints</h2>
<table><tr><th>endpoint</th><th>reqs</th><th>rate</th><th>err%</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th></th><th>thresholds</th></tr>
{{range .Endpoints}}<tr><td>{{.Name}}</td><td>{{.Requests}}</td><td>{{.Rate}}</td><td>{{.ErrPct}}</td><td>{{.P50}}</td><td>{{.P95}}</td><td>{{.P99}}</td><td>{{.Max}}</td>
<td style="text-align:left;width:120px"><span class="bar" style="width:{{printf "%.0f" .BarPct}}%"></span></td>
<td style="text-align:left">{{range .Verdicts}}<span class="{{if .Skipped}}skip{{else if .Pass}}pass{{else}}fail{{end}}">{{if .Skipped}}-{{else if .Pass}}✓{{else}}✗{{end}} {{.Text}}</span> {{end}}</td></tr>
{{end}}</table>
{{if .Verdicts}}<h2>Thresholds</h2><ul>
{{range .Verdicts}}<li class="{{if .Skipped}}skip{{else if .Pass}}pass{{else}}fail{{end}}">{{if .Skipped}}-{{else if .Pass}}✓{{else}}✗{{end}} {{.Text}} <span class="skip">{{.Note}}</span></li>
{{end}}</ul>{{end}}
<h2>Summary</h2>
<pre>{{.Summary}}</pre>
</body></html>
`))
