package report

import (
	"strings"
	"testing"
)

// FuzzParseThresholds: no panic, errors on one line, and every parsed
// threshold's Expr parses again to the same threshold.
func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{
		"p95<500ms", "p(99.9)<2s", "error_rate<1%", "rate>=1000/min", "checks>99%",
		"GET /health: p95<50ms, p99<100ms", "ws_msgs_received>=99%", "service.p99<1s",
		"WS /v1/updates [user-scoped]: ws_roundtrip.p95<10ms", "http_reqs.count>=1", "p95<<1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		ts, err := ParseThresholds([]string{expr})
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(expr, "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		for _, th := range ts {
			again, err := ParseThresholds([]string{th.Expr})
			if err != nil {
				t.Fatalf("%q parsed, its Expr %q does not: %v", expr, th.Expr, err)
			}
			if len(again) != 1 {
				t.Fatalf("Expr %q gives %d thresholds", th.Expr, len(again))
			}
			a := again[0]
			if a.Endpoint != th.Endpoint || a.Metric != th.Metric || a.Stat != th.Stat || a.Op != th.Op || a.Limit != th.Limit || a.Kind != th.Kind {
				t.Fatalf("%q re-parses differently:\n%+v\n%+v", th.Expr, th, a)
			}
			_ = formatValue(th, th.Limit)
		}
	})
}
