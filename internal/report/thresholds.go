package report

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/metrics"
)

// Kind is what a threshold's value measures, which decides the units its
// limit may be written in.
type Kind int

// Threshold kinds.
const (
	// KindDuration limits are durations: 500ms, 1s, 250us; a bare number
	// is milliseconds (as in k6).
	KindDuration Kind = iota + 1
	// KindRatio limits are ratios: 1%, or a bare number from 0 to 1.
	KindRatio
	// KindRate limits are rates: 1000/min, 20/s, 5000/h; a bare number is
	// per second.
	KindRate
	// KindCount limits are plain numbers.
	KindCount
)

// Metric names a measured quantity that thresholds can limit.
type Metric string

// Metrics thresholds know. Distribution metrics take a statistic (p95,
// avg, ...); the others are a single value.
const (
	MetricDuration     Metric = "http_req_duration"   // latency, from the intended send time
	MetricService      Metric = "http_req_service"    // service time, from the actual send
	MetricConnecting   Metric = "http_req_connecting" // TCP dial
	MetricBlocked      Metric = "http_req_blocked"    // waiting for a pooled connection
	MetricTLS          Metric = "http_req_tls_handshaking"
	MetricSending      Metric = "http_req_sending"
	MetricWaiting      Metric = "http_req_waiting"   // time to first byte after the request is written
	MetricReceiving    Metric = "http_req_receiving" // first byte to the end of the body
	MetricScheduleLag  Metric = "schedule_lag"       // Sent - Intended
	MetricFailed       Metric = "http_req_failed"    // ratio of failed HTTP results
	MetricReqRate      Metric = "http_reqs"          // requests per second (rate) or count
	MetricChecks       Metric = "checks"             // ratio of checks passed
	MetricShapeChecks  Metric = "shape_checks"       // ratio of response shapes as recorded
	MetricFlows        Metric = "flows"              // concurrent flows (median per second)
	MetricVUs          Metric = "vus"                // virtual users running (median per second)
	MetricVUsMax       Metric = "vus_max"            // virtual users of the run
	MetricIterations   Metric = "iterations"         // whole VU iterations: count (default) or rate
	MetricIterDuration Metric = "iteration_duration" // duration of whole VU iterations
	MetricWSConnecting Metric = "ws_connecting"
	MetricWSSession    Metric = "ws_session_duration"
	MetricWSRoundTrip  Metric = "ws_roundtrip"
	MetricWSPush       Metric = "ws_push_delivery"
	MetricWSReceived   Metric = "ws_msgs_received" // ratio of recorded server messages received
	MetricWSSessions   Metric = "ws_sessions"      // count
	MetricWSSent       Metric = "ws_msgs_sent"     // count
)

// metricAliases maps every accepted spelling to its metric.
var metricAliases = map[string]Metric{
	"http_req_duration": MetricDuration, "latency": MetricDuration, "duration": MetricDuration,
	"http_req_service": MetricService, "service": MetricService,
	"http_req_connecting": MetricConnecting, "connecting": MetricConnecting,
	"http_req_blocked": MetricBlocked, "blocked": MetricBlocked,
	"http_req_tls_handshaking": MetricTLS, "tls_handshaking": MetricTLS, "tls": MetricTLS,
	"http_req_sending": MetricSending, "sending": MetricSending,
	"http_req_waiting": MetricWaiting, "waiting": MetricWaiting, "ttfb": MetricWaiting,
	"http_req_receiving": MetricReceiving, "receiving": MetricReceiving,
	"schedule_lag": MetricScheduleLag, "lag": MetricScheduleLag,
	"http_req_failed": MetricFailed, "error_rate": MetricFailed, "errors": MetricFailed,
	"http_reqs": MetricReqRate, "rate": MetricReqRate, "reqs": MetricReqRate, "requests": MetricReqRate,
	"checks": MetricChecks, "shape_checks": MetricShapeChecks,
	"flows": MetricFlows, "vus": MetricVUs, "users": MetricVUs, "vus_max": MetricVUsMax,
	"iterations": MetricIterations, "iteration_duration": MetricIterDuration,
	"ws_connecting": MetricWSConnecting, "ws_session_duration": MetricWSSession,
	"ws_roundtrip": MetricWSRoundTrip, "ws_push_delivery": MetricWSPush, "ws_push": MetricWSPush,
	"ws_msgs_received": MetricWSReceived, "ws_sessions": MetricWSSessions, "ws_msgs_sent": MetricWSSent,
}

func (m Metric) isDist() bool {
	switch m {
	case MetricDuration, MetricService, MetricConnecting, MetricScheduleLag,
		MetricBlocked, MetricTLS, MetricSending, MetricWaiting, MetricReceiving,
		MetricWSConnecting, MetricWSSession, MetricWSRoundTrip, MetricWSPush, MetricIterDuration:
		return true
	}
	return false
}

