package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// vuRun is a run of VUs virtual users for 10s, ramping 1 -> VUs over the
// first 4s (VU k starts at k seconds): each VU runs iterations of 2s
// with two requests (at its start, and at +1.5s answered in 20ms *
// (round+1)); the iteration under way at 10s is cut.
func vuRun(vus int) *metrics.Snapshot {
	c := metrics.NewCollector()
	var scheduled int64
	for vu := 0; vu < vus; vu++ {
		for round := 0; ; round++ {
			start := time.Duration(vu)*time.Second + time.Duration(round)*2*time.Second
			if start >= 10*time.Second {
				break
			}
			c.StartIteration(vu, round, start)
			add := func(at, took time.Duration) {
				c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions", Flow: "u", Copy: vu, Round: round,
					Intended: at, Sent: at, Latency: took, Service: took, Status: 200, Expected: 200})
				scheduled++
			}
			add(start, 10*time.Millisecond)
			last := start + 1500*time.Millisecond
			if last > 10*time.Second {
				c.EndIteration(vu, round, start, 10*time.Second, false)
				continue
			}
			add(last, time.Duration(round+1)*20*time.Millisecond)
			c.EndIteration(vu, round, last, start+2*time.Second, true)
		}
	}
	s := c.Snapshot()
	s.Meta = metrics.Meta{Target: "http://127.0.0.1:8787", Speed: 1, VUsMax: vus, Duration: 10 * time.Second, Scheduled: scheduled}
	return s
}

func TestSummaryVUs(t *testing.T) {
	s := vuRun(4)
	ths := mustParse(t, "vus>=3", "vus_max==4", "iterations>=15", "iterations.rate>=1/s", "iteration_duration.p95<1.6s", "users<2")
	var b bytes.Buffer
	if err := Summary(&b, s, SummaryOptions{Verdicts: Evaluate(s, ths)}); err != nil {
		t.Fatal(err)
	}
	golden(t, b.Bytes())
	out := b.String()
	for _, want := range []string{
		`iterations\.+: 16 +1\.60/s +2 interrupted`,
		`vus\.+: 4 +min=1 +max=4\n`,
		`vus_max\.+: 4 +min=4 +max=4\n`,
		`iteration_duration\.+: avg=1\.55s +min=1\.52s`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("summary lacks %s:\n%s", want, out)
		}
	}
}

func TestVUThresholds(t *testing.T) {
	s := vuRun(4)
	for _, tt := range []struct {
		expr     string
		observed float64
		pass     bool
	}{
		{"vus>=3", 4, true}, // 1, 2, 3, then 4 VUs for the other 7 seconds: median 4
		{"users>=5", 4, false},
		{"vus_max==4", 4, true},
		{"iterations>=15", 16, true},
		{"iterations.count<10", 16, false},
		{"iterations.rate>=2/s", 1.6, false},
		{"iteration_duration.max<1.6s", 1600, false}, // 1.5s + the 5th round's 100ms answer
		{"iteration_duration.min>=1.5s", 1520, true},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			v := Evaluate(s, mustParse(t, tt.expr))[0]
			if v.Skipped {
				t.Fatalf("skipped: %s", v.Note)
			}
			// durations to the histogram's precision (0.1%)
			if math.Abs(v.Observed-tt.observed) > tt.observed/1000 || v.Pass != tt.pass {
				t.Fatalf("observed %v pass %v, want %v %v", v.Observed, v.Pass, tt.observed, tt.pass)
			}
		})
	}
	// A run of copies has no virtual users: skipped, not breached.
	copies := run(time.Second, httpResults(10, func(int) time.Duration { return time.Millisecond }, func(int) int { return 200 })...)
	for _, expr := range []string{"vus>=1", "vus_max>=1", "iterations>=1", "iteration_duration.p95<1s"} {
		if v := Evaluate(copies, mustParse(t, expr))[0]; !v.Skipped {
			t.Errorf("%s on a run of copies: %+v, want skipped", expr, v)
		}
	}
}

func TestVUThresholdsParse(t *testing.T) {
	for expr, want := range map[string]Threshold{
		"vus>=100":                     {Metric: MetricVUs, Op: ">=", Limit: 100, Kind: KindCount},
		"users>=100":                   {Metric: MetricVUs, Op: ">=", Limit: 100, Kind: KindCount},
		"vus_max==200":                 {Metric: MetricVUsMax, Op: "==", Limit: 200, Kind: KindCount},
		"iterations>=100":              {Metric: MetricIterations, Stat: "count", Op: ">=", Limit: 100, Kind: KindCount},
		"iterations.rate>=2/s":         {Metric: MetricIterations, Stat: "rate", Op: ">=", Limit: 2, Kind: KindRate, RateUnit: "s"},
		"iteration_duration.p95<10s":   {Metric: MetricIterDuration, Stat: "p(95)", Percentile: 95, Op: "<", Limit: 10000, Kind: KindDuration},
		"iteration_duration.p(99)<20s": {Metric: MetricIterDuration, Stat: "p(99)", Percentile: 99, Op: "<", Limit: 20000, Kind: KindDuration},
	} {
		ts, err := ParseThresholds([]string{expr})
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		want.Expr = expr
		if ts[0] != want {
			t.Errorf("%s: %+v, want %+v", expr, ts[0], want)
		}
	}
	for expr, msg := range map[string]string{
		"iterations.p95<1s":                  "takes .count or .rate",
		"iteration_duration<10s":             "needs a statistic",
		"GET /health: iterations>=1":         "whole run only",
		"GET /health: vus>=1":                "whole run only",
		"/health: iteration_duration.p95<1s": "whole run only",
	} {
		if _, err := ParseThresholds([]string{expr}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err = %v, want %q", expr, err, msg)
		}
	}
}
