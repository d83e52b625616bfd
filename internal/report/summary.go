package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// SummaryOptions tune Summary. The zero value prints everything without
// thresholds.
type SummaryOptions struct {
	// Verdicts are shown in the endpoint table and the thresholds section.
	Verdicts Verdicts
	// MaxEndpoints bounds the rows of the endpoint table (busiest first
	// beyond it); 0 shows every endpoint.
	MaxEndpoints int
}

const indent = "     "

// none fills a cell that has no value: nothing was measured there.
const none = "—"

// line is one metric line: name and value cells.
type line struct {
	name  string
	trend []string // k6 trend cells "avg=..", aligned by column
	cells []string // other cells, aligned by column
}

// Summary writes the end-of-run report: the run header, k6-style metric
// lines, the per-endpoint table, the WebSocket table and the thresholds.
func Summary(w io.Writer, s *metrics.Snapshot, opts SummaryOptions) error {
	if s.Overall == nil {
		c := *s
		c.Overall = &metrics.Stats{}
		s = &c
	}
	bw := bufio.NewWriter(w)
	writeHeader(bw, s)
	writeLines(bw, metricLines(s))
	writeEndpointTable(bw, s, opts)
	writeWSTable(bw, s)
	writeShapes(bw, s, opts)
	writeThresholds(bw, opts.Verdicts)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func writeHeader(w *bufio.Writer, s *metrics.Snapshot) {
	m := s.Meta
	var parts []string
	if m.Corpus != "" {
		parts = append(parts, "corpus: "+m.Corpus)
	}
	if m.Target != "" {
		parts = append(parts, "target: "+m.Target)
	}
	if m.MaxRate {
		parts = append(parts, "speed: max (as fast as the target answered)")
	} else if m.Speed > 0 {
		parts = append(parts, "speed: "+trimFloat(m.Speed, 3)+"x")
	}
	if m.Multiply > 1 {
		parts = append(parts, "copies: "+strconv.Itoa(m.Multiply))
	}
	if m.Shard != "" {
		parts = append(parts, "shard: "+m.Shard)
	}
	if m.Shards > 1 {
		parts = append(parts, "shards merged: "+strconv.Itoa(m.Shards))
	}
	parts = append(parts, "duration: "+formatDuration(s.Duration().Round(time.Millisecond)))
	fmt.Fprintln(w)
	// A partial run says so first: its numbers are not the corpus's.
	if i := m.Interrupted; i != nil {
		what := "after " + formatDuration(i.At.Round(time.Millisecond))
		if len(i.Shards) > 0 {
			what = "(shard " + strings.Join(i.Shards, ", ") + ") " + what
		}
		if i.Reason != "" {
			what += " (" + i.Reason + ")"
		}
		fmt.Fprintf(w, "%sINTERRUPTED %s: partial results, for what was sent before; the rest of the corpus was not replayed\n", indent, what)
	}
	if m.Aborted != "" {
		fmt.Fprintf(w, "%sSTOPPED EARLY by an abort threshold: %s\n", indent, m.Aborted)
	}
	fmt.Fprintf(w, "%s%s\n", indent, strings.Join(parts, "  "))
	fmt.Fprintln(w)
}

func trendCells(d *metrics.Dist) []string {
	p := d.Percentiles(50, 90, 95, 99)
	return []string{
		"avg=" + formatDuration(d.Mean()),
		"min=" + formatDuration(d.Min()),
		"med=" + formatDuration(p[0]),
		"max=" + formatDuration(d.Max()),
		"p(90)=" + formatDuration(p[1]),
		"p(95)=" + formatDuration(p[2]),
		"p(99)=" + formatDuration(p[3]),
	}
}

func metricLines(s *metrics.Snapshot) []line {
	o := s.Overall
	var ls []line
	add := func(name string, cells ...string) { ls = append(ls, line{name: name, cells: cells}) }
	trend := func(name string, d *metrics.Dist) {
		if d.Count() > 0 {
			ls = append(ls, line{name: name, trend: trendCells(d)})
		}
	}
	if a, err := s.Accounting(); err != nil {
		add("accounting", a.String()+"  ✗ MISMATCH: "+strings.TrimPrefix(err.Error(), "accounting does not add up: "+a.String()+"; "))
	} else {
		add("accounting", a.String())
	}
	if n := o.ChecksPassed + o.ChecksFailed; n > 0 {
		add("checks", formatPercent(float64(o.ChecksPassed)/float64(n)), "✓ "+itoa(o.ChecksPassed), "✗ "+itoa(o.ChecksFailed))
	}
	add("data_received", formatBytes(float64(o.BytesReceived)), formatBytes(s.PerSecond(o.BytesReceived))+"/s")
	add("data_sent", formatBytes(float64(o.BytesSent)), formatBytes(s.PerSecond(o.BytesSent))+"/s")
	if len(s.Series) > 0 && s.Flows > 0 {
		med, min, max := s.FlowsActive()
		add("flows", itoa(med), "min="+itoa(min), "max="+itoa(max))
	}
	trend("http_req_blocked", o.Blocked)
	trend("http_req_connecting", o.Connecting)
	trend("http_req_duration", o.Latency)
	if n := o.HTTPScheduled(); n > 0 {
		add("http_req_failed", formatPercent(o.ErrorRate()), "✓ "+itoa(o.Failed), "✗ "+itoa(n-o.Failed))
	}
	trend("http_req_receiving", o.Receiving)
	if o.Resent > 0 {
		add("http_req_resent", itoa(o.Resent), "written again after a kept-alive connection closed unanswered: the target may have seen them twice")
	}
	trend("http_req_sending", o.Sending)
	trend("http_req_service", o.Service)
	if len(o.StatusClasses) > 0 {
		var cells []string
		for _, k := range slices.Sorted(maps.Keys(o.StatusClasses)) {
			cells = append(cells, k+"="+itoa(o.StatusClasses[k]))
		}
		add("http_req_status", strings.Join(cells, " "))
	}
	trend("http_req_tls_handshaking", o.TLSHandshaking)
	trend("http_req_waiting", o.Waiting)
	if o.HTTPScheduled() > 0 {
		add("http_reqs", itoa(o.Requests), formatRate(s.PerSecond(o.Requests)))
	}
	if it := s.Iterations; it != nil {
		trend("iteration_duration", it.Duration)
		cells := []string{itoa(it.Complete), formatRate(s.PerSecond(it.Complete))}
		if it.Interrupted > 0 {
			cells = append(cells, itoa(it.Interrupted)+" interrupted")
		}
		add("iterations", cells...)
	}
	if !s.Meta.MaxRate {
		// a max-rate run has no schedule to lag behind
		trend("schedule_lag", o.ScheduleLag)
	}
	if sh := o.Shapes; sh != nil && sh.ChecksPassed+sh.ChecksFailed > 0 {
		add("shape_checks", formatPercent(float64(sh.ChecksPassed)/float64(sh.ChecksPassed+sh.ChecksFailed)), "✓ "+itoa(sh.ChecksPassed), "✗ "+itoa(sh.ChecksFailed))
	}
	if n := int64(s.Meta.VUsMax); n > 0 {
		med, lo, hi := s.VUsActive()
		add("vus", itoa(med), "min="+itoa(lo), "max="+itoa(hi))
		add("vus_max", itoa(n), "min="+itoa(n), "max="+itoa(n))
	}
	if w := o.WS; w != nil {
		trend("ws_connecting", w.Connecting)
		recv := []string{itoa(w.MsgsReceived), formatRate(s.PerSecond(w.MsgsReceived))}
		if w.MsgsRecorded > 0 {
			recv = append(recv, "of "+itoa(w.MsgsRecorded)+" recorded ("+formatPercent(float64(w.MsgsReceived)/float64(w.MsgsRecorded))+")")
		}
		add("ws_msgs_received", recv...)
		add("ws_msgs_sent", itoa(w.MsgsSent), formatRate(s.PerSecond(w.MsgsSent)))
		trend("ws_push_delivery", w.Push)
		trend("ws_roundtrip", w.RoundTrip)
		trend("ws_session_duration", w.SessionDuration)
		sessions := []string{itoa(w.Sessions), formatRate(s.PerSecond(w.Sessions))}
		if w.Connects != w.Sessions {
			// sockets that opened, apart from handshakes attempted
			sessions = append(sessions, "opened, of "+itoa(w.Connects)+" attempted")
		}
		add("ws_sessions", sessions...)
		if cells := wsFailures(o); len(cells) > 0 {
			add("ws_failed", cells...)
		}
	}
	return ls
}

// wsFailures describes the WebSocket connections that failed, to connect
// or later in their session, by kind ("ws handshake 2, ws abnormal close
// 1"); nil when none did.
func wsFailures(st *metrics.Stats) []string {
	kinds := map[string]int64{}
	var total int64
	for _, k := range []string{traffic.ResultWSConnect.String(), traffic.ResultWSSession.String()} {
		if o := st.Outcomes[k]; o != nil {
			for kind, n := range o.Failed {
				kinds[kind] += n
				total += n
			}
		}
	}
	if total == 0 {
		return nil
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, k+" "+itoa(kinds[k]))
	}
	return []string{itoa(total), strings.Join(parts, ", ")}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func width(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, n int) string {
	if w := width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func padLeft(s string, n int) string {
	if w := width(s); w < n {
		return strings.Repeat(" ", n-w) + s
	}
	return s
}

func writeLines(w *bufio.Writer, ls []line) {
	nameW := 31
	for _, l := range ls {
		if n := len(l.name) + 3; n > nameW {
			nameW = n
		}
	}
	var trendW, cellW []int
	grow := func(ws []int, cells []string) []int {
		for i, c := range cells {
			if i >= len(ws) {
				ws = append(ws, 0)
			}
			if width(c) > ws[i] {
				ws[i] = width(c)
			}
		}
		return ws
	}
	for _, l := range ls {
		trendW = grow(trendW, l.trend)
		if len(l.cells) > 1 {
			cellW = grow(cellW, l.cells[:len(l.cells)-1])
		}
	}
	for _, l := range ls {
		var b strings.Builder
		b.WriteString(indent)
		b.WriteString(l.name)
		b.WriteString(strings.Repeat(".", nameW-len(l.name)))
		b.WriteString(": ")
		cells, ws := l.cells, cellW
		if l.trend != nil {
			cells, ws = l.trend, trendW
		}
		for i, c := range cells {
			if i > 0 {
				b.WriteString(" ")
			}
			if i < len(cells)-1 && i < len(ws) {
				c = pad(c, ws[i])
			}
			b.WriteString(c)
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteString("\n")
	}
}

// table renders rows with the first column left-aligned and the others
// right-aligned, except the last when it is free text.
func writeTable(w *bufio.Writer, rows [][]string, leftLast bool) {
	var ws []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(ws) {
				ws = append(ws, 0)
			}
			if width(c) > ws[i] {
				ws[i] = width(c)
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case i == 0 || leftLast && i == len(r)-1:
				b.WriteString(pad(c, ws[i]))
			default:
				b.WriteString(padLeft(c, ws[i]))
			}
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteString("\n")
	}
}

func writeEndpointTable(w *bufio.Writer, s *metrics.Snapshot, opts SummaryOptions) {
	var eps []*metrics.Stats
	for _, e := range s.Endpoints {
		if e.HTTPScheduled() > 0 {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return
	}
	hidden := 0
	if opts.MaxEndpoints > 0 && len(eps) > opts.MaxEndpoints {
		sorted := append([]*metrics.Stats(nil), eps...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].HTTPScheduled() > sorted[j].HTTPScheduled() })
		keep := map[*metrics.Stats]bool{}
		for _, e := range sorted[:opts.MaxEndpoints] {
			keep[e] = true
		}
		var kept []*metrics.Stats
		for _, e := range eps {
			if keep[e] {
				kept = append(kept, e)
			}
		}
		hidden = len(eps) - len(kept)
		eps = kept
	}
	withMarks := len(opts.Verdicts) > 0
	header := []string{"endpoint", "reqs", "rate", "err%", "p50", "p95", "p99", "max", "failures"}
	if withMarks {
		header = append(header, "thresholds")
	}
	rows := [][]string{header}
	for _, e := range eps {
		var r []string
		if e.Requests == 0 {
			// Nothing sent: no error rate or latency to speak of (the
			// accounting line says why the requests were not sent).
			r = []string{e.Endpoint, "0", formatRate(0), none, none, none, none, none, failures(e)}
		} else {
			p := e.Latency.Percentiles(50, 95, 99)
			r = []string{e.Endpoint, itoa(e.Requests), formatRate(s.PerSecond(e.Requests)), formatPercent(e.ErrorRate()),
				formatDuration(p[0]), formatDuration(p[1]), formatDuration(p[2]), formatDuration(e.Latency.Max()), failures(e)}
		}
		if withMarks {
			r = append(r, marks(opts.Verdicts.ForEndpoint(e.Endpoint)))
		}
		rows = append(rows, r)
	}
	w.WriteString("\n")
	writeTable(w, rows, withMarks)
	if hidden > 0 {
		fmt.Fprintf(w, "%s(%d more endpoints not shown)\n", indent, hidden)
	}
}

// failures says what failed on an endpoint, most first: statuses the
// recording did not have ("404×139"), transport errors ("timeout×3") and
// requests never sent ("not sent×2").
func failures(e *metrics.Stats) string {
	type count struct {
		what string
		n    int64
	}
	var cs []count
	for st, n := range e.FailedStatuses {
		cs = append(cs, count{strconv.Itoa(st), n})
	}
	if o := e.Outcomes[traffic.ResultHTTP.String()]; o != nil {
		for k, n := range o.Failed {
			cs = append(cs, count{k, n})
		}
		var notSent int64
		for _, n := range o.NotSent {
			notSent += n
		}
		if notSent > 0 {
			cs = append(cs, count{"not sent", notSent})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].n != cs[j].n {
			return cs[i].n > cs[j].n
		}
		return cs[i].what < cs[j].what
	})
	var parts []string
	for i, c := range cs {
		if i == 3 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, c.what+"×"+strconv.FormatInt(c.n, 10))
	}
	return strings.Join(parts, " ")
}