func (m Metric) overallOnly() bool {
	switch m {
	case MetricConnecting, MetricScheduleLag, MetricFlows, MetricVUs, MetricVUsMax, MetricIterations, MetricIterDuration,
		MetricBlocked, MetricTLS, MetricSending, MetricWaiting, MetricReceiving:
		return true
	}
	return false
}

// Threshold is one parsed limit.
type Threshold struct {
	// Expr is the condition as written (with its endpoint, if any).
	Expr string
	// Endpoint is the endpoint it applies to ("GET /health", or a template
	// without method "/health" for every method, or with a label
	// "WS /v1/updates [user-scoped]"); "" for the whole run.
	Endpoint string
	Metric   Metric
	// Stat is the statistic of a distribution metric: "avg", "min", "med",
	// "max" or "p(N)"; "rate" or "count" for http_reqs; "" otherwise.
	Stat string
	// Percentile is N of "p(N)".
	Percentile float64
	Op         string
	// Limit is in the metric's base unit: milliseconds, a ratio, per
	// second, or a count.
	Limit float64
	Kind  Kind
	// RateUnit is how a rate limit was written ("s", "min", "h"), for
	// display.
	RateUnit string
	// Optional thresholds (from a named set) apply only when the endpoint
	// exists: Check does not require it.
	Optional bool
}

// Thresholds is a list of thresholds.
type Thresholds []Threshold

// ParseThresholds parses threshold expressions. Each element is
//
//	[ENDPOINT ": "] CONDITION {"," CONDITION}
//
// where ENDPOINT is an endpoint name as the report prints it ("GET
// /v1/sessions", "WS /v1/updates [user-scoped]") or a template alone
// ("/health", every method together), and CONDITION is
//
//	[METRIC "."] STAT OP VALUE   for a distribution metric (default http_req_duration)
//	METRIC OP VALUE              for the others
//
// STAT is avg, min, med, max, pN or p(N); OP is <, <=, >, >= or ==. Bare
// forms: "p95<500ms", "avg<200ms", "error_rate<1%", "rate>=1000/min",
// "checks>99%", "flows>=100", "vus>=100", "iterations>=500",
// "iteration_duration.p95<10s". See the package documentation for every
// metric and unit. An element that does not parse gives an error naming
// it and the problem.
func ParseThresholds(exprs []string) (Thresholds, error) {
	var out Thresholds
	for _, e := range exprs {
		ts, err := parseElement(e)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

func parseElement(e string) ([]Threshold, error) {
	s := strings.TrimSpace(e)
	if s == "" {
		return nil, errors.New("threshold: empty expression")
	}
	var endpoint string
	// The endpoint ends at the first ":" followed by white space (a
	// template has none: "/v1/kv/{key}").
	if i := endpointEnd(s); i >= 0 {
		endpoint = strings.Join(strings.Fields(s[:i]), " ")
		_, n := utf8.DecodeRuneInString(s[i+1:])
		s = s[i+1+n:]
		if endpoint == "" {
			return nil, fmt.Errorf("threshold %q: empty endpoint before \":\"", e)
		}
		if err := checkEndpointSyntax(endpoint); err != nil {
			return nil, fmt.Errorf("threshold %q: %w", e, err)
		}
	}
	var out []Threshold
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, fmt.Errorf("threshold %q: empty condition", e)
		}
		t, err := parseCondition(c)
		if err != nil {
			return nil, fmt.Errorf("threshold %q: %w", e, err)
		}
		t.Endpoint = endpoint
		if endpoint != "" {
			if t.Metric.overallOnly() {
				return nil, fmt.Errorf("threshold %q: %s is measured for the whole run only, not per endpoint", e, t.Metric)
			}
			t.Expr = endpoint + ": " + c
		} else {
			t.Expr = c
		}
		out = append(out, t)
	}
	return out, nil
}

// endpointEnd returns the index of the first ':' that white space (as
// strings.Fields sees it) follows in s, where an endpoint ends: a template
// has none, as in "/v1/kv/{key}". It returns -1 when there is none.
func endpointEnd(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ':' {
			if r, _ := utf8.DecodeRuneInString(s[i+1:]); unicode.IsSpace(r) {
				return i
			}
		}
	}
	return -1
}

func checkEndpointSyntax(ep string) error {
	name, _ := metrics.SplitLabel(ep)
	if strings.HasPrefix(name, "/") || name == "OTHER" {
		return nil
	}
	method, path, ok := strings.Cut(name, " ")
	if !ok || !strings.HasPrefix(path, "/") && path != "OTHER" {
		return fmt.Errorf("endpoint %q is not \"METHOD /template\" (for example \"GET /v1/sessions\")", ep)
	}
	for _, c := range method {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("endpoint %q: method %q is not upper-case (for example \"GET /v1/sessions\")", ep, method)
		}
	}
	return nil
}

