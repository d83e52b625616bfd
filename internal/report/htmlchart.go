package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// The HTML report draws its charts as inline SVG written here: no script,
// no external file. A chart's viewBox is scaled to the page width by CSS,
// so its text scales with it; widths below are in viewBox units.

// maxPoints bounds the points of a time-series chart: a longer run is drawn
// in buckets of several seconds (rates over the bucket, latency
// percentiles of the bucket's merged histogram).
const maxPoints = 600

// minPartial is the shortest part of the last bucket, as a fraction of a
// bucket, drawn as a rate: a shorter tail (the last few milliseconds of a
// run, into a second that barely began) would give a rate of a handful
// of results over nothing, so it is left out and the chart says so.
const minPartial = 0.25

// bucket is one point of the time series: the seconds [from, to) of the
// run, in seconds from its start. Only the last bucket may be shorter
// than the others.
type bucket struct {
	from, to         float64
	requests, failed int64
	// flows is the most flows active in one second of the bucket.
	flows   int64
	latency *metrics.Dist
}

func (b bucket) seconds() float64 { return b.to - b.from }

// timeline is the time series of a snapshot cut into buckets.
type timeline struct {
	buckets []bucket
	// step is the length of a whole bucket, in seconds.
	step int
	// end is where the drawn buckets end (seconds from the run's start).
	end float64
	// note says how the last, partial bucket is drawn, or why it is not.
	note string
}

// runEnd is where the run ends on the clock of its series, in seconds:
// the engine's duration, or the last completion when later (or when the
// engine gave no duration).
func runEnd(s *metrics.Snapshot) float64 {
	end := max(s.Meta.Duration, s.Last).Seconds()
	if n := len(s.Series); float64(n-1) >= end {
		// a result completed in a second past the end the run reports:
		// the series is the better clock
		end = float64(n)
	}
	return end
}

// makeTimeline buckets the snapshot's per-second series. An empty series
// gives an empty timeline.
func makeTimeline(s *metrics.Snapshot) timeline {
	if len(s.Series) == 0 {
		return timeline{}
	}
	end := runEnd(s)
	secs := int(math.Ceil(end))
	step := max(1, (secs+maxPoints-1)/maxPoints)
	tl := timeline{step: step}
	for from := 0; from < secs; from += step {
		b := bucket{from: float64(from), to: math.Min(float64(from+step), end)}
		for i := from; i < from+step && i < len(s.Series); i++ {
			sec := s.Series[i]
			b.requests += sec.Requests
			b.failed += sec.Failed
			b.flows = max(b.flows, sec.Flows)
			if sec.Latency != nil && sec.Latency.Count() > 0 {
				if b.latency == nil {
					b.latency = metrics.NewDist()
				}
				b.latency.Merge(sec.Latency)
			}
		}
		tl.buckets = append(tl.buckets, b)
	}
	last := tl.buckets[len(tl.buckets)-1]
	unit := "second"
	if step > 1 {
		unit = fmt.Sprintf("%d-second bucket", step)
	}
	switch part := last.seconds() / float64(step); {
	case part >= 1:
	case part >= minPartial || len(tl.buckets) == 1:
		tl.note = fmt.Sprintf("The run ended %s into its last %s: the last point is a rate over that part, not over a whole %s.",
			formatSeconds(last.seconds()), unit, unit)
	default:
		tl.buckets = tl.buckets[:len(tl.buckets)-1]
		tl.note = fmt.Sprintf("The last %s of the run (after %s, %d requests completed in it, %d failed) is not drawn: too short a time to give a rate.",
			formatSeconds(last.seconds()), tickLabel(last.from), last.requests, last.failed)
	}
	tl.end = tl.buckets[len(tl.buckets)-1].to
	return tl
}

// formatSeconds formats a length in seconds as a duration, to a tenth
// of a millisecond: "400ms", "1.5ms".
func formatSeconds(s float64) string {
	return formatDuration(time.Duration(s * float64(time.Second)).Round(100 * time.Microsecond))
}

