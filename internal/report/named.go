package report

import (
	"fmt"
	"sort"
	"strings"
)

// namedSets are the threshold sets shipped with reprise, by name.
func namedSets() map[string][]string {
	return map[string][]string{
		// The Happy Server Workers acceptance criteria (HAP-19) and their
		// expected results by endpoint, from their k6 load-testing README.
		"hap-19": {
			// Concurrent Users: 100+ sustained
			"flows>=100",
			// Request Rate: 1,000+ req/min
			"rate>=1000/min",
			// P95 < 500ms, P99 < 1000ms
			"p95<500ms",
			"p99<1000ms",
			// Error Rate < 1%
			"error_rate<1%",
			"GET /health: p95<50ms, p99<100ms",
			"GET /v1/sessions: p95<200ms, p99<400ms",
			"POST /v1/sessions: p95<300ms, p99<500ms",
			"GET /v1/machines: p95<200ms, p99<400ms",
			"GET /v1/artifacts: p95<200ms, p99<400ms",
			"GET /v1/websocket/stats: p95<100ms, p99<200ms",
			"POST /v1/websocket/broadcast: p95<200ms, p99<400ms",
		},
	}
}

// NamedSets lists the names of the shipped threshold sets.
func NamedSets() []string {
	var names []string
	for n := range namedSets() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NamedSetExprs returns the expressions of a shipped set, for display.
func NamedSetExprs(name string) ([]string, bool) {
	e, ok := namedSets()[strings.ToLower(name)]
	return e, ok
}

// NamedSet returns a shipped threshold set ("hap-19"). Its per-endpoint
// thresholds are optional: an endpoint the corpus does not have is
// skipped, not an error.
func NamedSet(name string) (Thresholds, error) {
	exprs, ok := NamedSetExprs(name)
	if !ok {
		return nil, fmt.Errorf("no threshold set %q (known: %s)", name, strings.Join(NamedSets(), ", "))
	}
	ts, err := ParseThresholds(exprs)
	if err != nil {
		return nil, fmt.Errorf("threshold set %s: %w", name, err)
	}
	for i := range ts {
		if ts[i].Endpoint != "" {
			ts[i].Optional = true
		}
	}
	return ts, nil
}

// Resolve turns command-line threshold arguments into thresholds: each
// argument is a named set ("hap-19") or an expression.
func Resolve(args []string) (Thresholds, error) {
	var out Thresholds
	for _, a := range args {
		if _, ok := NamedSetExprs(strings.TrimSpace(a)); ok {
			ts, err := NamedSet(strings.TrimSpace(a))
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
			continue
		}
		ts, err := ParseThresholds([]string{a})
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}
