package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/traffic"
)

// Event is one record at its intended time.
type Event struct {
	// Seq numbers events in schedule order, from 0.
	Seq uint64
	// At is the intended offset from the start of the run.
	At     time.Duration
	Record traffic.Record
	// Copy is the traffic copy the event belongs to, from 0.
	Copy int
	// Round numbers the copy's passes over the corpus, from 0: a loop
	// repetition, or a restart after the stages stopped the copy, is a new
	// round with identities of its own.
	Round int
	// Pos is the record's position in its pass over the corpus, from 0:
	// the same for every copy and round of one record.
	Pos uint64
	// Facts is what is known about the record, shared by every copy and
	// round of it (nil for a close the schedule made up for a connection
	// the corpus left open).
	Facts *analysis.Facts
}

// Identity names the identity set of the event's copy and round: "" for
// the first round of copy 0 (the recorded identities), "3" for the first
// round of copy 3, "3.2" for its third round.
func (e Event) Identity() string { return identity(e.Copy, e.Round) }

func identity(c, round int) string {
	switch {
	case c == 0 && round == 0:
		return ""
	case round == 0:
		return strconv.Itoa(c)
	}
	return strconv.Itoa(c) + "." + strconv.Itoa(round)
}

// Options shapes a schedule. The zero value replays the corpus once at
// recorded speed.
type Options struct {
	// Speed compresses time: 10 fires ten times faster. Zero means 1.
	Speed float64
	// Shard and Shards select the flows of Shard (0-based) of Shards;
	// zero Shards means all. Every copy of a flow goes to the flow's
	// shard.
	Shard, Shards int
	// ShardOf gives the shard (0 to n-1) of a flow: whole recorded users
	// to one shard (analysis.Users.Shard). Nil hashes the flow's name.
	ShardOf func(flow string, n int) int
	// Window is the longest reorder window in corpus time (default 10s);
	// the window in use adapts to the disorder the corpus shows.
	Window time.Duration
	// Disorder is the disorder the corpus is known to have
	// (Survey.Disorder): the reorder window holds twice it from the first
	// record, where it would otherwise learn it as records come, and a
	// long exchange at the start of a corpus written in completion order
	// would go out late.
	Disorder time.Duration
	// MaxGap cuts any gap between consecutive records longer than it down
	// to it (corpus time, before Speed): idle stretches of a corpus, such
	// as a HAR assembled from sessions days apart, are skipped. Zero keeps
	// every gap.
	MaxGap time.Duration

	// Multiply runs this many copies of the traffic (or VUs, with VU) at
	// once (0 means 1), when Stages is empty.
	Multiply int
	// Stages shapes the number of active copies (or VUs, with VU) over
	// run time: copy k runs while the target is above k.
	Stages []Stage
	// Stagger spreads the copies' starts: copy k of N starts k*Stagger/N
	// after the moment it becomes active. Zero starts them together.
	Stagger time.Duration
	// Loop repeats the corpus: when a copy's pass ends, the copy starts
	// another with fresh identities, one loop period after the last one
	// started, until its stages stop it or Duration passes. Loop needs
	// Stages or Duration, and Reopen.
	Loop bool
	// Period is the loop period: how long after a round starts its copy
	// starts the next. Zero estimates it from the first pass: the corpus
	// span plus one mean gap between records (Survey.LoopPeriod), at
	// Speed.
	Period time.Duration
	// Duration ends the plan: no event is intended after it (zero: no
	// cap).
	Duration time.Duration
	// Reopen returns a new source over the same corpus (closed by the
	// schedule when it implements io.Closer). It is needed by Loop, and
	// by stages that start copies more than 30s apart: copies starting
	// within 30s of each other share one read of the corpus.
	Reopen func(ctx context.Context) (traffic.Source, error)
	// Analyzer derives the facts of every record read (nil: one with
	// default options).
	Analyzer *analysis.Analyzer

	// VU runs k6 virtual users instead of copies of the corpus: Multiply
	// (0 means 1) and Stages then count VUs. A VU replays one recorded
	// user per iteration (see the package documentation), so Reopen is
	// needed, and Prepare reads the source once before the first event.
	VU bool
	// UserOf gives the recorded user of a flow (analysis.Users.ID), for
	// virtual users; nil makes every flow a user of its own.
	UserOf func(flow string) string
	// GracefulRampDown is how long a VU that the stages stop may go on
	// to finish the iteration under way (k6's gracefulRampDown; the CLI
	// defaults to 30s); what is left after it is cut. The end of the
	// stages or of Duration cuts at once.
	GracefulRampDown time.Duration
	// OnIteration, when set, is told when each VU iteration starts and
	// ends (called from Next, in schedule order).
	OnIteration func(Iteration)
}