// chart is one rendered chart: its heading, legend and SVG.
type chart struct {
	Title  string
	Note   string
	Legend []legendItem
	SVG    template.HTML
	// ID names the chart for links and tests ("requests", "failures").
	ID string
}

type legendItem struct{ Name, Color string }

// Line chart geometry (viewBox units).
const (
	lineW, lineH             = 1200, 220
	linePadL, linePadR       = 70, 30
	linePadT, linePadB       = 10, 26
	linePlotW, linePlotH     = lineW - linePadL - linePadR, lineH - linePadT - linePadB
	colorRequests, colorFail = "#2b6cb0", "#c53030"
)

// plot maps a timeline and a value range onto the line chart's area.
type plot struct {
	end, top, step float64
}

func newPlot(end, maxValue float64) plot {
	top, step := niceScale(maxValue)
	return plot{end: end, top: top, step: step}
}

func (p plot) x(t float64) float64 { return linePadL + linePlotW*t/p.end }
func (p plot) y(v float64) float64 { return linePadT + linePlotH*(1-v/p.top) }

// axes draws the grid, the y labels (yLabel formats a value) and the time
// ticks.
func (p plot) axes(b *strings.Builder, yLabel func(float64) string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" preserveAspectRatio="xMinYMin meet" role="img">`, lineW, lineH)
	for k := 0.0; k*p.step <= p.top*(1+1e-9); k++ {
		v := k * p.step
		y := p.y(v)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e2e8f0"/>`, linePadL, lineW-linePadR, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, linePadL-6, y, template.HTMLEscapeString(yLabel(v)))
	}
	for _, t := range timeTicks(p.end) {
		x := p.x(t)
		anchor := "middle"
		if x > lineW-linePadR-20 {
			anchor = "end" // the last label stays inside the chart
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#a0aec0"/>`, x, x, lineH-linePadB, lineH-linePadB+4)
		fmt.Fprintf(b, `<text class="xtick" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x, lineH-6, anchor, tickLabel(t))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#a0aec0"/>`, linePadL, lineW-linePadR, lineH-linePadB, lineH-linePadB)
}

// series is one line of a line chart: a value per bucket, ok false where
// the bucket has none (the line breaks there rather than fall to zero).
type series struct {
	name, color string
	v           []float64
	ok          []bool
}

// maxMarked is the most points a line marks with a dot: a short run's
// few points stand out, a long run's stay a line.
const maxMarked = 60

// lineChart draws series over the timeline, each point at the middle of
// its bucket.
func lineChart(tl timeline, ss []series, yLabel func(float64) string) template.HTML {
	top := 0.0
	for _, s := range ss {
		for i, v := range s.v {
			if s.ok[i] {
				top = math.Max(top, v)
			}
		}
	}
	p := newPlot(tl.end, top)
	var b strings.Builder
	p.axes(&b, yLabel)
	for _, s := range ss {
		var seg []string
		flush := func() {
			switch len(seg) {
			case 0:
			case 1:
				x, y, _ := strings.Cut(seg[0], ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, x, y, s.color)
			default:
				fmt.Fprintf(&b, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round" points="%s"/>`,
					template.HTMLEscapeString(s.name), s.color, strings.Join(seg, " "))
				if len(tl.buckets) <= maxMarked {
					for _, pt := range seg {
						x, y, _ := strings.Cut(pt, ",")
						fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2" fill="%s"/>`, x, y, s.color)
					}
				}
			}
			seg = seg[:0]
		}
		for i, bk := range tl.buckets {
			if !s.ok[i] {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", p.x((bk.from+bk.to)/2), p.y(s.v[i])))
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barsOverTime draws one column per bucket with a value above zero (tip
// is its tooltip), on a scale of its own.
func barsOverTime(tl timeline, v []float64, tip []string, color string, yLabel func(float64) string) template.HTML {
	top := 0.0
	for _, x := range v {
		top = math.Max(top, x)
	}
	p := newPlot(tl.end, top)
	var b strings.Builder
	p.axes(&b, yLabel)
	for i, bk := range tl.buckets {
		if v[i] <= 0 {
			continue
		}
		x0, x1 := p.x(bk.from), p.x(bk.to)
		w := math.Max(x1-x0-1, 1.5)
		y := p.y(v[i])
		fmt.Fprintf(&b, `<rect class="fail-bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x0+0.5, y, w, float64(lineH-linePadB)-y, color, template.HTMLEscapeString(tip[i]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// timeCharts are the charts over the run's time: requests per second,
// failed requests per second on a scale of their own, latency
// percentiles and active flows.
func timeCharts(s *metrics.Snapshot) ([]chart, string) {
	tl := makeTimeline(s)
	n := len(tl.buckets)
	if n == 0 {
		return nil, ""
	}
	mk := func(name, color string) series {
		return series{name: name, color: color, v: make([]float64, n), ok: make([]bool, n)}
	}
	reqs, flows := mk("requests/s", colorRequests), mk("flows", "#6b46c1")
	p50, p95, p99 := mk("p50", "#2f855a"), mk("p95", "#d69e2e"), mk("p99", colorFail)
	failed := make([]float64, n)
	tips := make([]string, n)
	var anyFailed, anyLatency bool
	for i, bk := range tl.buckets {
		secs := bk.seconds()
		reqs.v[i], reqs.ok[i] = float64(bk.requests)/secs, true
		flows.v[i], flows.ok[i] = float64(bk.flows), true
		failed[i] = float64(bk.failed) / secs
		anyFailed = anyFailed || bk.failed > 0
		tips[i] = fmt.Sprintf("%s–%s: %d failed of %d requests", tickLabel(bk.from), tickLabel(bk.to), bk.failed, bk.requests)
		if bk.latency.Count() > 0 {
			q := bk.latency.Percentiles(50, 95, 99)
			for j, sr := range []*series{&p50, &p95, &p99} {
				sr.v[i], sr.ok[i] = ms(q[j]), true
			}
			anyLatency = true
		}
	}
	per := "per second"
	if tl.step > 1 {
		per = fmt.Sprintf("per second, in %d-second buckets", tl.step)
	}
	rate := func(v float64) string { return trimFloat(v, 3) + "/s" }
	var out []chart
	if o := s.Overall; o != nil && o.HTTPScheduled() > 0 {
		out = append(out, chart{
			ID: "requests", Title: "HTTP requests completed " + per,
			Legend: []legendItem{{reqs.name, reqs.color}},
			SVG:    lineChart(tl, []series{reqs}, rate),
		})
		fc := chart{ID: "failures", Title: fmt.Sprintf("Failed HTTP requests %s (own scale): %d of %d, %s",
			per, o.Failed, o.HTTPScheduled(), formatPercent(o.ErrorRate()))}
		if anyFailed {
			fc.Legend = []legendItem{{"failed/s", colorFail}}
			fc.SVG = barsOverTime(tl, failed, tips, colorFail, rate)
		} else {
			fc.Note = "No HTTP request failed."
		}
		out = append(out, fc)
	}
	if anyLatency {
		out = append(out, chart{
			ID: "latency", Title: "HTTP latency from the intended send time, percentiles of the requests completed in each " + strings.TrimPrefix(per, "per "),
			Legend: []legendItem{{p50.name, p50.color}, {p95.name, p95.color}, {p99.name, p99.color}},
			SVG:    lineChart(tl, []series{p99, p95, p50}, func(v float64) string { return formatDuration(time.Duration(v * float64(time.Millisecond))) }),
		})
	}
	if s.Flows > 0 {
		title := "Active flows (recorded users at once)"
		if tl.step > 1 {
			title += ", busiest second of each bucket"
		}
		out = append(out, chart{
			ID: "flows", Title: title,
			Legend: []legendItem{{flows.name, flows.color}},
			SVG:    lineChart(tl, []series{flows}, func(v float64) string { return trimFloat(v, 1) }),
		})
	}
	return out, tl.note
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timeTicks chooses tick positions (seconds) for a time axis from 0 to
// end: a round step giving at most ten ticks.
func timeTicks(end float64) []float64 {
	steps := []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if end/s <= 10 {
			step = s
			break
		}
	}
	var out []float64
	for t := 0.0; t <= end+1e-9; t += step {
		out = append(out, t)
	}
	return out
}

// tickLabel formats seconds from the run's start: "0s", "45s", "1m30s",
// "2h", "0.5s".
func tickLabel(sec float64) string {
	if sec != math.Trunc(sec) {
		return trimFloat(sec, 3) + "s"
	}
	s := int64(sec)
	h, m, r := s/3600, s%3600/60, s%60
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if r > 0 || s == 0 {
		fmt.Fprintf(&b, "%ds", r)
	}
	return b.String()
}

// niceScale chooses the top of a value axis from zero and the step of
// its gridlines: a step of 1, 2, 2.5 or 5 times a power of ten, at most
// four steps up to a top at or above v (1 in quarters for zero).
func niceScale(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	raw := v / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*p*(1+1e-12) {
			step = m * p
			break
		}
	}
	n := math.Ceil(v/step - 1e-9)
	return n * step, step
}

// hbar is one bar of a horizontal bar chart.
type hbar struct {
	name, color string
	v           float64
	text        string
}

// hrow is one row of a horizontal bar chart: a label and its bars.
type hrow struct {
	label string
	sub   bool // a label of the row before, drawn indented
	bars  []hbar
}

// Horizontal bar chart geometry (viewBox units): width is given per chart.
const (
	hbarLabelW = 170
	hbarH      = 13
	hbarGap    = 10
	hbarValueW = 10
)

// hbarChart draws rows of horizontal bars on one scale from zero, each
// bar with its value written after it.
func hbarChart(width int, rows []hrow) template.HTML {
	top := 0.0
	nbars := 0
	for _, r := range rows {
		for _, br := range r.bars {
			top = math.Max(top, br.v)
		}
		nbars = max(nbars, len(r.bars))
	}
	if top <= 0 {
		top = 1
	}
	rowH := nbars*hbarH + hbarGap
	h := len(rows)*rowH + 6
	plotW := float64(width - hbarLabelW - hbarValueW)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" preserveAspectRatio="xMinYMin meet" role="img">`, width, h)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="0" y2="%d" stroke="#a0aec0"/>`, hbarLabelW, hbarLabelW, h)
	for i, r := range rows {
		y0 := 4 + i*rowH
		label, x := r.label, 4
		if r.sub {
			x = 16
		}
		short := label
		if n := (hbarLabelW - x - 6) / 7; len([]rune(short)) > n {
			short = string([]rune(short)[:n-1]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" dominant-baseline="middle"><title>%s</title>%s</text>`,
			x, float64(y0)+float64(len(r.bars)*hbarH)/2, template.HTMLEscapeString(label), template.HTMLEscapeString(short))
		for j, br := range r.bars {
			y := y0 + j*hbarH
			w := plotW * br.v / top
			if br.v > 0 {
				w = math.Max(w, 1)
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>`,
				hbarLabelW, y+1, w, hbarH-2, br.color, template.HTMLEscapeString(br.name), template.HTMLEscapeString(br.text))
			tx, anchor, class := float64(hbarLabelW)+w+4, "start", "val"
			if w > plotW*0.6 {
				// a long bar carries its value inside, so it never runs off the chart
				tx, anchor, class = float64(hbarLabelW)+w-4, "end", "val in"
			}
			fmt.Fprintf(&b, `<text class="%s" x="%.1f" y="%.1f" text-anchor="%s" dominant-baseline="middle">%s</text>`,
				class, tx, float64(y)+float64(hbarH)/2, anchor, template.HTMLEscapeString(br.text))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
