package compare

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Rule is a user's definition of a regression for one metric
// (--threshold-delta): "p95>+10%" flags a p95 more than 10% higher in B,
// "GET /v1/sessions: error_rate>+0.5pp" an error rate half a percentage
// point higher on that endpoint. A rule replaces the default practical
// threshold for regressions of its metric (on its endpoint, or on every
// endpoint and the overall stats when it names none); the change must
// still be statistically significant.
type Rule struct {
	// Expr is the rule as written.
	Expr string `json:"expr"`
	// Endpoint is the endpoint it applies to; "" for all.
	Endpoint string `json:"endpoint,omitempty"`
	// Metric is the comparison key: "latency.p95", "service.mean",
	// "ws_roundtrip.p99", "error_rate", "rate", "checks", "shape_checks".
	Metric string `json:"metric"`
	// Op is >, >=, < or <=.
	Op string `json:"op"`
	// Value is the change limit: a ratio of A's value when Relative
	// (0.10 for +10%), else in the metric's unit (milliseconds, a ratio
	// for rates of failure, requests per second).
	Value    float64 `json:"value"`
	Relative bool    `json:"relative"`
}

// metricKinds maps each comparable metric key to its unit.
func metricUnit(key string) (string, bool) {
	switch key {
	case "error_rate", "checks", "shape_checks":
		return unitRatio, true
	case "rate":
		return unitRate, true
	}
	fam, stat, ok := strings.Cut(key, ".")
	if !ok {
		return "", false
	}
	switch fam {
	case "latency", "service", "ws_connecting", "ws_roundtrip", "ws_push_delivery":
	default:
		return "", false
	}
	switch stat {
	case "p50", "p90", "p95", "p99", "mean":
		return unitMS, true
	}
	return "", false
}

// metricAliases are the spellings accepted for metric keys.
var metricAliases = map[string]string{
	"latency": "latency", "duration": "latency", "http_req_duration": "latency",
	"service": "service", "http_req_service": "service",
	"ws_connecting": "ws_connecting", "ws_roundtrip": "ws_roundtrip", "ws_push_delivery": "ws_push_delivery", "ws_push": "ws_push_delivery",
}

var statAliases = map[string]string{
	"p50": "p50", "med": "p50", "median": "p50", "p(50)": "p50",
	"p90": "p90", "p(90)": "p90", "p95": "p95", "p(95)": "p95", "p99": "p99", "p(99)": "p99",
	"mean": "mean", "avg": "mean",
}

// metricKey normalizes a rule's metric: "p95" and "latency.p(95)" are
// "latency.p95"; "errors" and "http_req_failed" are "error_rate".
func metricKey(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	switch l {
	case "error_rate", "errors", "http_req_failed":
		return "error_rate", nil
	case "rate", "http_reqs", "reqs", "requests":
		return "rate", nil
	case "checks":
		return "checks", nil
	case "shape_checks", "shapes":
		return "shape_checks", nil
	}
	fam, stat := "latency", l
	if f, st, ok := strings.Cut(l, "."); ok {
		m, known := metricAliases[f]
		if !known {
			return "", fmt.Errorf("unknown metric %q (want latency, service, ws_connecting, ws_roundtrip or ws_push_delivery before the dot)", f)
		}
		fam, stat = m, st
	}
	st, ok := statAliases[stat]
	if !ok {
		return "", fmt.Errorf("unknown metric or statistic %q (want p50, p90, p95, p99, mean, error_rate, rate, checks, shape_checks, or service.p95 and the like)", s)
	}
	return fam + "." + st, nil
}

