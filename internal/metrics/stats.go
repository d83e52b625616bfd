package metrics

import (
	"sort"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Outcome counts the results of one kind: how many completed, failed by
// error kind, and were never sent, by reason. For the scheduled kinds
// (HTTP, ws-connect, ws-send) these partition what the engine scheduled.
type Outcome struct {
	// Completed counts results sent and finished without a transport error
	// (whatever their status).
	Completed int64 `json:"completed"`
	// Failed counts results with an Error, by error kind.
	Failed map[string]int64 `json:"failed,omitempty"`
	// NotSent counts results never sent, by reason.
	NotSent map[string]int64 `json:"not_sent,omitempty"`
}

// Total is Completed plus every Failed and NotSent count.
func (o *Outcome) Total() int64 {
	return o.Completed + sum(o.Failed) + sum(o.NotSent)
}

func (o *Outcome) merge(p *Outcome) {
	o.Completed += p.Completed
	o.Failed = mergeCounts(o.Failed, p.Failed)
	o.NotSent = mergeCounts(o.NotSent, p.NotSent)
}

// WS holds the WebSocket metrics of an endpoint.
type WS struct {
	// Connects counts handshakes attempted (ws-connect results sent).
	Connects int64 `json:"connects"`
	// Sessions counts connections that opened (ws-session results of
	// sockets whose handshake succeeded); a socket that never opened
	// counts in Connects and its ws-connect outcome only.
	Sessions int64 `json:"sessions"`
	// MsgsSent and MsgsReceived count messages over all sessions;
	// MsgsRecorded counts the server messages the corpus held for them.
	MsgsSent     int64 `json:"msgs_sent"`
	MsgsReceived int64 `json:"msgs_received"`
	MsgsRecorded int64 `json:"msgs_recorded"`
	// Sends counts client messages sent (ws-send results); how late they
	// went out is in the overall schedule lag.
	Sends int64 `json:"sends"`
	// Connecting is the handshake time (Result.Connecting, or Service when
	// the engine leaves Connecting zero).
	Connecting *Dist `json:"connecting,omitempty"`
	// SessionDuration is open to close (Result.Service, or Latency).
	SessionDuration *Dist `json:"session_duration,omitempty"`
	// RoundTrip is a client message to its matching reply, from the
	// message's intended send time (Result.Latency).
	RoundTrip *Dist `json:"roundtrip,omitempty"`
	// Push is the delivery latency of server pushes that follow an HTTP
	// mutation (Result.Latency).
	Push *Dist `json:"push_delivery,omitempty"`
}

func (w *WS) merge(o *WS) {
	w.Connects += o.Connects
	w.Sessions += o.Sessions
	w.MsgsSent += o.MsgsSent
	w.MsgsReceived += o.MsgsReceived
	w.MsgsRecorded += o.MsgsRecorded
	w.Sends += o.Sends
	w.Connecting = mergeDist(w.Connecting, o.Connecting)
	w.SessionDuration = mergeDist(w.SessionDuration, o.SessionDuration)
	w.RoundTrip = mergeDist(w.RoundTrip, o.RoundTrip)
	w.Push = mergeDist(w.Push, o.Push)
}

// Stats are the metrics of one endpoint (or of the whole run, or of one
// label of an endpoint).
type Stats struct {
	// Endpoint is the route template ("GET /v1/sessions/{id}"); "" for the
	// overall stats.
	Endpoint string `json:"endpoint,omitempty"`
	// Label is the sub-group ("session-scoped") of a ByLabel entry.
	Label string `json:"label,omitempty"`
	// Requests counts HTTP requests sent (not-sent ones excluded).
	Requests int64 `json:"requests"`
	// Resent counts requests the HTTP client wrote twice (Result.Resent).
	Resent int64 `json:"resent,omitempty"`
	// Rate is Requests per second of the run (derived).
	Rate float64 `json:"rate"`
	// Failed counts HTTP results failed as traffic.Result.Failed says: a
	// transport error, a 5xx, a 4xx other than the recorded status, or
	// never sent.
	Failed int64 `json:"failed"`
	// Outcomes by result kind ("http", "ws-connect", ...).
	Outcomes map[string]*Outcome `json:"outcomes,omitempty"`
	// StatusClasses counts HTTP statuses by class: "1xx".."5xx".
	StatusClasses map[string]int64 `json:"status_classes,omitempty"`
	// Statuses counts exact statuses, by status code.
	Statuses map[int]int64 `json:"statuses,omitempty"`
	// FailedStatuses counts the statuses of HTTP results that failed (a
	// 5xx, or a 4xx the recording did not have): what went wrong where,
	// "404×139".
	FailedStatuses map[int]int64 `json:"failed_statuses,omitempty"`
	// ChecksPassed and ChecksFailed compare the status with the recorded
	// one (results with Expected set and actually sent).
	ChecksPassed int64 `json:"checks_passed"`
	ChecksFailed int64 `json:"checks_failed"`
	// BytesSent and BytesReceived over all kinds.
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
	// Latency of HTTP requests from their intended send time
	// (coordinated-omission safe).
	Latency *Dist `json:"latency,omitempty"`
	// Service time of HTTP requests from their actual send.
	Service *Dist `json:"service,omitempty"`
	// Connecting is dial and handshake time of HTTP requests (zero on a
	// reused connection); kept for the overall stats only.
	Connecting *Dist `json:"connecting,omitempty"`
	// The k6 request phases (Result.Blocked, TLSHandshaking, Sending,
	// Waiting, Receiving) of HTTP requests; kept for the overall stats only.
	Blocked        *Dist `json:"blocked,omitempty"`
	TLSHandshaking *Dist `json:"tls_handshaking,omitempty"`
	Sending        *Dist `json:"sending,omitempty"`
	Waiting        *Dist `json:"waiting,omitempty"`
	Receiving      *Dist `json:"receiving,omitempty"`
	// ScheduleLag is Sent - Intended of every scheduled event sent; kept
	// for the overall stats only.
	ScheduleLag *Dist `json:"schedule_lag,omitempty"`
	// Shapes counts the JSON shapes of HTTP responses and their checks
	// against the recorded shapes; nil when no response had one. The
	// overall stats keep the totals only.
	Shapes *Shapes `json:"shapes,omitempty"`
	// WS is set when the endpoint has WebSocket results.
	WS *WS `json:"ws,omitempty"`
	// ByLabel breaks the endpoint down by the label of its results
	// ("WS /v1/updates [session-scoped]"), sorted by label.
	ByLabel []*Stats `json:"by_label,omitempty"`
}

func newStats(endpoint, label string) *Stats {
	return &Stats{Endpoint: endpoint, Label: label}
}

// Errors sums Failed over every kind, by error kind.
func (s *Stats) Errors() map[string]int64 {
	var out map[string]int64
	for _, o := range s.Outcomes {
		out = mergeCounts(out, o.Failed)
	}
	return out
}

// NotSent sums NotSent over every kind, by reason.
func (s *Stats) NotSent() map[string]int64 {
	var out map[string]int64
	for _, o := range s.Outcomes {
		out = mergeCounts(out, o.NotSent)
	}
	return out
}

// HTTPScheduled counts HTTP results, sent or not.
func (s *Stats) HTTPScheduled() int64 {
	if o := s.Outcomes[traffic.ResultHTTP.String()]; o != nil {
		return o.Total()
	}
	return 0
}

// ErrorRate is Failed over the HTTP results (sent or not): the k6
// http_req_failed rate. Zero without HTTP results.
func (s *Stats) ErrorRate() float64 {
	n := s.HTTPScheduled()
	if n == 0 {
		return 0
	}
	return float64(s.Failed) / float64(n)
}

// LabelStats returns the ByLabel entry for label, or nil.
func (s *Stats) LabelStats(label string) *Stats {
	for _, l := range s.ByLabel {
		if l.Label == label {
			return l
		}
	}
	return nil
}

func (s *Stats) outcome(kind string) *Outcome {
	if s.Outcomes == nil {
		s.Outcomes = make(map[string]*Outcome)
	}
	o := s.Outcomes[kind]
	if o == nil {
		o = &Outcome{}
		s.Outcomes[kind] = o
	}
	return o
}

func (s *Stats) ws() *WS {
	if s.WS == nil {
		s.WS = &WS{}
	}
	return s.WS
}

func statusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "other"
}