// DefaultWindow is the default reorder window.
const DefaultWindow = 10 * time.Second

// attachWindow is how far apart in run time copies may start and still
// share one read of the corpus; records are held in memory that long.
const attachWindow = 30 * time.Second

// connShift places the round number above the recorded connection id in
// the ConnIDs of copies: (round serial << connShift) | recorded id.
const connShift = 40

// maxStagger bounds Options.Stagger.
const maxStagger = time.Hour

// Validate checks o.
func (o Options) Validate() error {
	if o.Speed < 0 || math.IsNaN(o.Speed) || math.IsInf(o.Speed, 0) {
		return fmt.Errorf("speed %v must be positive", o.Speed)
	}
	if o.MaxGap < 0 {
		return fmt.Errorf("max gap %v must not be negative", o.MaxGap)
	}
	if o.Shards < 0 || (o.Shards > 0 && (o.Shard < 0 || o.Shard >= o.Shards)) {
		return fmt.Errorf("shard %d/%d out of range: want 0 <= i < N", o.Shard, o.Shards)
	}
	if o.Window < 0 || o.Disorder < 0 {
		return errors.New("reorder window must not be negative")
	}
	if o.Multiply < 0 || o.Multiply > MaxCopies {
		return fmt.Errorf("multiply %d out of range: want 1 to %d copies", o.Multiply, MaxCopies)
	}
	if err := validateStages(o.Stages); err != nil {
		return err
	}
	if len(o.Stages) > 0 && Peak(o.Stages) <= 0 {
		return errors.New("the stages never ask for a copy: give a target above 0")
	}
	if o.Stagger < 0 || o.Stagger > maxStagger {
		return fmt.Errorf("stagger %v out of range: want 0 to %v", o.Stagger, maxStagger)
	}
	if o.Duration < 0 || o.Period < 0 {
		return errors.New("duration and loop period must not be negative")
	}
	if o.Loop && !o.VU && len(o.Stages) == 0 && o.Duration == 0 {
		return errors.New("looping needs an end: give a duration or stages")
	}
	if o.GracefulRampDown < 0 || o.GracefulRampDown > maxStagger {
		return fmt.Errorf("graceful ramp-down %v out of range: want 0 to %v", o.GracefulRampDown, maxStagger)
	}
	return nil
}

// Stats counts what the schedule did.
type Stats struct {
	Read    int64 // records read from the source (every pass)
	Emitted int64 // events emitted
	Skipped int64 // records of other shards, and headers
	// Late counts events emitted out of order: their record arrived after
	// a later-starting record had gone out (later than the reorder
	// window); they go out at once.
	Late int64
	// First and Last are the corpus offsets of the first and last emitted
	// records.
	First, Last time.Duration
	// Copies is the most copies the plan runs at once (with virtual
	// users, the most VUs of the whole run).
	Copies int
	// Rounds counts the copy rounds started (passes of a copy over the
	// corpus, or VU iterations); Stopped those its stages or Duration
	// ended early.
	Rounds, Stopped int64
	// VUs is the number of virtual users this schedule runs (its shard's
	// share of Copies); Iterations counts the VU iterations that ran
	// whole and Cut those cut short, once their last event went out.
	VUs             int
	Iterations, Cut int64
	// Passes counts reads of the corpus.
	Passes int64
	// Period is the loop period (zero without Loop, or until known).
	Period time.Duration
}

// Schedule yields events from a source: every copy's records at their
// intended times, merged in time order.
type Schedule struct {
	src     traffic.Source
	srcUsed bool
	opts    Options
	stages  []Stage
	copies  int

	planned     []*instance // copy activations, by start
	nextPlanned int
	passes      []*pass
	out         outHeap
	pushes      uint64
	seq         uint64
	rounds      []int // next round per copy
	serial      uint64
	lastAt      time.Duration
	stats       Stats
	err         error

	// virtual users (Options.VU)
	prepared bool
	users    []User
	userByID map[string]*User
	vus      *vuPlan
}

