package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

func TestParseThresholds(t *testing.T) {
	tests := []struct {
		expr     string
		endpoint string
		metric   Metric
		stat     string
		op       string
		limit    float64
		kind     Kind
	}{
		{"p95<500ms", "", MetricDuration, "p(95)", "<", 500, KindDuration},
		{"p99<1s", "", MetricDuration, "p(99)", "<", 1000, KindDuration},
		{"p(99.9)<2s", "", MetricDuration, "p(99.9)", "<", 2000, KindDuration},
		{"p99.9 < 2s", "", MetricDuration, "p(99.9)", "<", 2000, KindDuration},
		{"avg<200ms", "", MetricDuration, "avg", "<", 200, KindDuration},
		{"med<100ms", "", MetricDuration, "med", "<", 100, KindDuration},
		{"max<3s", "", MetricDuration, "max", "<", 3000, KindDuration},
		{"min<=250us", "", MetricDuration, "min", "<=", 0.25, KindDuration},
		{"p95<500", "", MetricDuration, "p(95)", "<", 500, KindDuration},
		{"error_rate<1%", "", MetricFailed, "", "<", 0.01, KindRatio},
		{"http_req_failed<0.01", "", MetricFailed, "", "<", 0.01, KindRatio},
		{"rate>=1000/min", "", MetricReqRate, "rate", ">=", 1000.0 / 60, KindRate},
		{"rate>=20/s", "", MetricReqRate, "rate", ">=", 20, KindRate},
		{"http_reqs.count>=1000", "", MetricReqRate, "count", ">=", 1000, KindCount},
		{"checks>99%", "", MetricChecks, "", ">", 0.99, KindRatio},
		{"shape_checks>=99.5%", "", MetricShapeChecks, "", ">=", 0.995, KindRatio},
		{"flows>=100", "", MetricFlows, "", ">=", 100, KindCount},
		{"service.p95<300ms", "", MetricService, "p(95)", "<", 300, KindDuration},
		{"latency.p(99)<1s", "", MetricDuration, "p(99)", "<", 1000, KindDuration},
		{"http_req_waiting.p95<200ms", "", MetricWaiting, "p(95)", "<", 200, KindDuration},
		{"ttfb.p99<300ms", "", MetricWaiting, "p(99)", "<", 300, KindDuration},
		{"http_req_blocked.max<10ms", "", MetricBlocked, "max", "<", 10, KindDuration},
		{"http_req_tls_handshaking.avg<50ms", "", MetricTLS, "avg", "<", 50, KindDuration},
		{"http_req_sending.p95<1ms", "", MetricSending, "p(95)", "<", 1, KindDuration},
		{"receiving.p95<20ms", "", MetricReceiving, "p(95)", "<", 20, KindDuration},
		{"ws_connecting.p95<100ms", "", MetricWSConnecting, "p(95)", "<", 100, KindDuration},
		{"ws_roundtrip.p99<300ms", "", MetricWSRoundTrip, "p(99)", "<", 300, KindDuration},
		{"ws_msgs_received>=99%", "", MetricWSReceived, "", ">=", 0.99, KindRatio},
		{"ws_push_delivery.p95<200ms", "", MetricWSPush, "p(95)", "<", 200, KindDuration},
		{"GET /v1/sessions: p95<200ms", "GET /v1/sessions", MetricDuration, "p(95)", "<", 200, KindDuration},
		{"POST  /v1/sessions/{id}/messages:  error_rate<0.5%", "POST /v1/sessions/{id}/messages", MetricFailed, "", "<", 0.005, KindRatio},
		{"/health: p95<50ms", "/health", MetricDuration, "p(95)", "<", 50, KindDuration},
		{"WS /v1/updates [user-scoped]: ws_msgs_received>=0.99", "WS /v1/updates [user-scoped]", MetricWSReceived, "", ">=", 0.99, KindRatio},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			ts, err := ParseThresholds([]string{tt.expr})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(ts) != 1 {
				t.Fatalf("%d thresholds", len(ts))
			}
			g := ts[0]
			if g.Endpoint != tt.endpoint || g.Metric != tt.metric || g.Stat != tt.stat || g.Op != tt.op || g.Kind != tt.kind || math.Abs(g.Limit-tt.limit) > 1e-9 {
				t.Errorf("got %+v", g)
			}
		})
	}
}