var ops = []string{"<=", ">=", "==", "<", ">"}

func parseCondition(c string) (Threshold, error) {
	var t Threshold
	opAt, op := -1, ""
	for i := 0; i < len(c); i++ {
		for _, o := range ops {
			if strings.HasPrefix(c[i:], o) {
				opAt, op = i, o
				break
			}
		}
		if opAt >= 0 {
			break
		}
	}
	if opAt < 0 {
		return t, fmt.Errorf("no comparison in %q (want one of <, <=, >, >=, ==, as in p95<500ms)", c)
	}
	lhs := strings.TrimSpace(c[:opAt])
	rhs := strings.TrimSpace(c[opAt+len(op):])
	t.Op = op
	if lhs == "" {
		return t, fmt.Errorf("nothing before %q in %q", op, c)
	}
	if rhs == "" {
		return t, fmt.Errorf("no limit after %q in %q", op, c)
	}
	if strings.ContainsAny(rhs, "<>=") {
		return t, fmt.Errorf("more than one comparison in %q", c)
	}
	if err := parseLHS(lhs, &t); err != nil {
		return t, err
	}
	v, unit, err := parseValue(rhs, t.Kind)
	if err != nil {
		return t, err
	}
	if t.Kind == KindDuration && v > maxDurationMS {
		return t, fmt.Errorf("limit %q in %q is over the %s a histogram holds", rhs, c, time.Hour)
	}
	t.Limit, t.RateUnit = v, unit
	return t, nil
}

// maxDurationMS is the largest duration limit, in milliseconds: the
// histograms hold values up to an hour.
const maxDurationMS = float64(time.Hour / time.Millisecond)

// parseLHS reads METRIC, METRIC.STAT or STAT.
func parseLHS(lhs string, t *Threshold) error {
	name, stat, hasDot := lhs, "", false
	// a dot starts a statistic unless it is inside p(99.9) or p99.9
	if i := strings.IndexByte(lhs, '.'); i >= 0 {
		if _, ok := metricAliases[strings.ToLower(lhs[:i])]; ok {
			name, stat, hasDot = lhs[:i], lhs[i+1:], true
		}
	}
	if !hasDot {
		if m, ok := metricAliases[strings.ToLower(lhs)]; ok {
			return setMetric(t, m, "")
		}
		// a bare statistic: latency
		if _, _, ok := parseStat(lhs); ok {
			return setMetric(t, MetricDuration, lhs)
		}
		return fmt.Errorf("unknown metric or statistic %q (want p95, p(99.9), avg, min, med, max, error_rate, rate, checks, shape_checks, flows, vus, iterations, or METRIC.STAT such as service.p95 or iteration_duration.p95)", lhs)
	}
	return setMetric(t, metricAliases[strings.ToLower(name)], stat)
}

func setMetric(t *Threshold, m Metric, stat string) error {
	t.Metric = m
	switch {
	case m.isDist():
		t.Kind = KindDuration
		if stat == "" {
			return fmt.Errorf("%s needs a statistic, as in %s.p95 (avg, min, med, max, pN, p(N))", m, m)
		}
		s, p, ok := parseStat(stat)
		if !ok {
			return fmt.Errorf("unknown statistic %q (want avg, min, med, max, pN or p(N))", stat)
		}
		t.Stat, t.Percentile = s, p
	case m == MetricReqRate:
		switch strings.ToLower(stat) {
		case "", "rate":
			t.Stat, t.Kind = "rate", KindRate
		case "count":
			t.Stat, t.Kind = "count", KindCount
		default:
			return fmt.Errorf("%s takes .rate or .count, not %q", m, stat)
		}
	case m == MetricIterations:
		switch strings.ToLower(stat) {
		case "", "count":
			t.Stat, t.Kind = "count", KindCount
		case "rate":
			t.Stat, t.Kind = "rate", KindRate
		default:
			return fmt.Errorf("%s takes .count or .rate, not %q", m, stat)
		}
	case stat != "":
		return fmt.Errorf("%s takes no statistic (%q)", m, stat)
	case m == MetricFailed || m == MetricChecks || m == MetricShapeChecks || m == MetricWSReceived:
		t.Kind = KindRatio
	default:
		t.Kind = KindCount
	}
	return nil
}