// instance is one round of one copy: a pass of the copy over the corpus.
type instance struct {
	copy, life, round int
	base, stop        time.Duration // first event's offset; no event at or after stop
	suffix            string        // appended to flow keys
	connTag           uint64        // 0 for the recorded connection ids

	// open holds the WebSocket connections queued open and not closed
	// (recorded id -> flow), closed for the copy when it stops or, when
	// looping, when its round ends.
	open      map[uint64]string
	last      time.Duration // latest event queued
	lastPos   uint64
	lastStart time.Duration

	// A VU iteration (vu): base is its start, end its planned end (or
	// its stop when that comes first), open0 when its read of the corpus
	// starts (a step of the vuShare grid). It replays user's records,
	// timed by clock; seen counts them, queued its events not yet handed
	// out.
	vu                bool
	user              *User
	end, open0        time.Duration
	clock             userClock
	seen, queued      int64
	startedOut, ended bool
	cut, reported     bool
}

// pass is one read of the corpus feeding the instances attached to it.
type pass struct {
	feed    *feed
	insts   []*instance
	minBase time.Duration
	head    traffic.Record
	headFx  *analysis.Facts
	headPos uint64
	late    bool
	hasHead bool
	looped  bool

	// A read for VU iterations: its phase (when it started: the open0
	// of its iterations) and the cached bound of its next record.
	vu    bool
	phase time.Duration
	bnd   time.Duration
	bndOK bool
}

// New plans src with opts.
func New(src traffic.Source, opts Options) (*Schedule, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.Analyzer == nil {
		opts.Analyzer = analysis.NewAnalyzer(analysis.Options{})
	}
	s := &Schedule{src: src, opts: opts}
	if len(opts.Stages) > 0 {
		s.stages = append([]Stage(nil), opts.Stages...)
		s.copies = copiesOf(s.stages)
	} else {
		s.copies = max(opts.Multiply, 1)
	}
	s.rounds = make([]int, s.copies)
	if opts.VU {
		if opts.Reopen == nil {
			return nil, errors.New("virtual users read the corpus more than once: give Reopen")
		}
		s.stats.Copies = s.copies
		opts.Analyzer.Keep(true)
		return s, nil
	}
	s.plan()
	opts.Analyzer.Keep(opts.Loop || s.groups() > 1)
	if opts.Reopen == nil && (opts.Loop || s.groups() > 1) {
		return nil, errors.New("this plan reads the corpus more than once: give Reopen")
	}
	s.stats.Copies = s.copies
	s.stats.Period = opts.Period
	return s, nil
}

// plan lists every copy activation: one per span in which the stages keep
// the copy active (one, unbounded, without stages).
func (s *Schedule) plan() {
	end := time.Duration(math.MaxInt64)
	if s.opts.Duration > 0 {
		end = s.opts.Duration + 1
	}
	for k := 0; k < s.copies; k++ {
		off := time.Duration(int64(s.opts.Stagger) * int64(k) / int64(s.copies))
		spans := []span{{0, math.MaxInt64}}
		if len(s.stages) > 0 {
			spans = activeSpans(s.stages, k)
		}
		for life, sp := range spans {
			base, stop := sp.from+off, min(sp.to, end)
			if base >= stop {
				continue
			}
			in := &instance{copy: k, life: life, base: base, stop: stop}
			switch {
			case k == 0 && life == 0:
			case life == 0:
				in.suffix = "#" + strconv.Itoa(k)
			default:
				in.suffix = "#" + strconv.Itoa(k) + "." + strconv.Itoa(life)
			}
			s.planned = append(s.planned, in)
		}
	}
	sort.SliceStable(s.planned, func(i, j int) bool { return s.planned[i].base < s.planned[j].base })
}

// groups counts the reads of the corpus the planned activations need.
func (s *Schedule) groups() int {
	n := 0
	for i := 0; i < len(s.planned); {
		first := s.planned[i].base
		for i < len(s.planned) && s.planned[i].base <= first+attachWindow {
			i++
		}
		n++
	}
	return n
}

