package engine

import (
	"context"
	"crypto/tls"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// lane replays the schedule against one target: it owns the HTTP client
// and its connections, the WebSocket connections, the flows' order, the
// correlation and identities of its target, and the accounting of its
// results.
//
// Ownership: accept runs on the dispatcher's goroutine, in schedule order,
// and is the only user of cfg.Correlator, cfg.Identities and flows. The
// goroutines it starts (one per exchange, one per WebSocket connection and
// its reader) share the rest: counters are atomics, ws guards its maps
// with its own mutexes, and every result goes out through a ticket.
type lane struct {
	cfg    Config
	clock  *clock
	client *http.Client // the shared client when Config.Transport is set
	pools  *pools       // one client per recorded user and copy otherwise
	conns  *connLimiter
	dialer *net.Dialer
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsCfg *tls.Config
	slots  chan struct{} // one token per request in flight

	flows flowOrder
	// pending holds each client's exchanges not answered yet, by recorded
	// user and copy (owned by the dispatcher goroutine).
	pending map[poolKey][]*flowStep
	ws      *wsState
	wg      sync.WaitGroup // every goroutine the lane started
	workers *workers       // the goroutines its exchanges run on

	scheduled   atomic.Int64
	byKind      [8]atomic.Int64 // by traffic.ResultKind
	results     atomic.Int64
	ignored     atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	// cutting is set when the run cuts what is in flight at its end: the
	// errors that follow are ErrCut, not the target's.
	cutting atomic.Bool
	skipped map[string]int64 // owned by accept
	// undecoded counts live bodies whose content coding could not be
	// read, by cause.
	undecodedMu sync.Mutex
	undecoded   map[string]int64
}

func newLane(cfg Config, c *clock) *lane {
	l := &lane{
		cfg:       cfg,
		clock:     c,
		slots:     make(chan struct{}, cfg.MaxInFlight),
		skipped:   map[string]int64{},
		undecoded: map[string]int64{},
		flows:     flowOrder{steps: map[string]*flowStep{}},
		pending:   map[poolKey][]*flowStep{},
		workers:   newWorkers(),
		dialer:    &net.Dialer{Timeout: min(cfg.Timeout, 10*time.Second), KeepAlive: 30 * time.Second},
		tlsCfg:    &tls.Config{InsecureSkipVerify: cfg.Insecure},
	}
	l.dial = l.dialer.DialContext
	if cfg.DialContext != nil {
		l.dial = cfg.DialContext
	}
	l.conns = newConnLimiter(cfg.MaxConns)
	l.dial = l.conns.wrap(l.dial)
	if cfg.TLSConfig != nil {
		l.tlsCfg = cfg.TLSConfig.Clone()
		l.tlsCfg.InsecureSkipVerify = l.tlsCfg.InsecureSkipVerify || cfg.Insecure
	}
	tr := cfg.Transport
	if tr == nil {
		tr = l.newTransport(0)
		l.pools = &pools{l: l, m: map[poolKey]*pool{}, build: func(conns int) *http.Client {
			return &http.Client{Transport: l.newTransport(conns), CheckRedirect: l.checkRedirect}
		}}
		l.conns.reclaim = l.pools.reclaim
	}
	l.client = &http.Client{Transport: tr, CheckRedirect: l.checkRedirect}
	l.ws = newWSState(l)
	return l
}

func (l *lane) checkRedirect(req *http.Request, via []*http.Request) error {
	if !l.cfg.FollowRedirects || req.URL.Host != l.cfg.Target.Host || len(via) >= 10 {
		return http.ErrUseLastResponse
	}
	return nil
}

func (l *lane) now() time.Duration { return l.clock.now() }

// closeIdle closes the lane's idle connections.
func (l *lane) closeIdle() {
	l.client.CloseIdleConnections()
	if l.pools != nil {
		l.pools.closeIdle()
	}
}

// classify is classify, but an error caused by the run cutting what was
// in flight at its end is ErrCut.
func (l *lane) classify(err error) string {
	kind := classify(err)
	if kind == ErrCanceled && l.cutting.Load() {
		return ErrCut
	}
	return kind
}

// accept takes one event of the schedule at its time. It runs on the
// dispatcher's goroutine.
func (l *lane) accept(ctx context.Context, ev schedule.Event) {
	switch ev.Record.Kind {
	case traffic.KindExchange:
		if ev.Facts == nil {
			ev.Facts = analysis.Of(ev.Record, analysis.Options{Route: l.cfg.Endpoint})
		}
		plan := l.plan(ev)
		if plan != nil {
			if reason := plan.Skip(); reason != "" {
				plan.Done(0, nil, nil, errSkipped)
				l.skipped[reason]++
				return
			}
		}
		x := ev.Record.Exchange
		t := l.owe(traffic.ResultHTTP, ev, ev.Facts.Endpoint.Name, "", x.Flow, plan)
		if x.Response != nil {
			t.res.Expected = x.Response.Status
		}
		step := l.flows.next(x, l.cfg.WaitForAnswers, &t.step)
		l.track(poolKey{ev.Facts.User, ev.Copy}, step)
		rw := l.rewrite(ev)
		client := l.client
		if l.pools != nil {
			client = l.pools.client(ev.Facts.User, ev.Copy, ev.Facts.UserConns)
		}
		held := false
		if l.cfg.MaxRate {
			// A closed loop: the dispatcher waits here for a slot, so
			// nothing is ever "not sent" for the in-flight limit and no
			// more than it is read ahead. Everything this request may
			// wait for was dispatched, with its slot, before it.
			if !l.acquire(ctx, time.Duration(math.MaxInt64)) {
				t.notSent(ctx, traffic.NotSentRunEnded)
				close(step.done)
				step.markWritten()
				return
			}
			held = true
		}
		l.wg.Add(1)
		l.workers.run(func() { l.exchange(ctx, ev, t, step, rw, client, held) })
	case traffic.KindWSOpen, traffic.KindWSMessage, traffic.KindWSClose:
		l.ws.dispatch(ctx, ev)
	default:
		l.ignored.Add(1)
	}
}

// plan asks the lane's correlator about ev (nil when there is none or
// nothing to do).
func (l *lane) plan(ev schedule.Event) correlate.Plan {
	if l.cfg.Correlator == nil {
		return nil
	}
	return l.cfg.Correlator.Plan(ev)
}

// rewrite is what ev's copy sends instead of the recorded values.
func (l *lane) rewrite(ev schedule.Event) correlate.Rewrite {
	if l.cfg.Identities == nil {
		return correlate.Rewrite{}
	}
	return l.cfg.Identities.Rewrite(ev)
}

func (l *lane) stats() Stats {
	st := Stats{
		Scheduled:       l.scheduled.Load(),
		ScheduledByKind: map[string]int64{},
		Results:         l.results.Load(),
		Ignored:         l.ignored.Load(),
		Skipped:         l.skipped,
		MaxInFlight:     l.maxInFlight.Load(),
		Undecoded:       l.undecoded,
		PeakConns:       l.conns.peak.Load(),
		ConnWaits:       l.conns.waited.Load(),
	}
	for k := range l.byKind {
		if n := l.byKind[k].Load(); n > 0 {
			st.ScheduledByKind[traffic.ResultKind(k).String()] = n
		}
	}
	return st
}

// acquire takes an in-flight slot, giving up at the event's deadline.
// A deadline of math.MaxInt64 waits for a slot however long it takes.
func (l *lane) acquire(ctx context.Context, deadline time.Duration) bool {
	select {
	case l.slots <- struct{}{}:
	default:
		if deadline == math.MaxInt64 {
			select {
			case l.slots <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			break
		}
		t := time.NewTimer(max(deadline-l.now(), 0))
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	n := l.inFlight.Add(1)
	for {
		m := l.maxInFlight.Load()
		if n <= m || l.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return true
}

func (l *lane) release() {
	l.inFlight.Add(-1)
	<-l.slots
}

// waitFor waits for ch (nil is ready) until the deadline (none when
// deadline is negative).
func (l *lane) waitFor(ctx context.Context, ch <-chan struct{}, deadline time.Duration) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
	}
	if deadline < 0 {
		select {
		case <-ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	t := time.NewTimer(max(deadline-l.now(), 0))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// sleepUntil waits until the run's offset at (or ctx's end).
func (l *lane) sleepUntil(ctx context.Context, at time.Duration) {
	wait := at - l.now()
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
}

// track notes an exchange of a client until it is answered; the
// client's list is pruned of answered ones as it grows.
func (l *lane) track(k poolKey, step *flowStep) {
	list := l.pending[k]
	if len(list) >= 8 {
		kept := list[:0]
		for _, s := range list {
			select {
			case <-s.done:
			default:
				kept = append(kept, s)
			}
		}
		clear(list[len(kept):])
		list = kept
	}
	l.pending[k] = append(list, step)
	if len(l.pending) > 1<<12 && l.flows.accepts%sweepEvery == 0 {
		for k, list := range l.pending {
			if allDone(list) {
				delete(l.pending, k)
			}
		}
	}
}

func allDone(list []*flowStep) bool {
	for _, s := range list {
		select {
		case <-s.done:
		default:
			return false
		}
	}
	return true
}

// answeredBefore lists the unanswered exchanges of a client whose recorded
// answer came before at.
func (l *lane) answeredBefore(k poolKey, at time.Duration) []<-chan struct{} {
	var out []<-chan struct{}
	for _, s := range l.pending[k] {
		if s.recordedEnd == 0 || s.recordedEnd > at {
			continue
		}
		select {
		case <-s.done:
		default:
			out = append(out, s.done)
		}
	}
	return out
}

// flowOrder keeps each flow's requests in recorded order. The dispatcher
// goroutine owns it.
type flowOrder struct {
	steps   map[string]*flowStep // the last dispatched exchange of each flow
	accepts int
}

// sweepEvery is how many exchanges go by between sweeps of finished
// flows' steps.
const sweepEvery = 4096

// flowStep tracks one exchange for the order of its flow.
type flowStep struct {
	written     chan struct{} // closed once the request is on the wire
	done        chan struct{} // closed once the response ended
	recordedEnd time.Duration // recorded end of the exchange, 0 if unknown
	prev        <-chan struct{}
	// answered is set when prev is the predecessor's answer, which the
	// exchange waits for however long it takes (the recorded client did).
	answered  bool
	writeOnce sync.Once
}

// next registers x as the latest exchange of its flow: it goes on the
// wire after the previous one (open model); with answered, it also waits
// for the previous answer when the recording had that answer before x
// started.
func (o *flowOrder) next(x *traffic.Exchange, answered bool, mine *flowStep) *flowStep {
	mine.written, mine.done = make(chan struct{}), make(chan struct{})
	if x.Timing.Total > 0 {
		mine.recordedEnd = x.Start + x.Timing.Total
	}
	if p := o.steps[x.Flow]; p != nil {
		mine.prev = p.written
		if answered && p.recordedEnd > 0 && p.recordedEnd <= x.Start {
			mine.prev, mine.answered = p.done, true
		}
	}
	o.steps[x.Flow] = mine
	if o.accepts++; o.accepts%sweepEvery == 0 {
		o.sweep()
	}
	return mine
}

// sweep forgets the flows whose last exchange has ended: the next one
// would not wait for it anyway.
func (o *flowOrder) sweep() {
	for flow, s := range o.steps {
		select {
		case <-s.done:
			delete(o.steps, flow)
		default:
		}
	}
}

// markWritten says the exchange is on the wire (idempotent).
func (s *flowStep) markWritten() { s.writeOnce.Do(func() { close(s.written) }) }

// ticket is the one result an event owes. Every path an event takes ends
// in settle, exactly once: the accounting (scheduled = results) and the
// correlation plan (Done, so dependents stop waiting) are kept here and
// nowhere else.
type ticket struct {
	// step and ph are an exchange's place in its flow and request phases,
	// kept here to spare allocations.
	step flowStep
	ph   phases
	l    *lane
	plan correlate.Plan
	res  traffic.Result
	done atomic.Bool
}

// owe counts one actionable event that will yield a result of kind.
func (l *lane) owe(kind traffic.ResultKind, ev schedule.Event, endpoint, label, flow string, plan correlate.Plan) *ticket {
	l.scheduled.Add(1)
	l.byKind[kind].Add(1)
	return &ticket{l: l, plan: plan, res: traffic.Result{Kind: kind, Endpoint: endpoint, Label: label, Flow: flow, Seq: ev.Seq, Copy: ev.Copy, Round: ev.Round, Intended: ev.At}}
}

// settle emits res as the event's result. The plan, if the exchange did
// not hand it its response, learns the event failed.
func (t *ticket) settle(res traffic.Result) {
	if !t.done.CompareAndSwap(false, true) {
		t.l.cfg.Logger.Warn("a second result for one event dropped", "endpoint", res.Endpoint, "kind", res.Kind.String())
		return
	}
	if t.plan != nil {
		t.plan.Done(0, nil, nil, errNotSent) // no-op when the response was handed over
	}
	t.l.results.Add(1)
	t.l.cfg.Results(res)
}

// notSent settles the event as never sent, for reason (or because the run
// ended).
func (t *ticket) notSent(ctx context.Context, reason string) {
	res := t.res
	if ctx.Err() != nil {
		reason = traffic.NotSentRunEnded
	}
	res.NotSent = reason
	t.settle(res)
}