// parseStat reads avg, min, med, max, pN, p(N); it returns the canonical
// name and the percentile.
func parseStat(s string) (string, float64, bool) {
	switch strings.ToLower(s) {
	case "avg", "mean":
		return "avg", 0, true
	case "min":
		return "min", 0, true
	case "med", "median":
		return "med", 50, true
	case "max":
		return "max", 0, true
	}
	if len(s) < 2 || s[0] != 'p' && s[0] != 'P' {
		return "", 0, false
	}
	num := s[1:]
	if strings.HasPrefix(num, "(") {
		if !strings.HasSuffix(num, ")") {
			return "", 0, false
		}
		num = num[1 : len(num)-1]
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(p) || p <= 0 || p > 100 || strings.ContainsAny(num, "eExX+-_") {
		return "", 0, false
	}
	return "p(" + strconv.FormatFloat(p, 'f', -1, 64) + ")", p, true
}

// parseValue reads a limit for kind; it returns the value in the base
// unit and, for rates, the unit written.
func parseValue(v string, k Kind) (float64, string, error) {
	num, unit := splitNumber(v)
	if num == "" {
		return 0, "", fmt.Errorf("limit %q is not a number", v)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "", fmt.Errorf("limit %q is not a number", v)
	}
	if f < 0 {
		return 0, "", fmt.Errorf("limit %q is negative", v)
	}
	unit = strings.TrimSpace(unit)
	switch k {
	case KindDuration:
		if unit == "" {
			return f, "", nil // milliseconds, as in k6
		}
		scale, ok := map[string]float64{"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1, "s": 1e3, "m": 60e3, "min": 60e3, "h": 3600e3}[unit]
		if !ok {
			return 0, "", fmt.Errorf("limit %q: unknown duration unit %q (want us, ms, s, m)", v, unit)
		}
		return f * scale, "", nil
	case KindRatio:
		switch unit {
		case "%":
			if f > 100 {
				return 0, "", fmt.Errorf("limit %q is over 100%%", v)
			}
			return f / 100, "", nil
		case "":
			if f > 1 {
				return 0, "", fmt.Errorf("limit %q: a ratio is 0 to 1, or a percentage such as %g%%", v, f)
			}
			return f, "", nil
		}
		return 0, "", fmt.Errorf("limit %q: want a percentage (1%%) or a ratio (0.01)", v)
	case KindRate:
		u := strings.TrimPrefix(unit, "/")
		switch u {
		case "", "s", "sec", "second":
			return f, "s", nil
		case "m", "min", "minute":
			return f / 60, "min", nil
		case "h", "hour":
			return f / 3600, "h", nil
		}
		return 0, "", fmt.Errorf("limit %q: unknown rate unit %q (want /s, /min or /h)", v, unit)
	default:
		if unit != "" {
			return 0, "", fmt.Errorf("limit %q takes no unit", v)
		}
		return f, "", nil
	}
}

func splitNumber(v string) (string, string) {
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	return v[:i], v[i:]
}

// Check verifies that every non-optional threshold's endpoint is one of
// known (the endpoint names routes learned from the corpus); the error
// lists the known names. A template without method ("/health") matches
// any known endpoint with that template, and a label is ignored.
func (ts Thresholds) Check(known []string) error {
	set := map[string]bool{}
	tmpl := map[string]bool{}
	for _, k := range known {
		set[k] = true
		if _, p, ok := strings.Cut(k, " "); ok {
			tmpl[p] = true
		}
	}
	for _, t := range ts {
		if t.Endpoint == "" || t.Optional {
			continue
		}
		name, _ := metrics.SplitLabel(t.Endpoint)
		if set[name] || strings.HasPrefix(name, "/") && tmpl[name] {
			continue
		}
		sorted := append([]string(nil), known...)
		sort.Strings(sorted)
		return fmt.Errorf("threshold %q: no endpoint %q in this corpus (known: %s)", t.Expr, name, strings.Join(sorted, ", "))
	}
	return nil
}

func formatValue(t Threshold, v float64) string {
	switch t.Kind {
	case KindDuration:
		return formatDuration(time.Duration(v * float64(time.Millisecond)))
	case KindRatio:
		return formatPercent(v)
	case KindRate:
		switch t.RateUnit {
		case "min":
			return trimFloat(v*60, 2) + "/min"
		case "h":
			return trimFloat(v*3600, 2) + "/h"
		}
		return trimFloat(v, 2) + "/s"
	}
	return trimFloat(v, 2)
}

// metricLabel names what a threshold measures: "http_req_duration p(95)".
func (t Threshold) metricLabel() string {
	switch {
	case t.Metric == MetricFlows:
		return "flows (median per second)"
	case t.Metric == MetricVUs:
		return "vus (median per second)"
	case t.Metric == MetricWSReceived:
		return "ws_msgs_received of recorded"
	case t.Stat != "":
		return string(t.Metric) + " " + t.Stat
	}
	return string(t.Metric)
}

func compare(v float64, op string, limit float64) bool {
	switch op {
	case "<":
		return v < limit
	case "<=":
		return v <= limit
	case ">":
		return v > limit
	case ">=":
		return v >= limit
	case "==":
		return v == limit
	}
	return false
}