// Stats returns the counters so far.
func (s *Schedule) Stats() Stats { return s.stats }

// Speed returns the effective speed.
func (s *Schedule) Speed() float64 { return s.opts.Speed }

// Copies returns the most copies the plan runs at once (zero with
// virtual users: see VUs).
func (s *Schedule) Copies() int {
	if s.opts.VU {
		return 0
	}
	return s.copies
}

// VUs returns the number of virtual users the schedule runs (its shard's
// share with Options.Shards; zero without virtual users), once prepared.
func (s *Schedule) VUs() int { return s.stats.VUs }

// Varies reports whether some event is not copy 0's first pass (an
// Event.Identity other than ""): more than one copy, loops, virtual users,
// or a copy that the stages stop and start again. Those events need
// identities of their own (correlate.Identities).
func (s *Schedule) Varies() bool {
	return s.opts.VU || s.copies > 1 || s.opts.Loop || len(s.planned) > 1
}

// Close releases the sources the schedule opened with Reopen. The
// schedule ends (io.EOF) after Close.
func (s *Schedule) Close() error {
	for _, p := range s.passes {
		p.feed.shut()
	}
	s.passes = nil
	s.nextPlanned = len(s.planned)
	s.out = nil
	s.vus = nil
	if s.err == nil {
		s.err = io.EOF
	}
	return nil
}

// Next returns the next event, io.EOF after the last.
func (s *Schedule) Next(ctx context.Context) (Event, error) {
	if !s.prepared {
		if err := s.Prepare(ctx); err != nil {
			return Event{}, err
		}
	}
	for {
		if s.err != nil {
			return Event{}, s.err
		}
		bound, act := s.bound()
		// An event goes out once nothing not yet queued can be earlier.
		if s.out.Len() > 0 && (act.kind == actNone || s.out[0].at <= bound) {
			return s.pop(), nil
		}
		var err error
		switch act.kind {
		case actNone:
			return Event{}, io.EOF
		case actGroup:
			err = s.openGroup(ctx)
		case actAdvance:
			if act.p.vu {
				err = s.advanceVU(ctx, act.p)
			} else {
				err = s.advance(ctx, act.p)
			}
		case actGenerate:
			s.generate()
		case actOpen:
			err = s.openVU(ctx)
		}
		if err != nil {
			for _, p := range s.passes {
				p.feed.shut()
			}
			s.passes = nil
			s.err = err
			return Event{}, err
		}
	}
}

// What Next does to learn more.
const (
	actNone     = iota
	actAdvance  // read or queue the next record of a pass
	actGroup    // start the next planned copy activations
	actGenerate // plan the next VU iteration
	actOpen     // put the next planned VU iteration on a read
)

type action struct {
	kind int
	p    *pass
}

// bound finds the earliest time anything not yet queued may be due: a
// pass's next record (at least its earliest base when not yet read), the
// next planned activation, or the next VU iteration to plan or open;
// action says what to do to learn more.
func (s *Schedule) bound() (time.Duration, action) {
	var b time.Duration
	act := action{kind: actNone}
	consider := func(t time.Duration, a action) {
		if act.kind == actNone || t < b {
			b, act = t, a
		}
	}
	// A VU iteration due now is planned and opened before a read
	// advances, so that iterations starting together share the read.
	if t, ok := s.generateBound(); ok {
		consider(t, action{kind: actGenerate})
	}
	if t, ok := s.openBound(); ok {
		consider(t, action{kind: actOpen})
	}
	for _, p := range s.passes {
		var pb time.Duration
		if p.vu {
			if !p.bndOK {
				p.bnd, p.bndOK = s.vuBound(p), true
			}
			pb = p.bnd
		} else {
			pb = p.minBase
			if p.hasHead {
				pb += s.scale(p.feed.rel(p.head.Start()))
			}
		}
		consider(pb, action{kind: actAdvance, p: p})
	}
	if s.nextPlanned < len(s.planned) {
		consider(s.planned[s.nextPlanned].base, action{kind: actGroup})
	}
	return b, act
}

func (s *Schedule) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.opts.Speed)
}

