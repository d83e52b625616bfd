package happyapi

import (
	"maps"
	"math"
	"slices"
	"time"
)

// RouteUnmatched is the route label of requests no route matched.
const RouteUnmatched = "unmatched"

// StatusClientGone is the status recorded for a request whose client went
// away while it was being held (nginx's 499).
const StatusClientGone = 499

// RequestTruth is what the server did to one HTTP request: the delay it
// injected on purpose and what it answered. A load tool's measured latency
// for the request is Injected plus the network and handler overhead.
type RequestTruth struct {
	// Seq is the arrival order, from 0.
	Seq int64
	// Route is the matched route pattern ("GET /v1/sessions/{id}") or
	// RouteUnmatched.
	Route string
	// Method and Path are the request's.
	Method, Path string
	// Arrived is the arrival time as an offset from Server.Origin.
	Arrived time.Duration
	// Queued is how long the request waited for a turn under
	// Config.MaxConcurrent and Config.MaxRate (0 without limits): time
	// its client sees as latency, though the server injected none.
	Queued time.Duration
	// Refused reports a request answered 503 at once because the queue
	// was full.
	Refused bool
	// Stall is how long a stall held the request (exact: stall end minus
	// the start of its turn, which is its arrival unless it queued).
	Stall time.Duration
	// Latency is the injected latency sampled for the request, added after
	// any stall.
	Latency time.Duration
	// Fault is the injected error status (500 or 503), or 0.
	Fault int
	// Status is the status answered (101 for WebSocket upgrades,
	// StatusClientGone when the client left while held).
	Status int
	// Served is the measured time from arrival to the end of handling
	// (for a WebSocket, to the end of the upgrade).
	Served time.Duration
}

// Injected is the delay the server added on purpose: Stall plus Latency.
func (r RequestTruth) Injected() time.Duration { return r.Stall + r.Latency }

// Truth is the per-request record of a server's injected delays, in arrival
// order.
type Truth struct {
	// Requests holds the first Config.TruthLimit requests.
	Requests []RequestTruth
	// Dropped counts requests served past the limit (counted in Stats,
	// absent here).
	Dropped int64
}

// Injected returns every request's injected delay, sorted ascending.
func (t Truth) Injected() []time.Duration { return t.sorted(RequestTruth.Injected) }

// Served returns every request's measured time in the server (arrival to
// the end of handling), sorted ascending: its injected delay as the
// server's clock kept it, plus the handling.
func (t Truth) Served() []time.Duration {
	return t.sorted(func(r RequestTruth) time.Duration { return r.Served })
}

// sorted returns of(r) for every request r, sorted ascending.
func (t Truth) sorted(of func(RequestTruth) time.Duration) []time.Duration {
	d := make([]time.Duration, len(t.Requests))
	for i, r := range t.Requests {
		d[i] = of(r)
	}
	slices.Sort(d)
	return d
}

// Quantile returns the exact q-quantile (0..1, nearest rank) of the injected
// delays, the number a report's percentile should match; 0 when empty.
func (t Truth) Quantile(q float64) time.Duration {
	return QuantileOf(t.Injected(), q)
}

// QuantileOf returns the nearest-rank q-quantile (0..1) of sorted values.
func QuantileOf(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	q = math.Min(math.Max(q, 0), 1)
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	return sorted[rank]
}

// Stats counts what the server served.
type Stats struct {
	// Requests is the number of HTTP requests answered (WebSocket upgrades
	// included).
	Requests int64
	// ByRoute counts requests by route pattern.
	ByRoute map[string]int64
	// ByStatus counts requests by route pattern, then status.
	ByStatus map[string]map[int]int64
	// Faults counts injected 500/503 answers.
	Faults int64
	// Stalled counts requests held by a stall.
	Stalled int64
	// WSAccepted counts WebSocket connections accepted; WSOpen is how many
	// are open now.
	WSAccepted int64
	WSOpen     int
	// WSReceived and WSSent count WebSocket messages from and to clients.
	WSReceived, WSSent int64
	// WSDropped counts connections dropped for not reading fast enough.
	WSDropped int64
	// Compressed counts answers sent compressed, by coding.
	Compressed map[string]int64
	// Queued counts requests that waited for a turn under the capacity
	// limits; Refused those answered 503 because the queue was full.
	Queued, Refused int64
}

func newStats() Stats {
	return Stats{ByRoute: map[string]int64{}, ByStatus: map[string]map[int]int64{}, Compressed: map[string]int64{}}
}

func (s *Server) record(rt RequestTruth) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Requests++
	s.stats.ByRoute[rt.Route]++
	bs := s.stats.ByStatus[rt.Route]
	if bs == nil {
		bs = map[int]int64{}
		s.stats.ByStatus[rt.Route] = bs
	}
	bs[rt.Status]++
	if rt.Fault != 0 {
		s.stats.Faults++
	}
	if rt.Stall > 0 {
		s.stats.Stalled++
	}
	if rt.Queued > 0 && !rt.Refused {
		s.stats.Queued++
	}
	if rt.Refused {
		s.stats.Refused++
	}
	if s.cfg.TruthLimit > 0 && len(s.truth) < s.cfg.TruthLimit {
		s.truth = append(s.truth, rt)
	} else {
		s.dropped++
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	out := s.stats
	out.ByRoute = maps.Clone(s.stats.ByRoute)
	out.Compressed = maps.Clone(s.stats.Compressed)
	out.ByStatus = make(map[string]map[int]int64, len(s.stats.ByStatus))
	for k, v := range s.stats.ByStatus {
		out.ByStatus[k] = maps.Clone(v)
	}
	s.statsMu.Unlock()
	h := s.hub.counters()
	out.WSAccepted, out.WSOpen, out.WSReceived, out.WSSent, out.WSDropped = h.accepted, h.open, h.received, h.sent, h.dropped
	return out
}

// countCompressed counts an answer sent compressed with coding c.
func (s *Server) countCompressed(c string) {
	s.statsMu.Lock()
	s.stats.Compressed[c]++
	s.statsMu.Unlock()
}

// Truth returns a copy of the per-request truth recorded so far.
func (s *Server) Truth() Truth {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return Truth{Requests: slices.Clone(s.truth), Dropped: s.dropped}
}

// ResetTruth forgets the recorded truth and counters (not the data), so a
// test or benchmark can measure one phase.
func (s *Server) ResetTruth() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.truth = nil
	s.dropped = 0
	s.stats = newStats()
}
