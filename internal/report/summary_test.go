package report

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// happyRun builds the snapshot of a deterministic replay of a Happy-like
// workload: 2400 HTTP requests over 60 s from 8 users with a known latency
// mix, failures of each kind, and WebSocket sessions of three types.
func happyRun() *metrics.Snapshot {
	r := rand.New(rand.NewPCG(42, 42))
	c := metrics.NewCollector()
	type ep struct {
		name   string
		base   time.Duration
		weight int
	}
	eps := []ep{
		{"GET /health", 2 * time.Millisecond, 4},
		{"GET /v1/sessions", 40 * time.Millisecond, 6},
		{"POST /v1/sessions", 80 * time.Millisecond, 2},
		{"GET /v1/sessions/{id}/messages", 30 * time.Millisecond, 5},
		{"POST /v1/sessions/{id}/messages", 60 * time.Millisecond, 5},
		{"GET /v1/machines", 35 * time.Millisecond, 2},
		{"GET /v1/websocket/stats", 20 * time.Millisecond, 1},
	}
	var pick []ep
	for _, e := range eps {
		for i := 0; i < e.weight; i++ {
			pick = append(pick, e)
		}
	}
	scheduled := int64(0)
	for i := 0; i < 2400; i++ {
		e := pick[r.IntN(len(pick))]
		at := time.Duration(i) * 25 * time.Millisecond
		lag := time.Duration(r.IntN(800)) * time.Microsecond
		svc := e.base/2 + time.Duration(r.ExpFloat64()*float64(e.base/2))
		res := traffic.Result{
			Kind: traffic.ResultHTTP, Endpoint: e.name, Flow: fmt.Sprintf("user-%d", i%8),
			Intended: at, Sent: at + lag, Service: svc, Latency: lag + svc,
			Status: 200, Expected: 200, BytesSent: 180 + int64(r.IntN(200)), BytesReceived: 400 + int64(r.IntN(4000)),
		}
		res.Blocked = time.Duration(2+r.IntN(10)) * time.Microsecond
		res.Sending = time.Duration(20+r.IntN(40)) * time.Microsecond
		res.Receiving = svc / 10
		res.Waiting = svc - res.Sending - res.Receiving
		if i < 8 {
			res.Connecting = 900 * time.Microsecond
			res.Blocked = 0
		}
		res.Resent = i%600 == 13
		switch {
		case i%400 == 7:
			res.Status, res.Error, res.Latency, res.Service = 0, "timeout", 10*time.Second, 10*time.Second-lag
		case i%300 == 11:
			res.Status, res.Error = 0, "reset"
		case i%250 == 3:
			res = traffic.Result{Kind: traffic.ResultHTTP, Endpoint: e.name, Flow: res.Flow, Intended: at, NotSent: traffic.NotSentInFlight, Expected: 200}
		case i%97 == 5:
			res.Status = 503
		case e.name == "GET /v1/sessions/{id}/messages" && i%31 == 0:
			res.Status, res.Expected = 404, 200
		}
		c.Add(res)
		scheduled++
	}
	for u := 0; u < 6; u++ {
		label := []string{"user-scoped", "session-scoped", "machine-scoped"}[u%3]
		name := "WS /v1/updates [" + label + "]"
		flow := fmt.Sprintf("user-%d", u)
		c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: name, Flow: flow, Intended: time.Second, Sent: time.Second, Latency: 3 * time.Millisecond, Service: 3 * time.Millisecond, Connecting: 2*time.Millisecond + time.Duration(u)*100*time.Microsecond, Status: 101, Expected: 101})
		scheduled++
		for m := 0; m < 20; m++ {
			at := time.Second + time.Duration(m)*2*time.Second
			c.Add(traffic.Result{Kind: traffic.ResultWSSend, Endpoint: name, Flow: flow, Intended: at, Sent: at + 200*time.Microsecond, BytesSent: 64})
			scheduled++
			c.Add(traffic.Result{Kind: traffic.ResultWSRoundTrip, Endpoint: name, Flow: flow, Intended: at, Latency: 4*time.Millisecond + time.Duration(m)*100*time.Microsecond})
			if m%4 == 0 {
				c.Add(traffic.Result{Kind: traffic.ResultWSPush, Endpoint: name, Flow: flow, Intended: at, Latency: 9*time.Millisecond + time.Duration(m)*200*time.Microsecond})
			}
		}
		recv := 30
		if label == "machine-scoped" {
			recv = 27
		}
		c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: name, Flow: flow, Intended: time.Second, Sent: time.Second, Service: 50 * time.Second, Latency: 50 * time.Second, MsgsSent: 20, MsgsReceived: recv, MsgsRecorded: 30, BytesReceived: int64(recv) * 300})
	}
	s := c.Snapshot()
	s.Meta = metrics.Meta{
		Tool: "reprise test", Target: "http://127.0.0.1:8787", Corpus: "corpora/happy-dev.rpz", Speed: 10,
		Start:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		End:      time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC),
		Duration: 60 * time.Second, Scheduled: scheduled,
	}
	return s
}

