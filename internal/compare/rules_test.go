package compare

import (
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		expr     string
		endpoint string
		metric   string
		op       string
		value    float64
		relative bool
	}{
		{"p95>+10%", "", "latency.p95", ">", 0.10, true},
		{"p95>10%", "", "latency.p95", ">", 0.10, true},
		{"p(99) >= +5ms", "", "latency.p99", ">=", 5, false},
		{"latency.mean>+250us", "", "latency.mean", ">", 0.25, false},
		{"service.p50>+1s", "", "service.p50", ">", 1000, false},
		{"avg>+3", "", "latency.mean", ">", 3, false},
		{"ws_roundtrip.p99>+20%", "", "ws_roundtrip.p99", ">", 0.20, true},
		{"error_rate>+0.5pp", "", "error_rate", ">", 0.005, false},
		{"errors>+50%", "", "error_rate", ">", 0.5, true},
		{"rate<-10%", "", "rate", "<", -0.10, true},
		{"rate<=-100/min", "", "rate", "<=", -100.0 / 60, false},
		{"shape_checks<-1pp", "", "shape_checks", "<", -0.01, false},
		{"GET /v1/sessions: p95>+20%", "GET /v1/sessions", "latency.p95", ">", 0.20, true},
		{"WS /v1/updates: ws_connecting.p95>+10ms", "WS /v1/updates", "ws_connecting.p95", ">", 10, false},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			rs, err := ParseRules([]string{tc.expr})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Endpoint != tc.endpoint || r.Metric != tc.metric || r.Op != tc.op || !near(r.Value, tc.value, 1e-12) || r.Relative != tc.relative {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "empty"},
		{"p95+10%", "no comparison"},
		{"p97>+10%", "unknown metric or statistic"},
		{"bogus.p95>+1ms", `unknown metric "bogus"`},
		{"p95>-10%", "plus sign"},
		{"rate<+10%", "minus sign"},
		{"rate<10%", "written with a minus sign"},
		{"p95>+ten", "not a number"},
		{"p95>+10kg", `unit "kg"`},
		{"error_rate>+1ms", `unit "ms"`},
		{"rate<-5pp", `unit "pp"`},
		{"p95>>1", "more than one comparison"},
		{": p95>1", "empty endpoint"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseRules([]string{tc.expr})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines")
			}
		})
	}
}

func TestCheckRules(t *testing.T) {
	rs, _ := ParseRules([]string{"p95>+10%", "GET /x: p95>+10%"})
	if err := CheckRules(rs, []string{"GET /x", "GET /y"}); err != nil {
		t.Error(err)
	}
	err := CheckRules(rs, []string{"GET /y"})
	if err == nil || !strings.Contains(err.Error(), `no endpoint "GET /x"`) || !strings.Contains(err.Error(), "known: GET /y") {
		t.Errorf("error = %v", err)
	}
}

func TestRuleBreached(t *testing.T) {
	rs, _ := ParseRules([]string{"p95>+10%", "rate<-5/s", "error_rate>=+1pp"})
	for _, tc := range []struct {
		rule       int
		delta, rel float64
		want       bool
	}{
		{0, 5, 0.2, true}, {0, 5, 0.05, false}, {0, -5, -0.2, false},
		{0, 5, nan(), true}, // from zero
		{1, -6, -0.5, true}, {1, -4, -0.5, false}, {1, 10, 1, false},
		{2, 0.01, nan(), true}, {2, 0.009, 9, false},
	} {
		if got := rs[tc.rule].breached(tc.delta, tc.rel); got != tc.want {
			t.Errorf("%s breached(%v, %v) = %v", rs[tc.rule].Expr, tc.delta, tc.rel, got)
		}
	}
}

func nan() float64 { var z float64; return z / z }

// FuzzParseRules: any input parses or fails with one line, never panics;
// what parses is a known metric with a comparison, and parses again the
// same from its own expression.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"p95>+10%", "GET /v1/sessions: error_rate>+0.5pp", "rate<-10/min", "service.p(99)>=+2s", "a: b: c<-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		rs, err := ParseRules([]string{expr})
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(expr, "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		r := rs[0]
		if _, ok := metricUnit(r.Metric); !ok {
			t.Fatalf("parsed to unknown metric %q", r.Metric)
		}
		if !strings.HasPrefix(r.Op, ">") && !strings.HasPrefix(r.Op, "<") {
			t.Fatalf("op %q", r.Op)
		}
		again, err := ParseRules([]string{r.Expr})
		if err != nil || again[0] != r {
			t.Fatalf("reparse of %q: %+v, %v", r.Expr, again, err)
		}
	})
}
