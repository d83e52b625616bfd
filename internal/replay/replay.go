// Package replay runs a whole replay: it opens a corpus, learns its route
// templates, plans the schedule, correlates dynamic values, drives the
// engine and collects the metrics. The CLI and the demo call Run and then
// render the snapshot with package report.
package replay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/netconf"
	"github.com/reprise/reprise/internal/routes"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/version"
)

// Version names this build in results documents.
const Version = version.Tool

// Options configures a replay. Corpus and Engine.Target are required.
type Options struct {
	// Corpus is the corpus file to replay.
	Corpus string
	// Schedule shapes time (speed, shard, stagger, loop).
	Schedule schedule.Options
	// Load sets how many copies of the traffic, or virtual users, run
	// over time (multiply, users, a profile or stages), applied to
	// Schedule; the zero value leaves Schedule as it is.
	Load schedule.Load
	// Announce, when set, receives the load plan (a few lines) before the
	// run starts, when the run has copies, virtual users, stages or loops.
	Announce func(plan string)
	// AuthTokens are bearer tokens of distinct accounts: each recorded
	// user of each copy is sent as one of them (correlate.Identities
	// Tokens). Use instead of Engine.AuthToken.
	AuthTokens []string
	// Engine configures the client side; its Endpoint and Results are set
	// by Run.
	Engine engine.Config
	// CheckEndpoints, when set, is given the endpoint names learned from
	// the corpus before anything is sent; an error stops the run (a
	// threshold naming an endpoint the corpus does not have).
	CheckEndpoints func(known []string) error
	// Filter, when set, picks the endpoints replayed (--only, --skip).
	Filter *Filter
	// RunTag, when set, gives every copy (copy 0 too) client-made values
	// of this run's own (correlate.Identities.Run): --fresh-ids.
	RunTag string
	// NoCorrelate replays recorded values verbatim.
	NoCorrelate bool
	// AllowOrigin permits a target on the corpus's recorded origin host.
	AllowOrigin bool
	// AllowTruncated replays a corpus its recorder did not close (what it
	// holds up to its last whole block).
	AllowTruncated bool
	// Preflight dials the target once before replaying, so a target that
	// is down gives one error instead of a run of failures.
	Preflight bool
	// TargetFlag names the flag that gave Engine.Target in error lines;
	// "" is "--target".
	TargetFlag string
	// StartAt, when set, is when the run starts: Run reads the corpus and
	// checks the target first, then waits until this wall-clock time
	// before the engine's clock starts, so that shards given one StartAt
	// send their first events together. A time more than StartTolerance
	// past when the wait would begin is an error; the context ends the
	// wait with ErrStartInterrupted.
	StartAt time.Time
	// Waiting, when set, is called once as the wait for StartAt begins
	// (not when StartAt has already come).
	Waiting func(until time.Time)
	// Progress, when set, is called about once a second during the run.
	Progress func(p metrics.Progress, elapsed time.Duration)
	// Abort, when set, is asked about once a second, from AbortGrace into
	// the run on, whether to stop it: given the results so far, it
	// returns why (a breached threshold), or "" to go on. A stopped run
	// sends nothing more, waits for what is in flight and reports it
	// with Outcome.Aborted set.
	Abort      func(s *metrics.Snapshot) string
	AbortGrace time.Duration
	// Profile knows the API's WebSocket conventions; nil picks one by the
	// corpus's endpoints (DetectProfile).
	Profile engine.Profile
	// Also are more targets replayed at the same time as Engine.Target
	// (lanes of one run): every event goes to each at the same intended
	// time.
	Also []Lane
	// Observe, when set, receives every answer of every lane's target
	// (lane 0 is Engine.Target, then Also in order), for comparisons of
	// content; it is called from many goroutines.
	Observe func(lane int, o engine.Observation)
	// Result, when set, receives every result of every lane (numbered as
	// for Observe) beside the lane's collector, for comparisons of
	// paired results; it is called from many goroutines.
	Result func(lane int, r traffic.Result)
	// Logger gets warnings; nil discards.
	Logger *slog.Logger
}