func TestSummary(t *testing.T) {
	hap, err := NamedSet("hap-19")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ParseThresholds([]string{
		"service.p99<150ms", "checks>99%", "ws_roundtrip.p95<10ms", "http_req_waiting.p95<100ms",
		"WS /v1/updates [machine-scoped]: ws_msgs_received>=99%",
		"WS /v1/updates: ws_connecting.p95<5ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	broken := happyRun()
	broken.Meta.Scheduled += 5
	tests := []struct {
		name string
		snap *metrics.Snapshot
		ths  Thresholds
		opts SummaryOptions
	}{
		{"happy_no_thresholds", happyRun(), nil, SummaryOptions{}},
		{"happy_hap19", happyRun(), append(hap, extra...), SummaryOptions{}},
		{"happy_top3", happyRun(), nil, SummaryOptions{MaxEndpoints: 3}},
		{"accounting_mismatch", broken, nil, SummaryOptions{}},
		{"empty_run", func() *metrics.Snapshot {
			s := metrics.NewCollector().Snapshot()
			s.Meta.Target = "http://127.0.0.1:1"
			return s
		}(), Thresholds{mustParse(t, "p95<500ms")[0]}, SummaryOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if tt.ths != nil {
				opts.Verdicts = Evaluate(tt.snap, tt.ths)
			}
			var b bytes.Buffer
			if err := Summary(&b, tt.snap, opts); err != nil {
				t.Fatal(err)
			}
			golden(t, b.Bytes())
		})
	}
}

func mustParse(t *testing.T, exprs ...string) Thresholds {
	t.Helper()
	ts, err := ParseThresholds(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSummaryShowsWhatMatters(t *testing.T) {
	s := happyRun()
	var b bytes.Buffer
	if err := Summary(&b, s, SummaryOptions{Verdicts: Evaluate(s, mustParse(t, "p95<500ms"))}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	p95 := formatDuration(s.Overall.Latency.Percentile(95))
	for _, want := range []string{
		"http_req_duration..............: avg=",
		"p(95)=" + p95,
		"http_reqs......................: " + itoa(s.Overall.Requests) + " ",
		"accounting.....................: " + itoa(s.Meta.Scheduled) + " scheduled = ",
		"timeout 6", // failed by kind
		"in-flight limit 10",
		"ws_msgs_received...............: 174 ",
		"of 180 recorded (96.67%)",
		"[machine-scoped]",
		"✓ p95<500ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestFormat(t *testing.T) {
	durations := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Microsecond, "1µs"},
		{812 * time.Microsecond, "812µs"},
		{1500 * time.Nanosecond, "1.5µs"},
		{1230 * time.Microsecond, "1.23ms"},
		{12 * time.Millisecond, "12ms"},
		{156234 * time.Microsecond, "156.23ms"},
		{1200 * time.Millisecond, "1.2s"},
		{62500 * time.Millisecond, "1m2.5s"},
		{time.Hour + 2*time.Minute + 3*time.Second, "1h2m3s"},
	}
	for _, tt := range durations {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	bytesCases := []struct {
		n    float64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {87000, "87 kB"}, {5.2e6, "5.2 MB"}, {1.8e6, "1.8 MB"}, {3.4e9, "3.4 GB"},
	}
	for _, tt := range bytesCases {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%v) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := formatPercent(0.0015); got != "0.15%" {
		t.Errorf("formatPercent = %q", got)
	}
}

func TestWriteJSON(t *testing.T) {
	s := happyRun()
	vs := Evaluate(s, mustParse(t, "p95<500ms", "GET /health: p99<1ms"))
	var b bytes.Buffer
	if err := WriteJSON(&b, s, vs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Thresholds) != 2 || !back.Thresholds[0].Pass || back.Thresholds[1].Pass {
		t.Errorf("thresholds in the document = %+v", back.Thresholds)
	}
	if s.Thresholds != nil {
		t.Error("WriteJSON modified the snapshot")
	}
	// the verdicts evaluate the same on the decoded document
	again := Evaluate(back, mustParse(t, "p95<500ms", "GET /health: p99<1ms"))
	for i := range vs {
		if vs[i].Observed != again[i].Observed {
			t.Errorf("%s: observed %v before, %v after the round trip", vs[i].Expr, vs[i].Observed, again[i].Observed)
		}
	}
}

func TestProgressLine(t *testing.T) {
	c := metrics.NewCollector()
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		r := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /", Intended: at, Sent: at, Latency: time.Duration(1+i%10) * time.Millisecond, Status: 200}
		if i == 150 {
			r.Error, r.Status = "reset", 0
		}
		if i == 151 {
			r = traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /", Intended: at, NotSent: traffic.NotSentInFlight}
		}
		c.Add(r)
	}
	got := ProgressLine(c.Progress(2500*time.Millisecond), 2500*time.Millisecond, time.Minute)
	want := "running 2s/1m0s  reqs 299  99/s  p50=6ms p95=10.01ms p99=10.01ms  failed 0.67%  not sent 1  errors 1"
	if got != want {
		t.Errorf("progress line:\n got %s\nwant %s", got, want)
	}
}

func TestSummaryZeroSnapshot(t *testing.T) {
	var b bytes.Buffer
	if err := Summary(&b, &metrics.Snapshot{}, SummaryOptions{Verdicts: Evaluate(&metrics.Snapshot{}, mustParse(t, "p95<1s", "GET /x: p95<1s"))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "0 scheduled = 0 completed") {
		t.Errorf("summary of nothing:\n%s", b.String())
	}
}

// Failed WebSocket connections show in the summary by kind, and in the
// websocket table, not only in the results document.
func TestSummaryShowsWebSocketFailures(t *testing.T) {
	c := metrics.NewCollector()
	ep := "WS /v1/updates [user-scoped]"
	c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Status: 101, Expected: 101, Connecting: time.Millisecond, Latency: time.Millisecond})
	c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Error: "ws handshake", Expected: 101})
	c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: ep, Error: "ws abnormal close", Service: time.Second, MsgsRecorded: 3})
	s := c.Snapshot()
	var b strings.Builder
	if err := Summary(&b, s, SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "ws_failed") || !strings.Contains(out, "ws_failed......................: 2      ws abnormal close 1, ws handshake 1") {
		t.Fatalf("summary does not name the WebSocket failures:\n%s", out)
	}
}