// openGroup starts the next planned activations that begin within the
// attach window, on a new read of the corpus.
func (s *Schedule) openGroup(ctx context.Context) error {
	first := s.planned[s.nextPlanned].base
	var group []*instance
	for s.nextPlanned < len(s.planned) && s.planned[s.nextPlanned].base <= first+attachWindow {
		group = append(group, s.planned[s.nextPlanned])
		s.nextPlanned++
	}
	return s.startPass(ctx, group)
}

func (s *Schedule) startPass(ctx context.Context, insts []*instance) error {
	src, closer := s.src, func() error { return nil }
	if s.srcUsed {
		var err error
		src, err = s.opts.Reopen(ctx)
		if err != nil {
			return fmt.Errorf("reopen corpus: %w", err)
		}
		closer = func() error { return nil }
		if c, ok := src.(io.Closer); ok {
			closer = c.Close
		}
	}
	s.srcUsed = true
	minBase := insts[0].base
	for _, in := range insts {
		in.round = s.rounds[in.copy]
		s.rounds[in.copy]++
		if in.copy != 0 || in.round != 0 {
			s.serial++
			in.connTag = s.serial
		}
		minBase = min(minBase, in.base)
		s.stats.Rounds++
	}
	s.passes = append(s.passes, &pass{feed: newFeed(src, closer, &s.opts), insts: insts, minBase: minBase})
	s.stats.Passes++
	return nil
}

// advance reads the next record of p, or queues the events of the record
// read before for every copy on p.
func (s *Schedule) advance(ctx context.Context, p *pass) error {
	if !p.hasHead {
		rec, pos, late, err := p.feed.next(ctx)
		s.stats.Read, s.stats.Skipped = s.stats.Read+p.feed.read, s.stats.Skipped+p.feed.skipped
		p.feed.read, p.feed.skipped = 0, 0
		if err == io.EOF {
			if err := s.loop(ctx, p); err != nil {
				return err
			}
			if s.opts.Loop {
				for _, in := range p.insts {
					s.closeOpen(in, in.last, "end of round")
				}
			}
			s.endPass(p)
			return nil
		}
		if err != nil {
			return err
		}
		p.head, p.headPos, p.late, p.hasHead = rec, pos, late, true
		p.headFx = s.opts.Analyzer.Record(pos, rec)
		if p.feed.srcEOF {
			// The source is drained: plan the next round now, so its
			// read is under way before it is due.
			return s.loop(ctx, p)
		}
		return nil
	}
	p.hasHead = false
	rel := s.scale(p.feed.rel(p.head.Start()))
	live := p.insts[:0]
	for _, in := range p.insts {
		at := in.base + rel
		if at >= in.stop {
			if p.late {
				live = append(live, in)
				continue
			}
			// Stopped: its later records are later still.
			s.stats.Stopped++
			s.closeOpen(in, in.stop-1, "copy stopped")
			continue
		}
		s.queue(at, p.head, p.headFx, p.headPos, in)
		live = append(live, in)
	}
	p.insts = live
	if len(live) == 0 {
		s.endPass(p)
		return nil
	}
	p.minBase = live[0].base
	for _, in := range live {
		p.minBase = min(p.minBase, in.base)
	}
	return nil
}

// queue adds the event of rec for in at at.
func (s *Schedule) queue(at time.Duration, rec traffic.Record, fx *analysis.Facts, pos uint64, in *instance) {
	switch rec.Kind {
	case traffic.KindWSOpen:
		if in.open == nil {
			in.open = map[uint64]string{}
		}
		in.open[rec.WSOpen.ConnID] = rec.WSOpen.Flow
	case traffic.KindWSClose:
		delete(in.open, rec.WSClose.ConnID)
	}
	in.last, in.lastPos, in.lastStart = max(in.last, at), pos, rec.Start()
	in.queued++
	s.pushes++
	heap.Push(&s.out, outEv{at: at, seq: s.pushes, rec: rec, fx: fx, pos: pos, in: in})
}