func TestParseSeveralConditions(t *testing.T) {
	ts, err := ParseThresholds([]string{"GET /health: p95<50ms, p99<100ms", "p95<500ms,error_rate<1%"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /health: p95<50ms", "GET /health: p99<100ms", "p95<500ms", "error_rate<1%"}
	if len(ts) != len(want) {
		t.Fatalf("%d thresholds, want %d", len(ts), len(want))
	}
	for i, w := range want {
		if ts[i].Expr != w {
			t.Errorf("threshold %d = %q, want %q", i, ts[i].Expr, w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty expression"},
		{"p95", "no comparison"},
		{"<500ms", "nothing before"},
		{"p95<", "no limit after"},
		{"p95<<500", "more than one comparison"},
		{"p96x<5ms", `unknown metric or statistic "p96x"`},
		{"p0<5ms", `unknown metric or statistic "p0"`},
		{"p101<5ms", `unknown metric or statistic "p101"`},
		{"p95<500kg", `unknown duration unit "kg"`},
		{"p95<fast", `limit "fast" is not a number`},
		{"p95<-5ms", `limit "-5ms" is not a number`},
		{"error_rate<5", "a ratio is 0 to 1, or a percentage such as 5%"},
		{"error_rate<150%", "over 100%"},
		{"error_rate<5ms", "want a percentage"},
		{"rate>=1000/day", `unknown rate unit "/day"`},
		{"service<300ms", "http_req_service needs a statistic"},
		{"service.p95x<3ms", `unknown statistic "p95x"`},
		{"checks.p95>1%", "checks takes no statistic"},
		{"http_reqs.max>1", "takes .rate or .count"},
		{"flows>=100x", "takes no unit"},
		{"get /health: p95<5ms", `method "get" is not upper-case`},
		{"health: p95<5ms", `is not "METHOD /template"`},
		{"GET /health: schedule_lag.p95<5ms", "measured for the whole run only"},
		{"GET /health: flows>=10", "measured for the whole run only"},
		{"p95<5ms,", "empty condition"},
		{": p95<5ms", "empty endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseThresholds([]string{tt.expr})
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if tt.expr != "" && !strings.Contains(msg, tt.expr) {
				t.Errorf("error %q does not name the expression %q", msg, tt.expr)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	known := []string{"GET /health", "GET /v1/sessions", "POST /v1/sessions", "WS /v1/updates"}
	tests := []struct {
		expr    string
		wantErr string
	}{
		{"GET /health: p95<50ms", ""},
		{"/v1/sessions: p95<50ms", ""},
		{"WS /v1/updates [user-scoped]: ws_msgs_received>=99%", ""},
		{"p95<500ms", ""},
		{"DELETE /v1/sessions: p95<50ms", `no endpoint "DELETE /v1/sessions" in this corpus (known: GET /health, GET /v1/sessions, POST /v1/sessions, WS /v1/updates)`},
		{"/v1/nothing: p95<50ms", `no endpoint "/v1/nothing"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			err := mustParse(t, tt.expr).Check(known)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	hap, err := NamedSet("hap-19")
	if err != nil {
		t.Fatal(err)
	}
	if err := hap.Check(known); err != nil {
		t.Errorf("named set endpoints are optional, got %v", err)
	}
}

func TestNamedSet(t *testing.T) {
	hap, err := NamedSet("HAP-19")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, th := range hap {
		exprs = append(exprs, th.Expr)
	}
	want := "flows>=100|rate>=1000/min|p95<500ms|p99<1000ms|error_rate<1%|" +
		"GET /health: p95<50ms|GET /health: p99<100ms|GET /v1/sessions: p95<200ms|GET /v1/sessions: p99<400ms|" +
		"POST /v1/sessions: p95<300ms|POST /v1/sessions: p99<500ms|GET /v1/machines: p95<200ms|GET /v1/machines: p99<400ms|" +
		"GET /v1/artifacts: p95<200ms|GET /v1/artifacts: p99<400ms|GET /v1/websocket/stats: p95<100ms|GET /v1/websocket/stats: p99<200ms|" +
		"POST /v1/websocket/broadcast: p95<200ms|POST /v1/websocket/broadcast: p99<400ms"
	if got := strings.Join(exprs, "|"); got != want {
		t.Errorf("hap-19 =\n%s\nwant\n%s", got, want)
	}
	if _, err := NamedSet("hap-20"); err == nil || !strings.Contains(err.Error(), "known: hap-19") {
		t.Errorf("unknown set error = %v", err)
	}
	mixed, err := Resolve([]string{"hap-19", "service.p99<1s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(mixed) != len(hap)+1 {
		t.Errorf("Resolve gave %d thresholds, want %d", len(mixed), len(hap)+1)
	}
}

// run builds a snapshot from results over a run of the given duration.
func run(d time.Duration, results ...traffic.Result) *metrics.Snapshot {
	c := metrics.NewCollector()
	var scheduled int64
	for _, r := range results {
		c.Add(r)
		scheduled++
	}
	s := c.Snapshot()
	s.Meta.Duration = d
	s.Meta.Scheduled = scheduled
	return s
}

func httpResults(n int, lat func(i int) time.Duration, status func(i int) int) []traffic.Result {
	out := make([]traffic.Result, n)
	for i := range out {
		at := time.Duration(i) * time.Millisecond
		out[i] = traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions", Flow: "u", Intended: at, Sent: at,
			Latency: lat(i), Service: lat(i) / 2, Status: status(i), Expected: 200}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	// latencies 1..1000 ms, 2% 500s
	rs := httpResults(1000, func(i int) time.Duration { return time.Duration(i+1) * time.Millisecond },
		func(i int) int {
			if i%50 == 0 {
				return 500
			}
			return 200
		})
	s := run(time.Minute, rs...)
	tests := []struct {
		expr     string
		observed float64
		pass     bool
		skipped  bool
	}{
		{"p95<500ms", 950.271, false, false}, // HDR bucket upper end of 950ms
		{"p95<1s", 950.271, true, false},
		{"p50<=501ms", 500.223, true, false},
		{"med<500ms", 500.223, false, false},
		{"avg<600ms", 500.504858, true, false},
		{"max<1s", 1000.447, false, false},
		{"min>=1ms", 1, true, false},
		{"service.p99<500ms", 495.103, true, false},
		{"error_rate<1%", 0.02, false, false},
		{"error_rate<=2%", 0.02, true, false},
		{"checks>97%", 0.98, true, false},
		{"rate>=1000/min", 1000.0 / 60, true, false},
		{"rate>=20/s", 1000.0 / 60, false, false},
		{"http_reqs.count==1000", 1000, true, false},
		{"GET /v1/sessions: p99<1s", 990.207, true, false},
		{"/v1/sessions: p99<1s", 990.207, true, false},
		{"GET /health: p99<1s", 0, false, true},
		{"ws_roundtrip.p95<10ms", 0, false, true},
		{"ws_msgs_received>=99%", 0, false, true},
		{"flows>=100", 1, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			v := Evaluate(s, mustParse(t, tt.expr))[0]
			if v.Skipped != tt.skipped {
				t.Fatalf("skipped = %v (%s), want %v", v.Skipped, v.Note, tt.skipped)
			}
			if tt.skipped {
				return
			}
			if math.Abs(v.Observed-tt.observed) > 1e-6 {
				t.Errorf("observed %v, want %v", v.Observed, tt.observed)
			}
			if v.Pass != tt.pass {
				t.Errorf("pass = %v, want %v", v.Pass, tt.pass)
			}
		})
	}
}

// TestRateUsesReplayedDuration: the same 1000 requests replayed at 10x
// take a tenth of the time, and the rate threshold judges that.
func TestRateUsesReplayedDuration(t *testing.T) {
	rs := httpResults(1000, func(int) time.Duration { return time.Millisecond }, func(int) int { return 200 })
	recorded := run(time.Minute, rs...)
	replayed := run(6*time.Second, rs...)
	replayed.Meta.Speed = 10
	th := mustParse(t, "rate>=10000/min")
	if v := Evaluate(recorded, th)[0]; v.Pass {
		t.Errorf("at 1x: %v/s passes", v.Observed)
	}
	if v := Evaluate(replayed, th)[0]; !v.Pass || math.Abs(v.Observed-1000.0/6) > 1e-9 {
		t.Errorf("at 10x: observed %v/s, pass %v", v.Observed, v.Pass)
	}
}

func TestVerdictCounts(t *testing.T) {
	s := run(time.Second, httpResults(10, func(int) time.Duration { return time.Millisecond }, func(int) int { return 200 })...)
	vs := Evaluate(s, mustParse(t, "p95<1s", "p95<1us", "GET /nope: p95<1s", "error_rate<1%"))
	if vs.Failed() != 1 || vs.Skipped() != 1 {
		t.Errorf("failed %d skipped %d, want 1 and 1", vs.Failed(), vs.Skipped())
	}
	res := vs.Results()
	if res[2].Pass || res[2].Note == "" || res[1].Pass || !res[0].Pass {
		t.Errorf("results = %+v", res)
	}
}
