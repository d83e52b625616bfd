package report

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// htmlRun describes a synthetic run fed through the real collector.
type htmlRun struct {
	length    time.Duration // the engine's duration
	rate      int           // HTTP requests per second
	failEvery int           // one 500 every failEvery requests (0: none)
	endpoints int           // HTTP endpoints the requests spread over
	ws        bool          // add WebSocket traffic
	aborted   string
}

// snapshot builds the run's snapshot: HTTP requests at a steady rate
// that all complete before the run's end, and, with ws, WebSocket
// connections (one failing its handshake), sessions, round trips and
// pushes on "WS /v1/updates" and a label of it.
func (r htmlRun) snapshot(t testing.TB) *metrics.Snapshot {
	t.Helper()
	c := metrics.NewCollector()
	byKind := map[string]int64{}
	add := func(res traffic.Result) {
		c.Add(res)
		if res.Kind == traffic.ResultHTTP || res.Kind == traffic.ResultWSConnect || res.Kind == traffic.ResultWSSend {
			byKind[res.Kind.String()]++
		}
	}
	step := time.Second / time.Duration(r.rate)
	for i := 0; ; i++ {
		at := time.Duration(i) * step
		lat := time.Duration(5+i%20) * time.Millisecond
		if at+lat > r.length {
			break
		}
		res := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: fmt.Sprintf("GET /v1/items%02d", i%max(1, r.endpoints)),
			Flow: fmt.Sprintf("f%d", i%7), Intended: at, Sent: at, Latency: lat, Service: lat, Status: 200, Expected: 200}
		if r.failEvery > 0 && i%r.failEvery == 0 {
			res.Status = 500
		}
		add(res)
	}
	if r.ws {
		for i := 0; i < 12; i++ {
			at := time.Duration(i) * 300 * time.Millisecond
			ep := "WS /v1/updates"
			if i%3 == 0 {
				ep += " [session-scoped]"
			}
			conn := traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Flow: fmt.Sprintf("w%d", i), Intended: at, Sent: at,
				Latency: 2 * time.Millisecond, Connecting: 2 * time.Millisecond, Status: 101}
			if i == 11 {
				conn.Error, conn.Status = "ws handshake", 0
			}
			add(conn)
			for k := 0; k < 3; k++ {
				add(traffic.Result{Kind: traffic.ResultWSSend, Endpoint: ep, Flow: conn.Flow, Intended: at + time.Duration(k+1)*10*time.Millisecond,
					Sent: at + time.Duration(k+1)*10*time.Millisecond})
				add(traffic.Result{Kind: traffic.ResultWSRoundTrip, Endpoint: ep, Flow: conn.Flow, Intended: at + time.Duration(k+1)*10*time.Millisecond,
					Latency: time.Duration(3+k) * time.Millisecond})
			}
			add(traffic.Result{Kind: traffic.ResultWSPush, Endpoint: ep, Flow: conn.Flow, Intended: at + 50*time.Millisecond, Latency: 40 * time.Millisecond})
			add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: ep, Flow: conn.Flow, Intended: at, Sent: at,
				Latency: time.Second, Service: time.Second, MsgsSent: 3, MsgsReceived: 9, MsgsRecorded: 10})
		}
	}
	s := c.Snapshot()
	m := metrics.Meta{Tool: "reprise test", Target: "http://127.0.0.1:8787", Corpus: "happy.rpz", Speed: 10,
		Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: r.length, Aborted: r.aborted, ScheduledByKind: byKind}
	m.End = m.Start.Add(r.length)
	for _, n := range byKind {
		m.Scheduled += n
	}
	s.SetMeta(m)
	return s
}

func renderHTML(t testing.TB, s *metrics.Snapshot, thresholds ...string) (string, *html.Node) {
	t.Helper()
	var vs Verdicts
	if len(thresholds) > 0 {
		ths, err := Resolve(thresholds)
		if err != nil {
			t.Fatal(err)
		}
		vs = Evaluate(s, ths)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, s, vs); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), doc
}

