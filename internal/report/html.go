package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// WriteHTML writes a self-contained HTML report: one file with no script,
// font or other external resource, readable by a browser without
// JavaScript. It opens with the verdict banner (passed or breached, the
// breached thresholds with their observed values, a run that stopped
// early said so, and the run's headline numbers), then the charts over
// the run's time (requests per second, failed requests per second on a
// scale of their own, latency percentiles, active flows; inline SVG), the
// HTTP endpoint table, the WebSocket charts and table, every threshold,
// and the text summary.
func WriteHTML(w io.Writer, s *metrics.Snapshot, vs Verdicts) error {
	if s.Overall == nil {
		c := *s
		c.Overall = &metrics.Stats{}
		s = &c
	}
	var summary bytes.Buffer
	if err := Summary(&summary, s, SummaryOptions{Verdicts: vs}); err != nil {
		return err
	}
	d := htmlData{
		Banner:  makeBanner(s, vs),
		Summary: strings.TrimLeft(summary.String(), "\n"),
	}
	d.Title = d.Banner.Word + " · reprise report"
	if s.Meta.Corpus != "" {
		d.Title += ": " + s.Meta.Corpus
	}
	d.Charts, d.TimeNote = timeCharts(s)
	d.Endpoints = endpointRows(s, vs)
	d.WS = wsRows(s, vs)
	d.WSCharts = wsCharts(d.WS)
	for _, r := range d.WS {
		d.WSVerdicts = d.WSVerdicts || len(r.Verdicts) > 0
	}
	for _, v := range vs {
		d.Verdicts = append(d.Verdicts, cell(v))
	}
	if err := htmlTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

type htmlData struct {
	Title     string
	Banner    banner
	Charts    []chart
	TimeNote  string
	Endpoints []endpointRow
	WS        []wsRow
	WSCharts  []chart
	// WSVerdicts is true when some threshold applies to a WebSocket row.
	WSVerdicts bool
	Verdicts   []verdictCell
	Summary    string
}

// banner is the verdict at the top of the report.
type banner struct {
	// State is the banner's class: "breached", "passed", "partial" (no
	// threshold breached, but the run stopped early) or "none" (no
	// thresholds).
	State string
	// Word is the verdict in one word ("BREACHED") and Head the sentence
	// after it ("2 of 18 thresholds breached").
	Word, Head string
	// Breached lists the breached thresholds (at most maxBannerBreaches),
	// More how many more the thresholds section lists.
	Breached []verdictCell
	More     int
	// Partial says why the run covers only part of the corpus.
	Partial string
	// Warnings are other reasons to distrust the numbers.
	Warnings []string
	Numbers  []headline
	// Run identifies the run: corpus, target, speed, start.
	Run []string
}

// headline is one of the run's headline numbers.
type headline struct {
	Label, Value, Detail string
	Bad                  bool
}

// maxBannerBreaches bounds the breached thresholds the banner lists, so
// that it stays within the first screen.
const maxBannerBreaches = 6

// partialRun says why the run covers only part of what it was to replay,
// or "" for a run that went to its end. It is the one place the HTML
// report learns it: today from Meta.Aborted (an abort threshold stopped
// the run); the marker of an interrupted run (SIGINT or SIGTERM) belongs
// here too once metrics.Meta carries one.
func partialRun(m metrics.Meta) string {
	if what, partial := m.Partial(); partial {
		return what + ": the rest of the corpus was not replayed, the numbers cover only what was sent"
	}
	return ""
}

func makeBanner(s *metrics.Snapshot, vs Verdicts) banner {
	b := banner{Partial: partialRun(s.Meta)}
	failed, skipped := vs.Failed(), vs.Skipped()
	judged := len(vs) - skipped
	switch {
	case failed > 0:
		b.State, b.Word = "breached", "BREACHED"
		b.Head = fmt.Sprintf("%d of %s breached", failed, thresholdCount(judged))
	case len(vs) == 0:
		b.State, b.Word = "none", "NOT JUDGED"
		b.Head = "no thresholds were set (--threshold)"
	case judged == 0:
		b.State, b.Word = "none", "NOT JUDGED"
		b.Head = thresholdCount(len(vs)) + " skipped: nothing to measure"
	case judged == 1:
		b.State, b.Word = "passed", "PASSED"
		b.Head = "1 threshold met"
	default:
		b.State, b.Word = "passed", "PASSED"
		b.Head = "all " + thresholdCount(judged) + " met"
	}
	if skipped > 0 && judged > 0 {
		b.Head += fmt.Sprintf(", %d skipped (nothing to measure)", skipped)
	}
	if b.Partial != "" && b.State != "breached" {
		b.State, b.Word = "partial", "PARTIAL RUN"
	}
	for _, v := range vs {
		if v.Pass || v.Skipped {
			continue
		}
		if len(b.Breached) == maxBannerBreaches {
			b.More++
			continue
		}
		b.Breached = append(b.Breached, cell(v))
	}
	if s.Meta.Scheduled > 0 {
		if _, err := s.Accounting(); err != nil {
			b.Warnings = append(b.Warnings, err.Error())
		}
	}
	b.Numbers = headlines(s)
	b.Run = runLine(s)
	return b
}

// thresholdCount writes "1 threshold", "2 thresholds".
func thresholdCount(n int) string {
	if n == 1 {
		return "1 threshold"
	}
	return strconv.Itoa(n) + " thresholds"
}

// headlines are the numbers a reader wants first: HTTP requests, their
// rate, error rate and latency percentiles, WebSocket sockets and
// messages.
func headlines(s *metrics.Snapshot) []headline {
	o := s.Overall
	var out []headline
	if n := o.HTTPScheduled(); n > 0 {
		out = append(out,
			headline{Label: "HTTP requests", Value: itoa(o.Requests), Detail: formatRate(s.PerSecond(o.Requests))},
			headline{Label: "failed", Value: formatPercent(o.ErrorRate()), Detail: itoa(o.Failed) + " of " + itoa(n), Bad: o.Failed > 0})
		if o.Latency.Count() > 0 {
			p := o.Latency.Percentiles(95, 99)
			out = append(out,
				headline{Label: "latency p95", Value: formatDuration(p[0]), Detail: "from the intended send"},
				headline{Label: "latency p99", Value: formatDuration(p[1]), Detail: "max " + formatDuration(o.Latency.Max())})
		}
	}
	if w := o.WS; w != nil {
		connects, opened := wsOpened(o)
		out = append(out, headline{Label: "WebSockets opened", Value: itoa(opened), Detail: "of " + itoa(connects) + " attempted", Bad: opened < connects})
		h := headline{Label: "WS messages received", Value: itoa(w.MsgsReceived), Detail: "none recorded"}
		if w.MsgsRecorded > 0 {
			h.Detail = "of " + itoa(w.MsgsRecorded) + " recorded (" + formatPercent(float64(w.MsgsReceived)/float64(w.MsgsRecorded)) + ")"
			h.Bad = w.MsgsReceived < w.MsgsRecorded
		}
		out = append(out, h)
	}
	out = append(out, headline{Label: "duration", Value: formatDuration(s.Duration().Round(time.Millisecond)), Detail: strconv.FormatInt(s.Flows, 10) + " flows"})
	return out
}

// wsOpened counts the WebSocket handshakes attempted (sent) and those
// that opened a socket.
func wsOpened(st *metrics.Stats) (connects, opened int64) {
	if st.WS != nil {
		connects = st.WS.Connects
	}
	if o := st.Outcomes[traffic.ResultWSConnect.String()]; o != nil {
		opened = o.Completed
	}
	return connects, opened
}

func runLine(s *metrics.Snapshot) []string {
	m := s.Meta
	var parts []string
	if m.Corpus != "" {
		parts = append(parts, "corpus "+m.Corpus)
	}
	if m.Target != "" {
		parts = append(parts, "target "+m.Target)
	}
	if m.Speed > 0 {
		parts = append(parts, "speed "+trimFloat(m.Speed, 3)+"x")
	}
	if m.Multiply > 1 {
		parts = append(parts, strconv.Itoa(m.Multiply)+" copies")
	}
	if m.Shard != "" {
		parts = append(parts, "shard "+m.Shard)
	}
	if m.Shards > 1 {
		parts = append(parts, strconv.Itoa(m.Shards)+" shards merged")
	}
	if !m.Start.IsZero() {
		parts = append(parts, "started "+m.Start.Format("2006-01-02 15:04:05 MST"))
	}
	if m.Tool != "" {
		parts = append(parts, m.Tool)
	}
	return parts
}

type verdictCell struct {
	Mark  string
	Class string
	// Expr is the threshold as written, Cond without its endpoint.
	Expr, Cond string
	// Observed is "http_req_duration p(95)=812ms", or why it was skipped.
	Observed string
}

func cell(v Verdict) verdictCell {
	c := verdictCell{Mark: mark(v), Expr: v.Expr, Cond: strings.TrimPrefix(v.Expr, v.Endpoint+": ")}
	switch {
	case v.Skipped:
		c.Class, c.Observed = "skip", "skipped: "+v.Note
	case v.Pass:
		c.Class = "pass"
	default:
		c.Class = "fail"
	}
	if !v.Skipped {
		c.Observed = v.metricLabel() + "=" + formatValue(v.Threshold, v.Observed)
	}
	return c
}

func breached(cs []verdictCell) bool {
	for _, c := range cs {
		if c.Class == "fail" {
			return true
		}
	}
	return false
}

type endpointRow struct {
	Name string
	// Requests counts the requests sent, NotSent those never sent.
	Requests, NotSent int64
	// Rate, ErrPct and the latencies are formatted; ErrPct and the
	// latencies are a dash when nothing was sent.
	Rate, ErrPct       string
	ErrClass           string
	P50, P95, P99, Max string
	Verdicts           []verdictCell
	Breached           bool
	// BarPct is the p95 as a share of the slowest endpoint's p95.
	BarPct float64
	bar    time.Duration
}

const dash = "—"

// endpointRows are the HTTP endpoints (WebSocket-only ones have their own
// table).
func endpointRows(s *metrics.Snapshot, vs Verdicts) []endpointRow {
	var rows []endpointRow
	var longest time.Duration
	for _, e := range s.Endpoints {
		if e.HTTPScheduled() == 0 {
			continue
		}
		r := endpointRow{Name: e.Endpoint, Requests: e.Requests,
			Rate: formatRate(s.PerSecond(e.Requests)), ErrPct: dash, P50: dash, P95: dash, P99: dash, Max: dash}
		if o := e.Outcomes[traffic.ResultHTTP.String()]; o != nil {
			r.NotSent = sumCounts(o.NotSent)
		}
		if e.Requests > 0 {
			r.ErrPct = formatPercent(e.ErrorRate())
			if e.Failed > 0 {
				r.ErrClass = "fail"
			}
		}
		if e.Latency.Count() > 0 {
			p := e.Latency.Percentiles(50, 95, 99)
			r.P50, r.P95, r.P99 = formatDuration(p[0]), formatDuration(p[1]), formatDuration(p[2])
			r.Max = formatDuration(e.Latency.Max())
			r.bar = p[1]
			longest = max(longest, p[1])
		}
		for _, v := range vs.ForEndpoint(e.Endpoint) {
			r.Verdicts = append(r.Verdicts, cell(v))
		}
		r.Breached = breached(r.Verdicts)
		rows = append(rows, r)
	}
	for i := range rows {
		if longest > 0 {
			rows[i].BarPct = 100 * float64(rows[i].bar) / float64(longest)
		}
	}
	return rows
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// wsRow is one WebSocket endpoint, or one label of it.
type wsRow struct {
	Name string
	Sub  bool
	// Connects counts handshakes attempted, Opened those that opened a
	// socket, Failed the connections that failed to open or in session,
	// Sessions the connections that ended.
	Connects, Opened, Failed, Sessions int64
	Sent, Received, Recorded           int64
	RecvPct                            string
	RecvShort                          bool
	// Connecting, RoundTrip and Push are p50, p95 and p99, or dashes.
	Connecting, RoundTrip, Push [3]string
	Verdicts                    []verdictCell
	Breached                    bool
	ws                          *metrics.WS
}

func wsRows(s *metrics.Snapshot, vs Verdicts) []wsRow {
	var rows []wsRow
	add := func(name string, sub bool, st *metrics.Stats, verdicts Verdicts) {
		w := st.WS
		r := wsRow{Name: name, Sub: sub, Sessions: w.Sessions, Sent: w.MsgsSent, Received: w.MsgsReceived, Recorded: w.MsgsRecorded,
			RecvPct: dash, Connecting: pcts(w.Connecting), RoundTrip: pcts(w.RoundTrip), Push: pcts(w.Push), ws: w}
		r.Connects, r.Opened = wsOpened(st)
		if f := wsFailures(st); f != nil {
			r.Failed, _ = strconv.ParseInt(f[0], 10, 64)
		}
		if w.MsgsRecorded > 0 {
			r.RecvPct = formatPercent(float64(w.MsgsReceived) / float64(w.MsgsRecorded))
			r.RecvShort = w.MsgsReceived < w.MsgsRecorded
		}
		for _, v := range verdicts {
			r.Verdicts = append(r.Verdicts, cell(v))
		}
		r.Breached = breached(r.Verdicts)
		rows = append(rows, r)
	}
	for _, e := range s.Endpoints {
		if e.WS == nil {
			continue
		}
		var own Verdicts
		for _, v := range vs.ForEndpoint(e.Endpoint) {
			if _, label := metrics.SplitLabel(v.Endpoint); label == "" {
				own = append(own, v)
			}
		}
		add(e.Endpoint, false, e, own)
		for _, l := range e.ByLabel {
			if l.WS != nil {
				full := metrics.JoinLabel(e.Endpoint, l.Label)
				_, tmpl, _ := strings.Cut(e.Endpoint, " ")
				var lv Verdicts
				for _, v := range vs {
					if v.Endpoint == full || v.Endpoint == metrics.JoinLabel(tmpl, l.Label) {
						lv = append(lv, v)
					}
				}
				add("["+l.Label+"]", true, l, lv)
			}
		}
	}
	return rows
}

// pcts formats p50, p95 and p99 of d, or dashes when it is empty.
func pcts(d *metrics.Dist) [3]string {
	if d.Count() == 0 {
		return [3]string{dash, dash, dash}
	}
	p := d.Percentiles(50, 95, 99)
	return [3]string{formatDuration(p[0]), formatDuration(p[1]), formatDuration(p[2])}
}

// wsCharts draw the WebSocket table: connections, messages, and the
// percentiles of connecting time, round trips and push delivery.
func wsCharts(rows []wsRow) []chart {
	if len(rows) == 0 {
		return nil
	}
	const (
		cGrey, cBlue, cGreen, cPurple, cRed = "#718096", "#2b6cb0", "#2f855a", "#6b46c1", "#c53030"
	)
	conns := make([]hrow, len(rows))
	msgs := make([]hrow, len(rows))
	for i, r := range rows {
		conns[i] = hrow{label: r.Name, sub: r.Sub, bars: []hbar{
			{"attempted", cGrey, float64(r.Connects), itoa(r.Connects) + " attempted"},
			{"opened", cGreen, float64(r.Opened), itoa(r.Opened) + " opened"},
			{"failed", cRed, float64(r.Failed), itoa(r.Failed) + " failed"},
		}}
		msgs[i] = hrow{label: r.Name, sub: r.Sub, bars: []hbar{
			{"recorded", cGrey, float64(r.Recorded), itoa(r.Recorded) + " recorded"},
			{"received", cGreen, float64(r.Received), itoa(r.Received) + " received"},
			{"sent", cBlue, float64(r.Sent), itoa(r.Sent) + " sent"},
		}}
	}
	out := []chart{
		{ID: "ws-connections", Title: "WebSocket connections", SVG: hbarChart(600, conns),
			Legend: []legendItem{{"attempted", cGrey}, {"opened", cGreen}, {"failed", cRed}}},
		{ID: "ws-messages", Title: "WebSocket messages: received against recorded", SVG: hbarChart(600, msgs),
			Legend: []legendItem{{"recorded", cGrey}, {"received", cGreen}, {"sent", cBlue}}},
	}
	lat := []struct {
		id, title string
		d         func(*metrics.WS) *metrics.Dist
	}{
		{"ws-connecting", "WebSocket connecting time", func(w *metrics.WS) *metrics.Dist { return w.Connecting }},
		{"ws-roundtrip", "WebSocket round trip (message to its reply)", func(w *metrics.WS) *metrics.Dist { return w.RoundTrip }},
		{"ws-push", "WebSocket push delivery (HTTP mutation to its push)", func(w *metrics.WS) *metrics.Dist { return w.Push }},
	}
	for _, l := range lat {
		var hr []hrow
		for _, r := range rows {
			d := l.d(r.ws)
			if d.Count() == 0 {
				continue
			}
			p := d.Percentiles(50, 95, 99)
			hr = append(hr, hrow{label: r.Name, sub: r.Sub, bars: []hbar{
				{"p50", "#2f855a", ms(p[0]), "p50 " + formatDuration(p[0])},
				{"p95", "#d69e2e", ms(p[1]), "p95 " + formatDuration(p[1])},
				{"p99", cRed, ms(p[2]), "p99 " + formatDuration(p[2])},
			}})
		}
		if len(hr) == 0 {
			continue
		}
		out = append(out, chart{ID: l.id, Title: l.title, SVG: hbarChart(400, hr),
			Legend: []legendItem{{"p50", "#2f855a"}, {"p95", "#d69e2e"}, {"p99", cRed}}})
	}
	return out
}

// PageHead is what every HTML page of reprise (the report, the comparison)
// opens with after its doctype: the head, titled by the page's .Title,
// and the style they share (type, headings, the verdict band, charts,
// tables), its <style> element left open for the page's own rules.
const PageHead = `<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 24px 24px;color:#1a202c}
h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #e2e8f0;padding-bottom:3px}
h3{font-size:14px;margin:16px 0 2px}
.verdict{margin:0 -24px;padding:14px 24px 12px;border-left:10px solid}
.verdict h1{font-size:26px;margin:0 0 4px;line-height:1.2}
.verdict ul{margin:4px 0 6px;padding-left:20px}.verdict li{margin:1px 0}
.run{font-size:12px;color:#4a5568;margin:4px 0 0}
.note{font-size:13px;color:#4a5568;margin:4px 0}
svg.chart{display:block;width:100%;height:auto}
svg text{font-size:12px;fill:#4a5568}svg text.val{font-size:11px;fill:#1a202c}svg text.in{fill:#fff}
.legend{font-size:13px;margin:2px 0 0}.legend span{margin-right:16px}
table{border-collapse:collapse;font-size:13px;width:100%}
td,th{padding:3px 8px;border-bottom:1px solid #edf2f7;text-align:right;white-space:nowrap}
th{background:#f7fafc;font-weight:600;white-space:normal;vertical-align:bottom}
nav{font-size:13px;margin:10px 0 0}nav a{margin-right:18px;color:#2b6cb0}
details pre{background:#f7fafc;border:1px solid #e2e8f0;padding:12px;overflow-x:auto;font-size:12px}
`

var htmlTemplate = template.Must(template.New("report").Parse(`<!doctype html>
` + PageHead + `.verdict.breached{background:#fff5f5;border-color:#c53030}.verdict.breached h1{color:#9b2c2c}
.verdict.passed{background:#f0fff4;border-color:#2f855a}.verdict.passed h1{color:#22543d}
.verdict.partial{background:#fffaf0;border-color:#dd6b20}.verdict.partial h1{color:#9c4221}
.verdict.none{background:#f7fafc;border-color:#718096}.verdict.none h1{color:#2d3748}
.stopped,.warn{font-weight:600;color:#9c4221;margin:4px 0}
.numbers{display:flex;flex-wrap:wrap;gap:6px 28px;margin:10px 0 6px;padding:0}
.numbers div{min-width:110px}.numbers dt{font-size:12px;color:#4a5568}.numbers dd{margin:0;font-size:20px;font-weight:600}
.numbers dd small{display:block;font-size:12px;font-weight:400;color:#4a5568}.numbers .bad dd{color:#c53030}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:0 32px}
.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:0 32px}
td.name,th.name,td.left,th.left{text-align:left}td.left{white-space:normal}th.group{text-align:center;border-bottom:1px solid #cbd5e0}
td.sub{padding-left:24px;color:#4a5568}
tr.breach td.name{box-shadow:inset 4px 0 #c53030}
.p95bar{background:#90cdf4;height:10px;display:inline-block;vertical-align:middle}
.pass{color:#2f855a}.fail{color:#c53030;font-weight:600}.skip{color:#718096}
</style></head><body>
<header id="verdict" class="verdict {{.Banner.State}}">
<h1>{{if eq .Banner.State "breached"}}✗{{else if eq .Banner.State "passed"}}✓{{else if eq .Banner.State "partial"}}⚠{{else}}○{{end}} {{.Banner.Word}}: {{.Banner.Head}}</h1>
{{if .Banner.Breached}}<ul class="breached">
{{range .Banner.Breached}}<li class="fail">✗ {{.Expr}} <span class="observed">— {{.Observed}}</span></li>
{{end}}{{if .Banner.More}}<li>and {{.Banner.More}} more, listed under Thresholds</li>{{end}}</ul>{{end}}
{{if .Banner.Partial}}<p class="stopped">⚠ Partial run: {{.Banner.Partial}}.</p>{{end}}
{{range .Banner.Warnings}}<p class="warn">⚠ {{.}}</p>{{end}}
<dl class="numbers">{{range .Banner.Numbers}}<div{{if .Bad}} class="bad"{{end}}><dt>{{.Label}}</dt> <dd>{{.Value}} <small>{{.Detail}}</small></dd></div>{{end}}</dl>
{{if .Banner.Run}}<p class="run">{{range $i, $p := .Banner.Run}}{{if $i}} · {{end}}{{$p}}{{end}}</p>{{end}}
</header>
<nav>{{if .Charts}}<a href="#over-time">Over time</a>{{end}}{{if .Endpoints}}<a href="#http-endpoints">HTTP endpoints ({{len .Endpoints}})</a>{{end}}{{if .WS}}<a href="#websockets">WebSockets ({{len .WS}})</a>{{end}}{{if .Verdicts}}<a href="#thresholds">Thresholds ({{len .Verdicts}})</a>{{end}}<a href="#summary">Text summary</a></nav>
{{if .Charts}}<h2 id="over-time">Over time</h2>
{{if .TimeNote}}<p class="note">{{.TimeNote}}</p>{{end}}
{{range .Charts}}<section id="chart-{{.ID}}" class="timechart">
<h3>{{.Title}}</h3>
{{if .SVG}}{{.SVG}}
<div class="legend">{{range .Legend}}<span style="color:{{.Color}}">■ {{.Name}}</span>{{end}}</div>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
</section>
{{end}}{{end}}
{{if .Endpoints}}<h2 id="http-endpoints">HTTP endpoints</h2>
<table id="endpoint-table"><tr><th class="name">endpoint</th><th>requests</th><th>not sent</th><th>rate</th><th>err%</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th class="left">p95</th><th class="left">thresholds</th></tr>
{{range .Endpoints}}<tr{{if .Breached}} class="breach"{{end}}><td class="name">{{.Name}}</td><td>{{.Requests}}</td><td>{{.NotSent}}</td><td>{{.Rate}}</td><td{{if .ErrClass}} class="{{.ErrClass}}"{{end}}>{{.ErrPct}}</td><td>{{.P50}}</td><td>{{.P95}}</td><td>{{.P99}}</td><td>{{.Max}}</td>
<td class="left" style="width:120px"><span class="p95bar" style="width:{{printf "%.0f" .BarPct}}%"></span></td>
<td class="left">{{range .Verdicts}}<span class="{{.Class}}" title="{{.Observed}}">{{.Mark}} {{.Cond}}</span> {{end}}</td></tr>
{{end}}</table>{{end}}
{{if .WS}}<h2 id="websockets">WebSockets</h2>
<h3>Connections and messages</h3>
<table id="websocket-table"><tr><th class="name">websocket</th><th>attempted</th><th>opened</th><th>failed</th><th>sessions</th><th>msgs sent</th><th>received</th><th>recorded</th><th>received of recorded</th>{{if $.WSVerdicts}}<th class="left">thresholds</th>{{end}}</tr>
{{range .WS}}<tr{{if .Breached}} class="breach"{{end}}><td class="name{{if .Sub}} sub{{end}}">{{.Name}}</td><td>{{.Connects}}</td><td>{{.Opened}}</td><td{{if .Failed}} class="fail"{{end}}>{{.Failed}}</td><td>{{.Sessions}}</td><td>{{.Sent}}</td><td>{{.Received}}</td><td>{{.Recorded}}</td><td{{if .RecvShort}} class="fail"{{end}}>{{.RecvPct}}</td>
{{if $.WSVerdicts}}<td class="left">{{range .Verdicts}}<span class="{{.Class}}" title="{{.Observed}}">{{.Mark}} {{.Cond}}</span> {{end}}</td>{{end}}</tr>
{{end}}</table>
<div class="grid2">{{range .WSCharts}}{{if or (eq .ID "ws-connections") (eq .ID "ws-messages")}}<section id="chart-{{.ID}}"><h3>{{.Title}}</h3>{{.SVG}}
<div class="legend">{{range .Legend}}<span style="color:{{.Color}}">■ {{.Name}}</span>{{end}}</div></section>{{end}}{{end}}</div>
<h3>Latency</h3>
<table id="websocket-latency-table"><tr><th class="name" rowspan="2">websocket</th><th colspan="3" class="group">connecting</th><th colspan="3" class="group">round trip (message to its reply)</th><th colspan="3" class="group">push delivery (HTTP mutation to its push)</th></tr>
<tr><th>p50</th><th>p95</th><th>p99</th><th>p50</th><th>p95</th><th>p99</th><th>p50</th><th>p95</th><th>p99</th></tr>
{{range .WS}}<tr{{if .Breached}} class="breach"{{end}}><td class="name{{if .Sub}} sub{{end}}">{{.Name}}</td>{{range .Connecting}}<td>{{.}}</td>{{end}}{{range .RoundTrip}}<td>{{.}}</td>{{end}}{{range .Push}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<div class="grid3">{{range .WSCharts}}{{if not (or (eq .ID "ws-connections") (eq .ID "ws-messages"))}}<section id="chart-{{.ID}}"><h3>{{.Title}}</h3>{{.SVG}}
<div class="legend">{{range .Legend}}<span style="color:{{.Color}}">■ {{.Name}}</span>{{end}}</div></section>{{end}}{{end}}</div>
{{end}}
{{if .Verdicts}}<h2 id="thresholds">Thresholds</h2>
<table id="threshold-table"><tr><th class="name">threshold</th><th class="left">measured</th></tr>
{{range .Verdicts}}<tr><td class="name {{.Class}}">{{.Mark}} {{.Expr}}</td><td class="left {{.Class}}">{{.Observed}}</td></tr>
{{end}}</table>{{end}}
<h2 id="summary">Text summary</h2>
<details><summary>The text summary, as printed at the end of the run</summary>
<pre>{{.Summary}}</pre></details>
</body></html>
`))