// Outcome is what a replay produced.
type Outcome struct {
	Snapshot *metrics.Snapshot
	Engine   engine.Stats
	Schedule schedule.Stats
	// Corpus is what the reader saw (Truncated when the tail was cut).
	Corpus corpus.ReaderStats
	// LaneOutcome is what correlation and identities did against the
	// main target.
	LaneOutcome
	// Also holds the outcome of every other target (Options.Also), in
	// order.
	Also   []AlsoOutcome
	Router *routes.Router
	// RunTag is Options.RunTag.
	RunTag string
	// LeftOut counts the events Options.Filter left out (never
	// scheduled).
	LeftOut int64
	// Aborted says why Options.Abort stopped the run ("" when it did
	// not), and AbortedAt when, from the run's start.
	Aborted   string
	AbortedAt time.Duration
}

// LaneOutcome is what correlation and identities did against one target.
type LaneOutcome struct {
	// Links counts values carried from responses into later requests;
	// Misses those a live response did not have.
	Links, Misses int64
	// Waits counts requests that waited for the answer to the request
	// that made a value they use; Orders those that waited for the answer
	// to an earlier use of a value they write.
	Waits, Orders int64
	// Identities counts what giving each copy its own client-made values
	// did (zero for a single plain pass).
	Identities correlate.IdentityStats
	// Undecoded counts live response bodies whose content coding could
	// not be read, by cause; RecordedUndecoded the same for the corpus's
	// bodies (correlation and shape checks skipped them).
	Undecoded, RecordedUndecoded map[string]int64
}

// AlsoOutcome is the outcome of one more target of the run.
type AlsoOutcome struct {
	Name string
	// RunTag is the tag its client-made values derive from.
	RunTag   string
	Snapshot *metrics.Snapshot
	Engine   engine.Stats
	LaneOutcome
}

// Lane is one more target replayed at the same time as the main one, each
// event sent to every target at the same intended time, each target with
// identities and correlation of its own (a live comparison of releases).
type Lane struct {
	// Name names the lane ("b", "a2"): its client-made values derive from
	// the run tag and this name.
	Name   string
	Target *url.URL
	// Flag is the command-line flag that gave Target, for error lines
	// ("--b"); Preflight dials Target before the run as Options.Preflight
	// does the main target's.
	Flag      string
	Preflight bool
}

// laneTag is the run tag of an extra lane.
func laneTag(tag, name string) string {
	if tag == "" {
		return name
	}
	return tag + "-" + name
}

// laneRun is one lane while the run goes on.
type laneRun struct {
	name    string
	col     *metrics.Collector
	ids     *correlate.Identities
	corr    *correlate.Correlator
	snap    *metrics.Snapshot
	outcome LaneOutcome
}

// finish makes the lane's snapshot and outcome once the run is over.
func (lr *laneRun) finish(ctx context.Context, opts Options, st engine.Stats, sched *schedule.Schedule, h traffic.Header, an *analysis.Analyzer, target *url.URL, aborted, runID string) {
	snap := lr.col.Snapshot()
	meta := metrics.Meta{
		Tool:      version.Tool,
		Target:    target.String(),
		Corpus:    opts.Corpus,
		Speed:     sched.Speed(),
		MaxRate:   opts.Engine.MaxRate,
		Multiply:  sched.Copies(),
		VUsMax:    sched.VUs(),
		Start:     st.Start,
		End:       st.Start.Add(st.Elapsed),
		Duration:  st.Elapsed,
		Aborted:   aborted,
		PeakConns: st.PeakConns,
		RunID:     runID,
		CorpusID:  CorpusID(h),
	}
	if lr.name != "" {
		meta.RunID = runID + "-" + lr.name
	}
	if st.Interrupted {
		// In-flight work ends with the context: the run's end is the
		// signal's time, to a few milliseconds.
		meta.Interrupted = &metrics.Interruption{At: st.Elapsed, Reason: context.Cause(ctx).Error()}
	}
	if opts.Schedule.Shards > 1 {
		meta.Shard = fmt.Sprintf("%d/%d", opts.Schedule.Shard, opts.Schedule.Shards)
	}
	meta.StartAt = opts.StartAt
	meta.ScheduledByKind = map[string]int64{}
	for k, n := range st.ScheduledByKind {
		if k == "ws-session" {
			continue // a session result closes a connection already counted
		}
		meta.ScheduledByKind[k] = n
		meta.Scheduled += n
	}
	snap.SetMeta(meta)
	lr.snap = snap
	if lr.corr != nil {
		lr.outcome.Links = lr.corr.Stats().Links.Load()
		lr.outcome.Misses = lr.corr.Stats().Misses.Load()
		lr.outcome.Waits = lr.corr.Stats().Waits.Load()
		lr.outcome.Orders = lr.corr.Stats().Orders.Load()
	}
	lr.outcome.Identities = lr.ids.Stats()
	lr.outcome.Undecoded = st.Undecoded
	lr.outcome.RecordedUndecoded = an.Stats().Undecoded
	lr.outcome.Identities.ClientValues = an.Stats().ClientValues
	if lr.outcome.Identities.Events == 0 {
		lr.outcome.Identities.ClientValues = 0
	}
}