// find returns the elements under n for which ok is true, in document
// order.
func find(n *html.Node, ok func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && ok(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	if ns := find(doc, func(n *html.Node) bool { return attr(n, "id") == id }); len(ns) > 0 {
		return ns[0]
	}
	return nil
}

func tagged(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func TestHTMLVerdictBannerFirst(t *testing.T) {
	base := htmlRun{length: 10 * time.Second, rate: 50, failEvery: 50, endpoints: 30, ws: true}
	aborted := base
	aborted.aborted = "error_rate<1% (http_req_failed=2.00%)"
	tests := []struct {
		name       string
		run        htmlRun
		thresholds []string
		class      string
		want       []string
		not        []string
	}{
		{"breached", base, []string{"p95<10ms", "error_rate<5%", "ws_msgs_received>=99%", "GET /v1/items03: p99<1s"}, "breached",
			[]string{"BREACHED: 2 of 4 thresholds breached", "✗ p95<10ms — http_req_duration p(95)=", "✗ ws_msgs_received>=99% — ws_msgs_received of recorded=90.00%",
				"HTTP requests 499 49.90/s", "failed 2.00% 10 of 499", "latency p95", "latency p99", "WebSockets opened 11 of 12 attempted", "WS messages received 108 of 120 recorded (90.00%)"},
			[]string{"error_rate<5%", "Partial run"}},
		{"passed", base, []string{"p95<1s", "error_rate<5%", "GET /nothing: p95<1s"}, "passed",
			[]string{"PASSED: all 2 thresholds met, 1 skipped (nothing to measure)"}, []string{"✗"}},
		{"no thresholds", base, nil, "none", []string{"NOT JUDGED: no thresholds were set"}, nil},
		{"aborted and passed", aborted, []string{"p95<1s"}, "partial",
			[]string{"PARTIAL RUN: 1 threshold met", "Partial run: stopped early by an abort threshold: error_rate<1% (http_req_failed=2.00%)"}, nil},
		{"aborted and breached", aborted, []string{"p95<10ms"}, "breached",
			[]string{"BREACHED: 1 of 1 threshold breached", "Partial run: stopped early by an abort threshold"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, doc := renderHTML(t, tc.run.snapshot(t), tc.thresholds...)
			body := find(doc, tagged("body"))[0]
			first := body.FirstChild
			for first != nil && first.Type == html.TextNode && strings.TrimSpace(first.Data) == "" {
				first = first.NextSibling
			}
			if first == nil || first.Type != html.ElementNode || attr(first, "id") != "verdict" {
				t.Fatalf("the body does not open with the verdict banner: first is %+v", first)
			}
			if got := attr(first, "class"); got != "verdict "+tc.class {
				t.Errorf("banner class %q, want %q", got, "verdict "+tc.class)
			}
			banner := text(first)
			for _, w := range tc.want {
				if !strings.Contains(banner, w) {
					t.Errorf("banner lacks %q:\n%s", w, banner)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(banner, w) {
					t.Errorf("banner has %q:\n%s", w, banner)
				}
			}
			title := text(find(doc, tagged("title"))[0])
			if word := strings.Fields(tc.want[0])[0]; !strings.HasPrefix(title, strings.TrimSuffix(word, ":")) {
				t.Errorf("page title %q does not start with the verdict %q", title, word)
			}
		})
	}
}

func TestHTMLBannerBoundsBreaches(t *testing.T) {
	var exprs []string
	for i := 0; i < 10; i++ {
		exprs = append(exprs, fmt.Sprintf("GET /v1/items%02d: p95<1ms", i))
	}
	_, doc := renderHTML(t, htmlRun{length: 5 * time.Second, rate: 50, endpoints: 10}.snapshot(t), exprs...)
	banner := byID(doc, "verdict")
	if n := len(find(banner, tagged("li"))); n != maxBannerBreaches+1 {
		t.Errorf("banner lists %d items, want %d breaches and one line for the rest", n, maxBannerBreaches)
	}
	if !strings.Contains(text(banner), "and 4 more, listed under Thresholds") {
		t.Errorf("banner does not say how many more breaches: %s", text(banner))
	}
	if n := len(find(byID(doc, "threshold-table"), tagged("tr"))); n != 11 {
		t.Errorf("thresholds table has %d rows, want 10 and a header", n)
	}
}

// rows returns the cells of a table's rows, by their first cell.
func rows(t *testing.T, table *html.Node) map[string][]string {
	t.Helper()
	if table == nil {
		t.Fatal("no such table")
	}
	out := map[string][]string{}
	for _, tr := range find(table, tagged("tr")) {
		var cells []string
		for _, td := range find(tr, tagged("td")) {
			cells = append(cells, text(td))
		}
		if len(cells) > 0 {
			out[cells[0]] = cells[1:]
		}
	}
	return out
}

func TestHTMLWebSocketRows(t *testing.T) {
	s := htmlRun{length: 5 * time.Second, rate: 20, endpoints: 2, ws: true}.snapshot(t)
	out, doc := renderHTML(t, s, "WS /v1/updates [session-scoped]: ws_roundtrip.p95<1ms", "/v1/updates [session-scoped]: ws_connecting.p95<1s")
	ws := rows(t, byID(doc, "websocket-table"))
	// 12 handshakes, one refused; 4 of them session-scoped
	want := map[string][]string{
		"WS /v1/updates":   {"12", "11", "1", "12", "36", "108", "120", "90.00%", ""},
		"[session-scoped]": {"4", "4", "0", "4", "12", "36", "40", "90.00%", "✗ ws_roundtrip.p95<1ms ✓ ws_connecting.p95<1s"},
	}
	for name, cells := range want {
		if got := ws[name]; strings.Join(got, "|") != strings.Join(cells, "|") {
			t.Errorf("websocket row %s:\n got %q\nwant %q", name, got, cells)
		}
	}
	lat := rows(t, byID(doc, "websocket-latency-table"))
	if got := lat["WS /v1/updates"]; len(got) != 9 || got[0] != "2ms" || got[3] != "4ms" || !strings.HasPrefix(got[6], "40") {
		t.Errorf("websocket latency row: %q, want connecting p50 2ms, round trip p50 4ms, push p50 40ms", got)
	}
	http := rows(t, byID(doc, "endpoint-table"))
	if _, ok := http["WS /v1/updates"]; ok || len(http) != 2 {
		t.Errorf("HTTP endpoint table has rows %v, want the two HTTP endpoints only", keys(http))
	}
	if loc := zeroRate.FindStringIndex(out); loc != nil {
		t.Errorf("report shows a rate of 0.00/s: %s", out[max(0, loc[0]-200):loc[1]])
	}
	for _, id := range []string{"chart-ws-connections", "chart-ws-messages", "chart-ws-connecting", "chart-ws-roundtrip", "chart-ws-push"} {
		sec := byID(doc, id)
		if sec == nil || len(find(sec, tagged("rect"))) == 0 {
			t.Errorf("no WebSocket chart %s with bars", id)
		}
	}
	if !strings.Contains(text(byID(doc, "chart-ws-messages")), "108 received") {
		t.Error("messages chart does not write the received count")
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// plotH is the height of a line chart's plot area.
const plotH = float64(linePlotH)

func TestHTMLFailuresVisible(t *testing.T) {
	// 2 % of 100 requests per second fail
	_, doc := renderHTML(t, htmlRun{length: 10 * time.Second, rate: 100, failEvery: 50, endpoints: 3}.snapshot(t))
	sec := byID(doc, "chart-failures")
	if sec == nil {
		t.Fatal("no failures chart")
	}
	bars := find(sec, func(n *html.Node) bool { return n.Data == "rect" && attr(n, "class") == "fail-bar" })
	if len(bars) < 9 {
		t.Fatalf("failures chart has %d bars, want one a second", len(bars))
	}
	tallest := 0.0
	for _, b := range bars {
		h, _ := strconv.ParseFloat(attr(b, "height"), 64)
		tallest = math.Max(tallest, h)
	}
	if tallest < plotH/2 {
		t.Errorf("a 2%% failure rate is drawn %.1f high on a plot %.0f high: not visible", tallest, plotH)
	}
	if !strings.Contains(text(sec), "20 of 998, 2.00%") {
		t.Errorf("failures chart title lacks the count and rate: %s", text(sec))
	}
	_, doc = renderHTML(t, htmlRun{length: 3 * time.Second, rate: 10, endpoints: 1}.snapshot(t))
	if got := text(byID(doc, "chart-failures")); !strings.Contains(got, "No HTTP request failed.") {
		t.Errorf("failures chart of a run without failures: %q", got)
	}
}

var zeroRate = regexp.MustCompile(`[^0-9.]0\.00/s`)

var pointRE = regexp.MustCompile(`(-?[\d.]+),(-?[\d.]+)`)

// requestPoints returns the y of each point of the requests line, in
// requests per second.
func requestPoints(t *testing.T, doc *html.Node) []float64 {
	t.Helper()
	sec := byID(doc, "chart-requests")
	lines := find(sec, tagged("polyline"))
	if len(lines) != 1 {
		t.Fatalf("requests chart has %d lines, want 1", len(lines))
	}
	// the top gridline's label is the top of the scale
	var top float64
	for _, tx := range find(sec, tagged("text")) {
		if attr(tx, "text-anchor") == "end" && attr(tx, "class") == "" {
			v, err := strconv.ParseFloat(strings.TrimSuffix(text(tx), "/s"), 64)
			if err == nil {
				top = math.Max(top, v)
			}
		}
	}
	var out []float64
	for _, m := range pointRE.FindAllStringSubmatch(attr(lines[0], "points"), -1) {
		y, _ := strconv.ParseFloat(m[2], 64)
		out = append(out, top*(1-(y-linePadT)/plotH))
	}
	return out
}

func TestHTMLLastSecondDoesNotDive(t *testing.T) {
	tests := []struct {
		name   string
		length time.Duration
		points int
		note   string
	}{
		// half a second: drawn as a rate over that half
		{"half a second", 10500 * time.Millisecond, 11, "The run ended 500ms into its last second: the last point is a rate over that part"},
		// two milliseconds: left out, and said so
		{"a sliver", 10002 * time.Millisecond, 10, "The last 2ms of the run (after 10s, 0 requests completed in it, 0 failed) is not drawn"},
		{"whole seconds", 10 * time.Second, 10, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, doc := renderHTML(t, htmlRun{length: tc.length, rate: 100, endpoints: 2}.snapshot(t))
			ys := requestPoints(t, doc)
			if len(ys) != tc.points {
				t.Fatalf("%d points, want %d: %v", len(ys), tc.points, ys)
			}
			// every second but the first (requests complete 5 to 24 ms
			// after they are sent) is 100 requests per second
			for i, y := range ys[1:] {
				if math.Abs(y-100) > 8 {
					t.Errorf("second %d drawn at %.1f/s, want about 100/s: %v", i+1, y, ys)
				}
			}
			note := text(byID(doc, "over-time").Parent)
			if tc.note != "" && !strings.Contains(note, tc.note) {
				t.Errorf("no note %q in %q", tc.note, note)
			}
		})
	}
}

func TestHTMLLongRunIsBucketed(t *testing.T) {
	s := htmlRun{length: 2 * time.Hour, rate: 1, endpoints: 1}.snapshot(t)
	out, doc := renderHTML(t, s)
	for _, pl := range find(doc, tagged("polyline")) {
		if n := len(pointRE.FindAllString(attr(pl, "points"), -1)); n > maxPoints {
			t.Errorf("a line has %d points, want at most %d", n, maxPoints)
		}
	}
	if !strings.Contains(out, "in 12-second buckets") {
		t.Error("the charts do not say they are bucketed")
	}
	ticks := find(byID(doc, "chart-requests"), func(n *html.Node) bool { return attr(n, "class") == "xtick" })
	if last := text(ticks[len(ticks)-1]); last != "2h" {
		t.Errorf("last time label %q, want 2h", last)
	}
	if len(out) > 200_000 {
		t.Errorf("report of a two-hour run is %d bytes", len(out))
	}
}

func TestHTMLSelfContained(t *testing.T) {
	c := metrics.NewCollector()
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		ep := "GET /v1/sessions"
		if i%3 == 0 {
			ep = `GET /<script>alert(1)</script>`
		}
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: ep, Flow: "f", Intended: at, Sent: at,
			Latency: time.Duration(1+i%50) * time.Millisecond, Status: 200, Expected: 200})
	}
	s := c.Snapshot()
	s.SetMeta(metrics.Meta{Target: "http://127.0.0.1:1", Corpus: `c".rpz`, Speed: 10, Duration: 3 * time.Second, Start: time.Unix(0, 0)})
	out, doc := renderHTML(t, s, "p95<10ms", "GET /v1/sessions: p99<1s")
	if n := len(find(doc, tagged("script"))); n != 0 || strings.Contains(out, "<script>alert") {
		t.Fatal("an endpoint name was not escaped")
	}
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" && !strings.HasPrefix(a.Val, "#") {
				t.Errorf("<%s %s=%q>: the report must not load anything", n.Data, a.Key, a.Val)
			}
		}
		if n.Data == "link" {
			t.Error("the report links an external resource")
		}
	}
	if strings.Contains(out, "url(") || strings.Contains(out, "@import") {
		t.Error("the style loads something")
	}
	for _, want := range []string{`class="name fail">✗ p95&lt;10ms`, `class="pass" title="http_req_duration p(99)=`, "http_req_duration"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := len(find(doc, tagged("svg"))); n != 3 {
		t.Errorf("%d charts, want requests, latency and flows (no failures)", n)
	}
}