// ParseRules parses --threshold-delta expressions:
//
//	[ENDPOINT ": "] METRIC OP CHANGE
//
// METRIC is p50, p90, p95, p99 or mean (of latency; service.p95,
// ws_roundtrip.p99 and the like for the others), error_rate, rate,
// checks or shape_checks. OP is >, >=, < or <=: "> +10%" flags an
// increase beyond 10%, "< -10%" a decrease beyond 10%. CHANGE is signed
// (the sign may be left out after > and >=) and relative with % or
// absolute with a unit: 5ms, 1s, 250us for durations; 0.5pp (percentage
// points) for error_rate, checks and shape_checks; 20/s for rate.
func ParseRules(exprs []string) ([]Rule, error) {
	var out []Rule
	for _, e := range exprs {
		r, err := parseRule(e)
		if err != nil {
			return nil, fmt.Errorf("threshold delta %q: %w", e, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(e string) (Rule, error) {
	r := Rule{Expr: strings.TrimSpace(e)}
	s := r.Expr
	if s == "" {
		return r, errors.New("empty rule")
	}
	if i := strings.Index(s, ": "); i >= 0 {
		r.Endpoint = strings.Join(strings.Fields(s[:i]), " ")
		s = strings.TrimSpace(s[i+2:])
		if r.Endpoint == "" {
			return r, errors.New(`empty endpoint before ":"`)
		}
	}
	opAt := strings.IndexAny(s, "<>")
	if opAt < 0 {
		return r, errors.New("no comparison (want > or <, as in p95>+10%)")
	}
	r.Op = s[opAt : opAt+1]
	rest := s[opAt+1:]
	if strings.HasPrefix(rest, "=") {
		r.Op += "="
		rest = rest[1:]
	}
	key, err := metricKey(s[:opAt])
	if err != nil {
		return r, err
	}
	r.Metric = key
	unit, _ := metricUnit(key)
	rest = strings.TrimSpace(rest)
	if strings.ContainsAny(rest, "<>=") {
		return r, errors.New("more than one comparison")
	}
	sign := 0.0
	switch {
	case strings.HasPrefix(rest, "+"):
		sign, rest = 1, rest[1:]
	case strings.HasPrefix(rest, "-"):
		sign, rest = -1, rest[1:]
	}
	i := 0
	for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
		i++
	}
	num, suffix := rest[:i], strings.TrimSpace(rest[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return r, fmt.Errorf("change %q is not a number with a unit (want +10%%, +5ms, +0.5pp)", rest)
	}
	up := r.Op[0] == '>'
	switch {
	case sign == 0 && up:
		sign = 1
	case sign == 0:
		return r, fmt.Errorf("a decrease is written with a minus sign, as in %s<-%s", s[:opAt], rest)
	case sign < 0 && up && v != 0:
		return r, fmt.Errorf("%s flags an increase: write the change with a plus sign, or use < for a decrease", r.Op)
	case sign > 0 && !up && v != 0:
		return r, fmt.Errorf("%s flags a decrease: write the change with a minus sign, or use > for an increase", r.Op)
	}
	if suffix == "%" {
		r.Relative, r.Value = true, sign*v/100
		return r, nil
	}
	switch unit {
	case unitMS:
		scale, ok := map[string]float64{"": 1, "ms": 1, "us": 1e-3, "µs": 1e-3, "s": 1e3}[suffix]
		if !ok {
			return r, fmt.Errorf("unit %q: want %% or a duration unit (ms, s, us)", suffix)
		}
		r.Value = sign * v * scale
	case unitRatio:
		if suffix != "pp" {
			return r, fmt.Errorf("unit %q: want %% (relative) or pp (percentage points)", suffix)
		}
		r.Value = sign * v / 100
	case unitRate:
		scale, ok := map[string]float64{"": 1, "/s": 1, "/min": 1.0 / 60, "/h": 1.0 / 3600}[suffix]
		if !ok {
			return r, fmt.Errorf("unit %q: want %% or a rate unit (/s, /min)", suffix)
		}
		r.Value = sign * v * scale
	}
	return r, nil
}

// CheckRules verifies that every rule's endpoint is one of known (the
// endpoints of either run); the error lists them.
func CheckRules(rules []Rule, known []string) error {
	set := map[string]bool{}
	for _, k := range known {
		set[k] = true
	}
	for _, r := range rules {
		if r.Endpoint == "" || set[r.Endpoint] {
			continue
		}
		sorted := append([]string(nil), known...)
		sort.Strings(sorted)
		return fmt.Errorf("threshold delta %q: no endpoint %q in either run (known: %s)", r.Expr, r.Endpoint, strings.Join(sorted, ", "))
	}
	return nil
}

// breached reports whether a change (delta, and relative to A: rel, NaN
// when A is zero) meets the rule.
func (r Rule) breached(delta, rel float64) bool {
	v := delta
	if r.Relative {
		v = rel
		if math.IsNaN(rel) {
			// from zero: any change is infinitely large
			switch {
			case delta > 0:
				v = math.Inf(1)
			case delta < 0:
				v = math.Inf(-1)
			default:
				v = 0
			}
		}
	}
	switch r.Op {
	case ">":
		return v > r.Value
	case ">=":
		return v >= r.Value
	case "<":
		return v < r.Value
	case "<=":
		return v <= r.Value
	}
	return false
}

// rulesFor returns the rules for a metric on an endpoint: the endpoint's
// own when it has any, else the general ones.
func rulesFor(rules []Rule, endpoint, key string) []Rule {
	var own, general []Rule
	for _, r := range rules {
		if r.Metric != key {
			continue
		}
		switch r.Endpoint {
		case endpoint:
			if endpoint != "" {
				own = append(own, r)
			} else {
				general = append(general, r)
			}
		case "":
			general = append(general, r)
		}
	}
	if len(own) > 0 {
		return own
	}
	return general
}