// ErrOrigin is returned when the target is the corpus's recorded origin.
var ErrOrigin = errors.New("target is the corpus's recorded origin")

// Run replays opts.Corpus against opts.Engine.Target.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	if opts.Engine.Target == nil {
		return nil, errors.New("a target URL is required (--target http://host:port)")
	}
	r, err := corpus.Open(opts.Corpus)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if !r.ClosedCleanly() && !opts.AllowTruncated {
		return nil, fmt.Errorf("%s was not closed by its recorder (killed, or still being written): it reads to its last whole block; pass --allow-truncated to replay what it holds", opts.Corpus)
	}
	h := r.Header()
	// One lane per target: the main one, then opts.Also.
	flag := opts.TargetFlag
	if flag == "" {
		flag = "--target"
	}
	targets := append([]Lane{{Target: opts.Engine.Target, Flag: flag, Preflight: opts.Preflight}}, opts.Also...)
	for _, l := range targets {
		if !opts.AllowOrigin && sameHost(h.Origin, l.Target) {
			return nil, fmt.Errorf("%w %s (%s): replaying recorded traffic at the system it was recorded from is refused; pass --allow-origin if you mean it", ErrOrigin, h.Origin, l.Flag)
		}
	}
	for _, l := range targets {
		if l.Preflight {
			if err := preflight(ctx, l.Target, opts.Engine.Timeout, l.Flag); err != nil {
				return nil, err
			}
		}
	}
	router, users, sv, err := learn(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.CheckEndpoints != nil {
		if err := opts.CheckEndpoints(router.Templates()); err != nil {
			return nil, err
		}
	}
	sopts, err := plan(opts, sv)
	if err != nil {
		return nil, err
	}
	prof := opts.Profile
	if prof == nil {
		prof = DetectProfile(router.Templates())
	}
	an := analysis.NewAnalyzer(analysis.Options{Route: router.Route, Label: prof.SocketLabel, NoShapes: opts.Engine.NoShapes, Users: users})
	sopts.Analyzer = an
	sopts.ShardOf = users.Shard
	sopts.UserOf = users.ID
	col := metrics.NewCollector()
	if sopts.VU {
		sopts.OnIteration = func(it schedule.Iteration) {
			if it.Done {
				col.EndIteration(it.VU, it.Round, it.Last, it.End, it.Complete)
			} else {
				col.StartIteration(it.VU, it.Round, it.Start)
			}
		}
	}
	sched, err := schedule.New(r, sopts)
	if err != nil {
		return nil, err
	}
	defer sched.Close()
	if err := sched.Prepare(ctx); err != nil {
		return nil, err
	}
	if opts.Announce != nil && needsSurvey(opts) {
		opts.Announce(schedule.Describe(opts.Load, sopts, *sv, sched.Users()))
	}
	var events engine.Events = sched
	ids := correlate.NewIdentities()
	ids.Tokens = opts.AuthTokens
	ids.Run = opts.RunTag
	var filter *filtered
	if !opts.Filter.IsZero() {
		filter = &filtered{src: events, f: opts.Filter, dropped: map[uint64]bool{}}
		events = filter
	}
	// Each lane has its collector, identities and correlation.
	lanes := make([]*laneRun, len(targets))
	cfgs := make([]engine.Config, len(targets))
	for i, t := range targets {
		lr := &laneRun{name: t.Name, col: metrics.NewCollector(), ids: correlate.NewIdentities()}
		if i == 0 {
			// the main lane's collector also counts the VUs' iterations
			lr.col = col
		}
		lr.ids.Tokens = opts.AuthTokens
		lr.ids.Run = opts.RunTag
		if i > 0 {
			lr.ids.Run = laneTag(opts.RunTag, t.Name)
		}
		cfg := opts.Engine
		cfg.Target = t.Target
		cfg.Endpoint = router.Route
		cfg.Results = lr.col.Add
		cfg.Logger = opts.Logger
		cfg.Identities = lr.ids
		cfg.Profile = prof
		if !opts.NoCorrelate {
			lr.corr = correlate.New()
			lr.corr.Pooled = len(opts.AuthTokens) > 0
			cfg.Correlator = lr.corr
		}
		if opts.Observe != nil {
			lane := i
			cfg.Observe = func(o engine.Observation) { opts.Observe(lane, o) }
		}
		if opts.Result != nil {
			lane, add := i, lr.col.Add
			cfg.Results = func(r traffic.Result) { add(r); opts.Result(lane, r) }
		}
		lanes[i], cfgs[i] = lr, cfg
	}
	if !opts.StartAt.IsZero() {
		if err := waitStart(ctx, opts.StartAt, opts.Waiting); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var stopProgress func()
	if opts.Progress != nil {
		stopProgress = every(time.Second, func() {
			el := time.Since(start)
			opts.Progress(col.Progress(el), el)
		})
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var aborted string
	var abortedAt time.Duration
	var stopAbort func()
	if opts.Abort != nil {
		stopAbort = every(time.Second, func() {
			el := time.Since(start)
			if aborted != "" || el < opts.AbortGrace {
				return
			}
			snap := col.Snapshot()
			snap.SetMeta(metrics.Meta{Duration: el})
			if why := opts.Abort(snap); why != "" {
				aborted, abortedAt = why, el
				stopRun()
			}
		})
	}
	stats, runErr := engine.RunLanes(runCtx, cfgs, events)
	if len(stats) == 0 {
		return nil, runErr
	}
	st := stats[0]
	if stopProgress != nil {
		stopProgress()
	}
	if stopAbort != nil {
		stopAbort() // waits for a check under way: aborted is settled
	}
	if aborted != "" && ctx.Err() == nil {
		// The run ended because it was stopped, not interrupted.
		st.Interrupted = false
	}
	runID := rand.Text()
	for i, lr := range lanes {
		if aborted != "" && ctx.Err() == nil {
			stats[i].Interrupted = false
		}
		lr.finish(ctx, opts, stats[i], sched, h, an, targets[i].Target, aborted, runID)
	}
	first := lanes[0]
	out := &Outcome{Snapshot: first.snap, Engine: st, Schedule: sched.Stats(), Corpus: r.Stats(), Router: router,
		Aborted: aborted, AbortedAt: abortedAt, RunTag: opts.RunTag, LaneOutcome: first.outcome}
	for i, lr := range lanes[1:] {
		out.Also = append(out.Also, AlsoOutcome{Name: targets[i+1].Name, RunTag: lr.ids.Run, Snapshot: lr.snap, Engine: stats[i+1], LaneOutcome: lr.outcome})
	}
	if filter != nil {
		out.LeftOut = filter.left
	}
	return out, runErr
}

// needsSurvey reports whether the load shape (copies, stages, loops)
// needs the corpus surveyed.
func needsSurvey(opts Options) bool {
	so := opts.Schedule
	return !opts.Load.IsZero() || so.Loop || so.Multiply > 1 || len(so.Stages) > 0
}

// learn reads the corpus once for its route templates, its users and its
// survey (flows, span, disorder).
func learn(ctx context.Context, opts Options) (*routes.Router, *analysis.Users, *schedule.Survey, error) {
	if needsSurvey(opts) {
		if err := opts.Load.Validate(); err != nil {
			return nil, nil, nil, err
		}
	}
	r, err := corpus.Open(opts.Corpus)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	l := routes.NewLearner(routes.Options{})
	uf := analysis.NewUserFinder()
	sv, err := schedule.SurveySource(ctx, traffic.SourceFunc(func(ctx context.Context) (traffic.Record, error) {
		rec, err := r.Next(ctx)
		if err == nil {
			l.AddRecord(rec)
			uf.AddRecord(rec)
		}
		return rec, err
	}))
	if err != nil {
		return nil, nil, nil, err
	}
	users := uf.Users()
	sv.Users = users.Len()
	return l.Router(), users, &sv, nil
}

// plan resolves opts.Load against the corpus survey sv into schedule
// options and, when the run has copies, stages, loops or virtual users,
// lets the schedule reopen the corpus. The reorder window starts at the
// disorder the survey found.
func plan(opts Options, sv *schedule.Survey) (schedule.Options, error) {
	so := opts.Schedule
	if so.Duration == 0 {
		so.Duration = opts.Engine.Duration
	}
	if sv != nil {
		so.Disorder = sv.Disorder
	}
	if sv == nil || !needsSurvey(opts) {
		return so, nil
	}
	if !opts.Load.IsZero() {
		if err := opts.Load.Apply(&so); err != nil {
			return so, err
		}
	}
	if so.Loop && !so.VU && so.Period == 0 {
		so.Period = sv.LoopPeriod(so.Speed)
	}
	path := opts.Corpus
	so.Reopen = func(context.Context) (traffic.Source, error) {
		r, err := corpus.Open(path)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return so, nil
}

// Routes reads the corpus at path once and returns the route templates it
// implies.
func Routes(ctx context.Context, path string) (*routes.Router, error) {
	r, err := corpus.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return routes.Learn(ctx, r, routes.Options{})
}

// sameHost reports whether origin (a recorded URL) names target's host
// and port: the ports (the scheme's default when none) must be equal, and
// the hosts either equal as names or resolve to a common address; every
// loopback name or address (localhost, 127.0.0.0/8, ::1) is one host.
// Names are resolved only when the ports match, with a short bound: a
// name that does not resolve is compared as a name.
func sameHost(origin string, target *url.URL) bool {
	if origin == "" {
		return false
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	split := func(u *url.URL) (string, string) {
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" || u.Scheme == "wss" {
				port = "443"
			}
		}
		return strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port
	}
	oh, op := split(o)
	th, tp := split(target)
	if op != tp {
		return false
	}
	if oh == th {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The addresses of a host: itself when it is one, the loopback for
	// localhost and its subdomains (RFC 6761), else what the resolver
	// says (nothing when it fails).
	addrs := func(host string) []netip.Addr {
		if a, err := netip.ParseAddr(host); err == nil {
			return []netip.Addr{a.Unmap()}
		}
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
		}
		var r net.Resolver
		ips, err := r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil
		}
		for i, a := range ips {
			ips[i] = a.Unmap()
		}
		return ips
	}
	oa, ta := addrs(oh), addrs(th)
	if len(oa) == 0 || len(ta) == 0 {
		return false
	}
	loopback := func(as []netip.Addr) bool {
		for _, a := range as {
			if !a.IsLoopback() {
				return false
			}
		}
		return true
	}
	if loopback(oa) && loopback(ta) {
		return true
	}
	for _, a := range oa {
		if slices.Contains(ta, a) {
			return true
		}
	}
	return false
}

// DetectProfile picks the WebSocket conventions of the API a corpus was
// recorded from, by its endpoints: the Happy API's, or generic ones.
func DetectProfile(endpoints []string) engine.Profile {
	if happyapi.IsHappy(endpoints) {
		return happyapi.Profile{}
	}
	return engine.Generic{}
}

// every calls fn each interval on its own goroutine until stopped.
func every(interval time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// preflight dials the target once, so a target that is down or mistyped
// gives one clear line instead of a report of nothing but failures.
func preflight(ctx context.Context, target *url.URL, timeout time.Duration, flag string) error {
	host := netconf.HostPort(target)
	if timeout <= 0 || timeout > 5*time.Second {
		timeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("target %s unreachable: %w (is the server running, and is %s right?)", target, err, flag)
	}
	conn.Close()
	return nil
}