// closeOpen queues a normal client close, at at (never before the
// copy's last event), for every WebSocket connection in left open.
func (s *Schedule) closeOpen(in *instance, at time.Duration, reason string) {
	if len(in.open) == 0 {
		return
	}
	ids := make([]uint64, 0, len(in.open))
	for id := range in.open {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	at = max(at, in.last)
	for _, id := range ids {
		cl := &traffic.WSClose{Flow: in.open[id], ConnID: id, Start: in.lastStart, FromClient: true, Code: traffic.CloseNormal, Reason: reason}
		s.queue(at, traffic.Record{Kind: traffic.KindWSClose, WSClose: cl}, nil, in.lastPos, in)
	}
}

// loop starts the next round of p's copies once p's source is drained.
func (s *Schedule) loop(ctx context.Context, p *pass) error {
	if p.looped || !s.opts.Loop {
		return nil
	}
	p.looped = true
	f := p.feed
	n := int64(f.pos) + int64(f.pending.Len()) // records in the pass
	if n == 0 {
		return nil // an empty corpus does not loop
	}
	if s.stats.Period == 0 {
		s.stats.Period = Survey{Records: n, First: f.origin, Last: f.maxSeen}.LoopPeriod(s.opts.Speed)
	}
	var next []*instance
	for _, in := range p.insts {
		nb := in.base + s.stats.Period
		if nb >= in.stop {
			continue
		}
		next = append(next, &instance{copy: in.copy, life: in.life, base: nb, stop: in.stop, suffix: in.suffix})
	}
	if len(next) == 0 {
		return nil
	}
	return s.startPass(ctx, next)
}

func (s *Schedule) endPass(p *pass) {
	p.feed.shut()
	for i, q := range s.passes {
		if q == p {
			s.passes = append(s.passes[:i], s.passes[i+1:]...)
			break
		}
	}
}

func (s *Schedule) pop() Event {
	e := heap.Pop(&s.out).(outEv)
	if s.stats.Emitted > 0 && e.at < s.lastAt {
		s.stats.Late++
	}
	s.lastAt = max(s.lastAt, e.at)
	start := e.rec.Start()
	if s.stats.Emitted == 0 || start < s.stats.First {
		s.stats.First = start
	}
	if start > s.stats.Last {
		s.stats.Last = start
	}
	s.stats.Emitted++
	ev := Event{Seq: s.seq, At: e.at, Record: rename(e.rec, e.in), Copy: e.in.copy, Round: e.in.round, Pos: e.pos, Facts: e.fx}
	s.seq++
	if in := e.in; in.vu {
		if !in.startedOut {
			in.startedOut = true
			s.reportStart(in)
		}
		if in.queued--; in.queued == 0 && in.ended {
			s.reportEnd(in)
		}
	} else {
		e.in.queued--
	}
	return ev
}

// rename gives a record the flow key and connection id of its copy and
// round: flow "F#k" (life n>0 of a copy: "F#k.n"), connection ids above
// the recorded ones. The record is copied, never changed in place.
func rename(rec traffic.Record, in *instance) traffic.Record {
	if in.suffix == "" && in.connTag == 0 {
		return rec
	}
	conn := func(id uint64) uint64 {
		if in.connTag == 0 {
			return id
		}
		return in.connTag<<connShift | id&(1<<connShift-1)
	}
	switch rec.Kind {
	case traffic.KindExchange:
		x := *rec.Exchange
		x.Flow, x.ConnID = x.Flow+in.suffix, conn(x.ConnID)
		rec.Exchange = &x
	case traffic.KindWSOpen:
		o := *rec.WSOpen
		o.Flow, o.ConnID = o.Flow+in.suffix, conn(o.ConnID)
		o.Upgrade.Flow, o.Upgrade.ConnID = o.Upgrade.Flow+in.suffix, conn(o.Upgrade.ConnID)
		rec.WSOpen = &o
	case traffic.KindWSMessage:
		m := *rec.WSMessage
		m.Flow, m.ConnID = m.Flow+in.suffix, conn(m.ConnID)
		rec.WSMessage = &m
	case traffic.KindWSClose:
		c := *rec.WSClose
		c.Flow, c.ConnID = c.Flow+in.suffix, conn(c.ConnID)
		rec.WSClose = &c
	}
	return rec
}

type outEv struct {
	at  time.Duration
	seq uint64
	rec traffic.Record
	fx  *analysis.Facts
	pos uint64
	in  *instance
}

type outHeap []outEv

func (h outHeap) Len() int { return len(h) }
func (h outHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h outHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *outHeap) Push(x any)   { *h = append(*h, x.(outEv)) }
func (h *outHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = outEv{}
	*h = old[:len(old)-1]
	return x
}