// add folds one result into s. overall selects the overall-only
// distributions (connecting, schedule lag).
func (s *Stats) add(r *traffic.Result, overall bool) {
	kind := r.Kind.String()
	o := s.outcome(kind)
	switch {
	case r.NotSent != "":
		o.NotSent = inc(o.NotSent, r.NotSent)
	case r.Error != "":
		o.Failed = inc(o.Failed, r.Error)
	default:
		o.Completed++
	}
	s.BytesSent += r.BytesSent
	s.BytesReceived += r.BytesReceived
	sent := r.NotSent == ""
	if sent && r.Expected != 0 {
		if r.Error == "" && r.Status == r.Expected {
			s.ChecksPassed++
		} else {
			s.ChecksFailed++
		}
	}
	if sent && r.Status != 0 && r.Kind == traffic.ResultHTTP {
		s.StatusClasses = inc(s.StatusClasses, statusClass(r.Status))
		if s.Statuses == nil {
			s.Statuses = make(map[int]int64)
		}
		s.Statuses[r.Status]++
		if r.Failed() && r.Error == "" {
			if s.FailedStatuses == nil {
				s.FailedStatuses = make(map[int]int64)
			}
			s.FailedStatuses[r.Status]++
		}
	}
	if overall && sent && scheduledKind(r.Kind) {
		s.ScheduleLag = record(s.ScheduleLag, r.Sent-r.Intended)
	}
	switch r.Kind {
	case traffic.ResultHTTP:
		if r.Failed() {
			s.Failed++
		}
		if !sent {
			return
		}
		s.Requests++
		if r.Resent {
			s.Resent++
		}
		s.Latency = record(s.Latency, r.Latency)
		s.Service = record(s.Service, r.Service)
		if overall {
			s.Connecting = record(s.Connecting, r.Connecting)
			s.Blocked = record(s.Blocked, r.Blocked)
			s.TLSHandshaking = record(s.TLSHandshaking, r.TLSHandshaking)
			s.Sending = record(s.Sending, r.Sending)
			s.Waiting = record(s.Waiting, r.Waiting)
			s.Receiving = record(s.Receiving, r.Receiving)
		}
		if r.Shape != "" || r.ExpectedShape != "" {
			if s.Shapes == nil {
				s.Shapes = &Shapes{}
			}
			s.Shapes.add(r, !overall)
		}
	case traffic.ResultWSConnect:
		if !sent {
			return
		}
		w := s.ws()
		w.Connects++
		if r.Error == "" {
			c := r.Connecting
			if c == 0 {
				c = r.Service
			}
			w.Connecting = record(w.Connecting, c)
		}
	case traffic.ResultWSSession:
		w := s.ws()
		if sent {
			w.Sessions++ // a socket that never opened has its session result not sent
		}
		w.MsgsSent += int64(r.MsgsSent)
		w.MsgsReceived += int64(r.MsgsReceived)
		w.MsgsRecorded += int64(r.MsgsRecorded)
		if sent {
			d := r.Service
			if d == 0 {
				d = r.Latency
			}
			w.SessionDuration = record(w.SessionDuration, d)
		}
	case traffic.ResultWSRoundTrip:
		if sent && r.Error == "" {
			w := s.ws()
			w.RoundTrip = record(w.RoundTrip, pick(r.Latency, r.Service))
		}
	case traffic.ResultWSPush:
		if sent && r.Error == "" {
			w := s.ws()
			w.Push = record(w.Push, pick(r.Latency, r.Service))
		}
	case traffic.ResultWSSend:
		if sent {
			s.ws().Sends++
		}
	}
}