func marks(vs Verdicts) string {
	var parts []string
	for _, v := range vs {
		cond := strings.TrimPrefix(v.Expr, v.Endpoint+": ")
		parts = append(parts, mark(v)+" "+cond)
	}
	return strings.Join(parts, " ")
}

func mark(v Verdict) string {
	switch {
	case v.Skipped:
		return "-"
	case v.Pass:
		return "✓"
	}
	return "✗"
}

func p95(d *metrics.Dist) string {
	if d.Count() == 0 {
		return "-"
	}
	return formatDuration(d.Percentile(95))
}

func writeWSTable(w *bufio.Writer, s *metrics.Snapshot) {
	rows := [][]string{{"websocket", "attempts", "opened", "failed", "sent", "received", "recorded", "recv%", "connect p95", "roundtrip p95", "push p95"}}
	row := func(name string, st *metrics.Stats) []string {
		ws := st.WS
		pct := "-"
		if ws.MsgsRecorded > 0 {
			pct = formatPercent(float64(ws.MsgsReceived) / float64(ws.MsgsRecorded))
		}
		failed := "0"
		if f := wsFailures(st); f != nil {
			failed = f[0]
		}
		return []string{name, itoa(ws.Connects), itoa(ws.Sessions), failed, itoa(ws.MsgsSent), itoa(ws.MsgsReceived), itoa(ws.MsgsRecorded), pct,
			p95(ws.Connecting), p95(ws.RoundTrip), p95(ws.Push)}
	}
	for _, e := range s.Endpoints {
		if e.WS == nil {
			continue
		}
		rows = append(rows, row(e.Endpoint, e))
		for _, l := range e.ByLabel {
			if l.WS != nil {
				rows = append(rows, row("  ["+l.Label+"]", l))
			}
		}
	}
	if len(rows) == 1 {
		return
	}
	w.WriteString("\n")
	writeTable(w, rows, false)
}

func writeThresholds(w *bufio.Writer, vs Verdicts) {
	if len(vs) == 0 {
		return
	}
	head := fmt.Sprintf("thresholds: %d passed, %d breached", len(vs)-vs.Failed()-vs.Skipped(), vs.Failed())
	if n := vs.Skipped(); n > 0 {
		head += fmt.Sprintf(", %d skipped", n)
	}
	fmt.Fprintf(w, "\n%s%s\n", indent, head)
	rows := make([][]string, 0, len(vs))
	for _, v := range vs {
		what := v.metricLabel() + "=" + formatValue(v.Threshold, v.Observed)
		if v.Skipped {
			what = "skipped: " + v.Note
		}
		rows = append(rows, []string{mark(v) + " " + v.Expr, what})
	}
	writeTable(w, rows, true)
}
