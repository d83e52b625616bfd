package report

import (
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// Verdict is the outcome of one threshold.
type Verdict struct {
	Threshold
	// Observed is the measured value in the metric's base unit
	// (milliseconds, ratio, per second, count).
	Observed float64
	// Pass is true when the observed value meets the limit.
	Pass bool
	// Skipped is true when there was nothing to measure (an endpoint with
	// no requests, a run without WebSocket traffic): neither pass nor
	// breach.
	Skipped bool
	// Note says why a verdict was skipped.
	Note string
}

// Verdicts are the outcomes of a list of thresholds, in its order.
type Verdicts []Verdict

// Failed counts the breached thresholds.
func (vs Verdicts) Failed() int {
	n := 0
	for _, v := range vs {
		if !v.Pass && !v.Skipped {
			n++
		}
	}
	return n
}

// Breached describes the breached verdicts ("error_rate<10%
// (http_req_failed=35.00%)"), joined by "; ", or "" when none is.
func (vs Verdicts) Breached() string {
	var out []string
	for _, v := range vs {
		if !v.Pass && !v.Skipped {
			out = append(out, v.Expr+" ("+v.metricLabel()+"="+formatValue(v.Threshold, v.Observed)+")")
		}
	}
	return strings.Join(out, "; ")
}

// Skipped counts the thresholds without data.
func (vs Verdicts) Skipped() int {
	n := 0
	for _, v := range vs {
		if v.Skipped {
			n++
		}
	}
	return n
}

// ForEndpoint returns the verdicts of thresholds on endpoint name (exact,
// or its template without method).
func (vs Verdicts) ForEndpoint(name string) Verdicts {
	var out Verdicts
	_, tmpl, _ := strings.Cut(name, " ")
	for _, v := range vs {
		if v.Endpoint == name || v.Endpoint == tmpl && strings.HasPrefix(v.Endpoint, "/") {
			out = append(out, v)
		}
	}
	return out
}

// Results converts the verdicts for a results document.
func (vs Verdicts) Results() []metrics.ThresholdResult {
	out := make([]metrics.ThresholdResult, 0, len(vs))
	for _, v := range vs {
		unit := map[Kind]string{KindDuration: "ms", KindRatio: "ratio", KindRate: "per_s", KindCount: "count"}[v.Kind]
		out = append(out, metrics.ThresholdResult{
			Expr: v.Expr, Endpoint: v.Endpoint, Metric: v.metricLabel(), Op: v.Op,
			Limit: v.Limit, Observed: v.Observed, Unit: unit, Pass: v.Pass && !v.Skipped, Note: v.Note,
		})
	}
	return out
}

// Evaluate measures every threshold against s. Rates divide by the
// replay's own duration, so at --speed 10 a rate threshold judges the
// replayed rate, ten times the recorded one.
func Evaluate(s *metrics.Snapshot, ts Thresholds) Verdicts {
	out := make(Verdicts, 0, len(ts))
	for _, t := range ts {
		v := Verdict{Threshold: t}
		st, note := statsFor(s, t.Endpoint)
		if st == nil {
			v.Skipped, v.Note = true, note
			out = append(out, v)
			continue
		}
		val, note, ok := observe(s, st, t)
		if !ok {
			v.Skipped, v.Note = true, note
		} else {
			v.Observed = val
			v.Pass = compare(val, t.Op, t.Limit)
		}
		out = append(out, v)
	}
	return out
}

// statsFor finds the stats a threshold applies to.
func statsFor(s *metrics.Snapshot, endpoint string) (*metrics.Stats, string) {
	if endpoint == "" {
		if s.Overall == nil {
			return nil, "no results"
		}
		return s.Overall, ""
	}
	name, label := metrics.SplitLabel(endpoint)
	var st *metrics.Stats
	if strings.HasPrefix(name, "/") {
		for _, e := range s.Endpoints {
			if _, tmpl, _ := strings.Cut(e.Endpoint, " "); tmpl == name {
				if st == nil {
					st = e.Clone()
					st.Endpoint = name
				} else {
					st.Merge(e)
				}
			}
		}
		if st != nil {
			st.Rate = s.PerSecond(st.Requests)
		}
	} else {
		st = s.Endpoint(name)
	}
	if st == nil {
		return nil, "no requests to " + name
	}
	if label != "" {
		if st = st.LabelStats(label); st == nil {
			return nil, "no results labelled " + label
		}
	}
	return st, ""
}

func observe(s *metrics.Snapshot, st *metrics.Stats, t Threshold) (float64, string, bool) {
	if t.Metric.isDist() {
		d := distFor(s, st, t.Metric)
		if d.Count() == 0 {
			return 0, "no " + string(t.Metric) + " data", false
		}
		var v time.Duration
		switch t.Stat {
		case "avg":
			v = d.Mean()
		case "min":
			v = d.Min()
		case "max":
			v = d.Max()
		default:
			v = d.Percentile(t.Percentile)
		}
		return float64(v) / float64(time.Millisecond), "", true
	}
	switch t.Metric {
	case MetricFailed:
		if st.HTTPScheduled() == 0 {
			return 0, "no HTTP requests", false
		}
		return st.ErrorRate(), "", true
	case MetricReqRate:
		if t.Stat == "count" {
			return float64(st.Requests), "", true
		}
		if s.Duration() <= 0 {
			return 0, "the run has no duration", false
		}
		return s.PerSecond(st.Requests), "", true
	case MetricChecks:
		n := st.ChecksPassed + st.ChecksFailed
		if n == 0 {
			return 0, "no checks", false
		}
		return float64(st.ChecksPassed) / float64(n), "", true
	case MetricShapeChecks:
		sh := st.Shapes
		if sh == nil || sh.ChecksPassed+sh.ChecksFailed == 0 {
			return 0, "no shape checks", false
		}
		return 1 - sh.FailRate(), "", true
	case MetricFlows:
		if len(s.Series) == 0 {
			return 0, "no time series", false
		}
		med, _, _ := s.FlowsActive()
		return float64(med), "", true
	case MetricVUs:
		if s.Meta.VUsMax == 0 {
			return 0, "no virtual users (a run of copies)", false
		}
		med, _, _ := s.VUsActive()
		return float64(med), "", true
	case MetricVUsMax:
		if s.Meta.VUsMax == 0 {
			return 0, "no virtual users (a run of copies)", false
		}
		return float64(s.Meta.VUsMax), "", true
	case MetricIterations:
		if s.Iterations == nil {
			return 0, "no iterations (a run of copies)", false
		}
		if t.Stat == "rate" {
			if s.Duration() <= 0 {
				return 0, "the run has no duration", false
			}
			return s.PerSecond(s.Iterations.Complete), "", true
		}
		return float64(s.Iterations.Complete), "", true
	case MetricWSReceived:
		if st.WS == nil || st.WS.MsgsRecorded == 0 {
			return 0, "no recorded server messages", false
		}
		return float64(st.WS.MsgsReceived) / float64(st.WS.MsgsRecorded), "", true
	case MetricWSSessions:
		if st.WS == nil {
			return 0, "", true
		}
		return float64(st.WS.Sessions), "", true
	case MetricWSSent:
		if st.WS == nil {
			return 0, "", true
		}
		return float64(st.WS.MsgsSent), "", true
	}
	return 0, "unknown metric " + string(t.Metric), false
}

func distFor(s *metrics.Snapshot, st *metrics.Stats, m Metric) *metrics.Dist {
	ws := st.WS
	if ws == nil {
		ws = &metrics.WS{}
	}
	switch m {
	case MetricDuration:
		return st.Latency
	case MetricService:
		return st.Service
	case MetricConnecting:
		return s.Overall.Connecting
	case MetricBlocked:
		return s.Overall.Blocked
	case MetricTLS:
		return s.Overall.TLSHandshaking
	case MetricSending:
		return s.Overall.Sending
	case MetricWaiting:
		return s.Overall.Waiting
	case MetricReceiving:
		return s.Overall.Receiving
	case MetricScheduleLag:
		return s.Overall.ScheduleLag
	case MetricWSConnecting:
		return ws.Connecting
	case MetricWSSession:
		return ws.SessionDuration
	case MetricWSRoundTrip:
		return ws.RoundTrip
	case MetricWSPush:
		return ws.Push
	case MetricIterDuration:
		if s.Iterations == nil {
			return nil
		}
		return s.Iterations.Duration
	}
	return nil
}