func pick(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// scheduledKind reports whether results of kind k are scheduled events
// (each one counts in the engine's Scheduled total).
func scheduledKind(k traffic.ResultKind) bool {
	return k == traffic.ResultHTTP || k == traffic.ResultWSConnect || k == traffic.ResultWSSend
}

// ScheduledKinds are the result kinds that stand for scheduled events and
// so take part in the accounting invariant.
var ScheduledKinds = []traffic.ResultKind{traffic.ResultHTTP, traffic.ResultWSConnect, traffic.ResultWSSend}

// Merge adds o into s exactly: counters add, histograms merge.
func (s *Stats) Merge(o *Stats) {
	s.Requests += o.Requests
	s.Resent += o.Resent
	s.Failed += o.Failed
	for k, oo := range o.Outcomes {
		s.outcome(k).merge(oo)
	}
	s.StatusClasses = mergeCounts(s.StatusClasses, o.StatusClasses)
	s.Statuses = mergeStatuses(s.Statuses, o.Statuses)
	s.FailedStatuses = mergeStatuses(s.FailedStatuses, o.FailedStatuses)
	s.ChecksPassed += o.ChecksPassed
	s.ChecksFailed += o.ChecksFailed
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	s.Latency = mergeDist(s.Latency, o.Latency)
	s.Service = mergeDist(s.Service, o.Service)
	s.Connecting = mergeDist(s.Connecting, o.Connecting)
	s.Blocked = mergeDist(s.Blocked, o.Blocked)
	s.TLSHandshaking = mergeDist(s.TLSHandshaking, o.TLSHandshaking)
	s.Sending = mergeDist(s.Sending, o.Sending)
	s.Waiting = mergeDist(s.Waiting, o.Waiting)
	s.Receiving = mergeDist(s.Receiving, o.Receiving)
	s.ScheduleLag = mergeDist(s.ScheduleLag, o.ScheduleLag)
	if o.Shapes != nil {
		if s.Shapes == nil {
			s.Shapes = &Shapes{}
		}
		s.Shapes.merge(o.Shapes)
	}
	if o.WS != nil {
		s.ws().merge(o.WS)
	}
	for _, ol := range o.ByLabel {
		l := s.LabelStats(ol.Label)
		if l == nil {
			l = newStats(s.Endpoint, ol.Label)
			s.ByLabel = append(s.ByLabel, l)
		}
		l.Merge(ol)
	}
	sort.Slice(s.ByLabel, func(i, j int) bool { return s.ByLabel[i].Label < s.ByLabel[j].Label })
}

// Clone returns a deep copy.
func (s *Stats) Clone() *Stats {
	c := newStats(s.Endpoint, s.Label)
	c.Merge(s)
	c.Rate = s.Rate
	return c
}

func record(d *Dist, v time.Duration) *Dist {
	if d == nil {
		d = NewDist()
	}
	d.Record(v)
	return d
}

func mergeDist(d, o *Dist) *Dist {
	if o == nil {
		return d
	}
	if d == nil {
		return o.Clone()
	}
	d.Merge(o)
	return d
}

func cloneDist(d *Dist) *Dist {
	if d == nil {
		return nil
	}
	return d.Clone()
}

func inc(m map[string]int64, k string) map[string]int64 {
	if m == nil {
		m = make(map[string]int64)
	}
	m[k]++
	return m
}

func mergeStatuses(m, o map[int]int64) map[int]int64 {
	for k, v := range o {
		if m == nil {
			m = make(map[int]int64, len(o))
		}
		m[k] += v
	}
	return m
}

func mergeCounts(m, o map[string]int64) map[string]int64 {
	if len(o) == 0 {
		return m
	}
	if m == nil {
		m = make(map[string]int64, len(o))
	}
	for k, v := range o {
		m[k] += v
	}
	return m
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// SplitLabel splits an endpoint name with a trailing label,
// "WS /v1/updates [session-scoped]", into "WS /v1/updates" and
// "session-scoped". A name without one is returned whole with label "".
func SplitLabel(endpoint string) (name, label string) {
	if !strings.HasSuffix(endpoint, "]") {
		return endpoint, ""
	}
	i := strings.LastIndex(endpoint, " [")
	if i < 0 {
		return endpoint, ""
	}
	return endpoint[:i], endpoint[i+2 : len(endpoint)-1]
}

// JoinLabel is the inverse of SplitLabel.
func JoinLabel(name, label string) string {
	if label == "" {
		return name
	}
	return name + " [" + label + "]"
}