func TestHTMLEndpointSentNothing(t *testing.T) {
	c := metrics.NewCollector()
	for i := 0; i < 5; i++ {
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /late", Intended: time.Duration(i) * time.Second, NotSent: "in-flight limit"})
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /ok", Intended: time.Duration(i) * time.Second, Sent: time.Duration(i) * time.Second,
			Latency: time.Millisecond, Status: 200})
	}
	s := c.Snapshot()
	s.SetMeta(metrics.Meta{Duration: 5 * time.Second})
	_, doc := renderHTML(t, s)
	got := rows(t, byID(doc, "endpoint-table"))["GET /late"]
	want := []string{"0", "5", "0.00/s", dash, dash, dash, dash, dash, "", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("row of an endpoint that sent nothing:\n got %q\nwant %q", got, want)
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ v, top, step float64 }{
		{0, 1, 0.25}, {1, 1, 0.25}, {3, 3, 1}, {222, 300, 100}, {2, 2, 0.5}, {0.02, 0.02, 0.005}, {19.05, 20, 5}, {100, 100, 25},
	} {
		top, step := niceScale(tc.v)
		if top < tc.v || top > 2*tc.v+1 || (top/step) > 4+1e-9 {
			t.Errorf("niceScale(%v) = %v, %v: top below the value, too far above it, or more than four steps", tc.v, top, step)
		}
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.v, top, step, tc.top, tc.step)
		}
	}
}

func TestTickLabel(t *testing.T) {
	for sec, want := range map[float64]string{0: "0s", 45: "45s", 90: "1m30s", 3600: "1h", 7260: "2h1m", 0.5: "0.5s"} {
		if got := tickLabel(sec); got != want {
			t.Errorf("tickLabel(%v) = %q, want %q", sec, got, want)
		}
	}
}

func TestHTMLEmptyAndWebSocketOnly(t *testing.T) {
	out, doc := renderHTML(t, &metrics.Snapshot{})
	if byID(doc, "verdict") == nil || len(find(doc, tagged("svg"))) != 0 {
		t.Errorf("report of an empty run: want a banner and no chart:\n%s", out)
	}
	c := metrics.NewCollector()
	for i := 0; i < 3; i++ {
		at := time.Duration(i) * time.Second
		c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: "WS /v1/updates", Flow: "w", Intended: at, Sent: at, Connecting: time.Millisecond, Status: 101})
		c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates", Flow: "w", Intended: at, Sent: at, Latency: 500 * time.Millisecond,
			MsgsReceived: 4, MsgsRecorded: 4})
	}
	s := c.Snapshot()
	s.SetMeta(metrics.Meta{Duration: 3 * time.Second, Scheduled: 3, ScheduledByKind: map[string]int64{"ws-connect": 3}})
	_, doc = renderHTML(t, s, "ws_msgs_received>=99%")
	banner := text(byID(doc, "verdict"))
	for _, want := range []string{"PASSED: 1 threshold met", "WebSockets opened 3 of 3 attempted", "WS messages received 12 of 12 recorded (100.00%)"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q: %s", want, banner)
		}
	}
	if strings.Contains(banner, "HTTP requests") || byID(doc, "endpoint-table") != nil || byID(doc, "chart-requests") != nil || byID(doc, "chart-failures") != nil {
		t.Errorf("a run without HTTP shows HTTP numbers or charts: %s", banner)
	}
	if byID(doc, "chart-flows") == nil {
		t.Error("a run without HTTP has no chart of its flows")
	}
	if got := rows(t, byID(doc, "websocket-table"))["WS /v1/updates"]; strings.Join(got[:8], " ") != "3 3 0 3 0 12 12 100.00%" {
		t.Errorf("websocket row %q", got)
	}
}
