package schedule

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/traffic"
)

// User is one recorded user as virtual users replay it, as Prepare found
// it in a pass over the corpus (the selected shard's records, in the
// order the schedule replays them).
type User struct {
	// ID names the user (Options.UserOf of its flows).
	ID string
	// First is the corpus start of its first record.
	First time.Duration
	// Last is the offset of its last record's start from First, and
	// Length the offset of the end of its last record (its recorded
	// duration included): corpus time, gaps longer than Options.MaxGap
	// cut down to it, before Speed.
	Last, Length time.Duration
	// Records counts its records.
	Records int64
}

// Iteration is one iteration of a virtual user: one pass of one recorded
// user's traffic. Options.OnIteration is told of it twice: when its first
// event is handed out, and when its last one is (Done).
type Iteration struct {
	// VU and Round are the Copy and Round of the iteration's events: the
	// virtual user (0-based, over every shard) and its iteration count.
	VU, Round int
	// User is the recorded user replayed.
	User string
	// Start is the intended time of its first event.
	Start time.Duration
	// Last is the intended time of its last event (when Done).
	Last time.Duration
	// End is when the iteration ends (when Done): the end of its user's
	// last record at Speed when it ran whole, else when it was cut.
	End time.Duration
	// Done is set on the second call; Complete says whether the
	// iteration ran whole (false: the run's end or a ramp-down cut it).
	Done, Complete bool
}

// DefaultGracefulRampDown is how long a virtual user that a ramp-down
// stops may go on to finish its iteration, as k6's gracefulRampDown.
const DefaultGracefulRampDown = 30 * time.Second

// minIteration is the shortest iteration: the next iteration of a VU
// starts at least this long after the start of the last record of its
// previous one, so a user of one instantaneous record cannot loop at no
// cost, and a VU's iterations never share an instant.
const minIteration = time.Millisecond

// maxLookahead bounds how far ahead of its start an iteration's read of
// the corpus may begin (to reach its user's first record at recorded
// pace): iterations are planned that far ahead, so it bounds the plans
// held. A user further into the corpus than this (at Speed) is reached by
// reading the rest at once.
const maxLookahead = 5 * time.Minute

// vuShare is the grid of the reads of VU iterations: an iteration's read
// starts at the last multiple of vuShare before it must (to reach its
// user at its start), so the iterations whose reads fall in one step of
// the grid share one read, and each has its events read at most vuShare
// before they are due (what memory holds of them).
const vuShare = 10 * time.Second

// floorTo rounds t down to a multiple of q.
func floorTo(t, q time.Duration) time.Duration {
	m := t % q
	if m < 0 {
		m += q
	}
	return t - m
}

// userClock times one user's records: the offset of each from the user's
// first record, gaps longer than maxGap cut down to it.
type userClock struct {
	started     bool
	first, last time.Duration // first record's start; latest start seen
	idle        time.Duration
}

func (c *userClock) at(start, maxGap time.Duration) time.Duration {
	if !c.started {
		c.started, c.first, c.last = true, start, start
		return 0
	}
	if start > c.last {
		if maxGap > 0 && start-c.last > maxGap {
			c.idle += start - c.last - maxGap
		}
		c.last = start
	}
	return max(start-c.first-c.idle, 0)
}

// rel is the offset of the latest start seen.
func (c *userClock) rel() time.Duration { return max(c.last-c.first-c.idle, 0) }

// recordDuration is how long a record took in the recording: an
// exchange's or upgrade's total time, zero for WebSocket messages and
// closes.
func recordDuration(rec traffic.Record) time.Duration {
	switch rec.Kind {
	case traffic.KindExchange:
		return max(rec.Exchange.Timing.Total, 0)
	case traffic.KindWSOpen:
		return max(rec.WSOpen.Upgrade.Timing.Total, 0)
	}
	return 0
}

// vuState is one virtual user of this schedule.
type vuState struct {
	k, j    int    // index over every shard, index among this shard's VUs
	lives   []span // when the stages keep it active
	life    int
	next    time.Duration // start of its next iteration
	prevEnd time.Duration // end (or cut) of its previous iteration
	round   int
	off     time.Duration // its stagger
}

// vuPlan generates the iterations of the virtual users in start order.
type vuPlan struct {
	vus       vuHeap   // by next start
	pending   instHeap // planned iterations not yet on a read, by open time
	n         int      // VUs this schedule runs
	shared    bool     // no end: max(users, VUs) iterations, each user at least once
	runEnd    time.Duration
	stagesEnd time.Duration
	lookahead time.Duration
	minFirst  time.Duration
}

// Prepare reads what the plan needs before the run starts. With virtual
// users (Options.VU) it reads the source once, derives the facts of
// every record (so values are classified in corpus order) and finds the
// users and their spans; the iterations then read the corpus through
// Options.Reopen. Without virtual users it does nothing. Next calls it
// when it was not called.
func (s *Schedule) Prepare(ctx context.Context) error {
	if s.prepared || s.err != nil {
		return s.err
	}
	s.prepared = true
	if !s.opts.VU {
		return nil
	}
	users, err := s.scanUsers(ctx)
	if err != nil {
		s.err = err
		return err
	}
	s.users = users
	s.userByID = make(map[string]*User, len(users))
	for i := range s.users {
		s.userByID[s.users[i].ID] = &s.users[i]
	}
	s.planVUs()
	return nil
}

// Users returns the recorded users virtual users replay (after Prepare),
// by first record.
func (s *Schedule) Users() []User { return s.users }

// userOf returns the user a flow belongs to.
func (s *Schedule) userOf(flow string) string {
	if s.opts.UserOf != nil {
		return s.opts.UserOf(flow)
	}
	return flow
}

// scanUsers reads the source through a feed (the shard's records in
// replay order) and returns its users.
func (s *Schedule) scanUsers(ctx context.Context) ([]User, error) {
	f := newFeed(s.src, nil, &s.opts)
	s.srcUsed = true
	type scan struct {
		u     *User
		clock userClock
	}
	byID := map[string]*scan{}
	var order []*scan
	for {
		rec, pos, _, err := f.next(ctx)
		s.stats.Read, s.stats.Skipped = s.stats.Read+f.read, s.stats.Skipped+f.skipped
		f.read, f.skipped = 0, 0
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		s.opts.Analyzer.Record(pos, rec)
		id := s.userOf(rec.Flow())
		sc := byID[id]
		if sc == nil {
			sc = &scan{u: &User{ID: id, First: rec.Start()}}
			byID[id] = sc
			order = append(order, sc)
		}
		rel := sc.clock.at(rec.Start(), s.opts.MaxGap)
		sc.u.Last = max(sc.u.Last, rel)
		sc.u.Length = max(sc.u.Length, rel+recordDuration(rec))
		sc.u.Records++
	}
	s.stats.Passes++
	users := make([]User, len(order))
	for i, sc := range order {
		users[i] = *sc.u
	}
	sort.SliceStable(users, func(i, j int) bool {
		if users[i].First != users[j].First {
			return users[i].First < users[j].First
		}
		return users[i].ID < users[j].ID
	})
	return users, nil
}

// iterationLength is how long an iteration of u lasts at Speed: to the
// end of its last record, and at least minIteration past the start of
// it.
func (s *Schedule) iterationLength(u *User) time.Duration {
	return max(s.scale(u.Length), s.scale(u.Last)+minIteration)
}

// planVUs sets up the virtual users of this shard: VU k of the whole run
// belongs to shard k mod Shards.
func (s *Schedule) planVUs() {
	p := &vuPlan{runEnd: math.MaxInt64, stagesEnd: math.MaxInt64}
	if s.opts.Duration > 0 {
		p.runEnd = s.opts.Duration + 1
	}
	if len(s.stages) > 0 {
		p.stagesEnd = StagesDuration(s.stages)
		p.runEnd = min(p.runEnd, p.stagesEnd)
	}
	p.shared = len(s.stages) == 0 && s.opts.Duration == 0
	if len(s.users) > 0 {
		p.minFirst = s.users[0].First
		maxFirst := p.minFirst
		for _, u := range s.users {
			maxFirst = max(maxFirst, u.First)
		}
		p.lookahead = min(s.scale(maxFirst-p.minFirst), maxLookahead)
	}
	shards := max(s.opts.Shards, 1)
	for k := 0; k < s.copies; k++ {
		if k%shards != s.opts.Shard%shards {
			continue
		}
		v := &vuState{k: k, j: p.n, off: time.Duration(int64(s.opts.Stagger) * int64(k) / int64(s.copies))}
		p.n++
		v.lives = []span{{0, math.MaxInt64}}
		if len(s.stages) > 0 {
			v.lives = activeSpans(s.stages, k)
		}
		if len(v.lives) == 0 || len(s.users) == 0 {
			continue
		}
		v.next = v.lives[0].from + v.off
		heap.Push(&p.vus, v)
	}
	s.stats.VUs = p.n
	s.vus = p
}

// generateBound is the earliest time the next iteration still to plan
// may need its read opened.
func (s *Schedule) generateBound() (time.Duration, bool) {
	if s.vus == nil || len(s.vus.vus) == 0 {
		return 0, false
	}
	return s.vus.vus[0].next - s.vus.lookahead - vuShare, true
}

// generate plans the next iteration of the VU that starts one first.
func (s *Schedule) generate() {
	p := s.vus
	v := p.vus[0]
	for v.life < len(v.lives) && v.next >= min(v.lives[v.life].to, p.runEnd) {
		// Its life is over: on to the next one, never before its last
		// iteration ended.
		v.life++
		if v.life < len(v.lives) {
			v.next = max(v.lives[v.life].from+v.off, v.prevEnd)
		}
	}
	if v.life >= len(v.lives) {
		heap.Pop(&p.vus)
		return
	}
	g := v.j + v.round*p.n
	if p.shared && g >= max(len(s.users), p.n) {
		// Every user replayed, and every VU has had an iteration.
		heap.Pop(&p.vus)
		return
	}
	u := &s.users[g%len(s.users)]
	life := v.lives[v.life]
	start := v.next
	end := start + s.iterationLength(u)
	stop := p.runEnd
	if end > life.to {
		if life.to < p.stagesEnd && life.to < p.runEnd {
			// A ramp-down: the iteration may finish within the grace.
			stop = min(stop, life.to+s.opts.GracefulRampDown)
		} else {
			stop = min(stop, life.to)
		}
	}
	in := &instance{copy: v.k, life: v.life, round: v.round, vu: true, user: u, base: start, stop: stop, end: min(end, stop)}
	switch {
	case v.k == 0 && v.life == 0:
	case v.life == 0:
		in.suffix = "#" + strconv.Itoa(v.k)
	default:
		in.suffix = "#" + strconv.Itoa(v.k) + "." + strconv.Itoa(v.life)
	}
	if v.k != 0 || v.round != 0 {
		s.serial++
		in.connTag = s.serial
	}
	in.open0 = floorTo(max(start-s.scale(u.First-p.minFirst), start-p.lookahead), vuShare)
	heap.Push(&p.pending, in)
	v.round++
	v.prevEnd = in.end
	v.next = end
	heap.Fix(&p.vus, 0)
}

// openBound is the open time of the next planned iteration.
func (s *Schedule) openBound() (time.Duration, bool) {
	if s.vus == nil || len(s.vus.pending) == 0 {
		return 0, false
	}
	return s.vus.pending[0].open0, true
}

// openVU puts the next planned iteration on a read of the corpus: the
// read of its step of the grid (vuShare) when there is one that has not
// yet passed its user, else a new one.
func (s *Schedule) openVU(ctx context.Context) error {
	in := heap.Pop(&s.vus.pending).(*instance)
	s.stats.Rounds++
	for _, p := range s.passes {
		if p.vu && p.phase == in.open0 && (p.feed.pos == 0 || p.feed.emitted < in.user.First) {
			p.insts = append(p.insts, in)
			p.bndOK = false
			return nil
		}
	}
	if s.opts.Reopen == nil {
		return fmt.Errorf("virtual users read the corpus more than once: give Reopen")
	}
	src, err := s.opts.Reopen(ctx)
	if err != nil {
		return fmt.Errorf("reopen corpus: %w", err)
	}
	closer := func() error { return nil }
	if c, ok := src.(io.Closer); ok {
		closer = c.Close
	}
	s.passes = append(s.passes, &pass{feed: newFeed(src, closer, &s.opts), insts: []*instance{in}, vu: true, phase: in.open0})
	s.stats.Passes++
	return nil
}

// vuBound is the earliest time a record p has still to read may be due
// for one of its iterations.
func (s *Schedule) vuBound(p *pass) time.Duration {
	var h time.Duration
	switch {
	case p.hasHead:
		h = p.head.Start()
	case p.feed.pos > 0:
		h = p.feed.emitted
	default:
		h = s.vus.minFirst
	}
	b := time.Duration(math.MaxInt64)
	for _, in := range p.insts {
		var lb time.Duration
		if in.seen == 0 {
			lb = in.base - s.scale(max(in.user.First-h, 0))
		} else {
			gap := max(h-in.clock.last, 0)
			if g := s.opts.MaxGap; g > 0 {
				gap = min(gap, g)
			}
			lb = in.base + s.scale(in.clock.rel()+gap)
		}
		b = min(b, lb)
	}
	return b
}

// advanceVU reads the next record of p, or queues the record read before
// for the iterations on p whose user it belongs to.
func (s *Schedule) advanceVU(ctx context.Context, p *pass) error {
	p.bndOK = false
	if !p.hasHead {
		rec, pos, late, err := p.feed.next(ctx)
		s.stats.Read, s.stats.Skipped = s.stats.Read+p.feed.read, s.stats.Skipped+p.feed.skipped
		p.feed.read, p.feed.skipped = 0, 0
		if err == io.EOF {
			// The corpus ended before some user's last record (a
			// corpus that changed since Prepare read it).
			for _, in := range p.insts {
				s.endIteration(in, "end of iteration")
			}
			p.insts = nil
			s.endPass(p)
			return nil
		}
		if err != nil {
			return err
		}
		p.head, p.headPos, p.late, p.hasHead = rec, pos, late, true
		return nil
	}
	p.hasHead = false
	uid := s.userOf(p.head.Flow())
	var fx *analysis.Facts
	live := p.insts[:0]
	for _, in := range p.insts {
		if in.user.ID != uid {
			live = append(live, in)
			continue
		}
		rel := in.clock.at(p.head.Start(), s.opts.MaxGap)
		in.seen++
		at := in.base + s.scale(rel)
		if at >= in.stop {
			if !p.late {
				// Cut: its later records are later still.
				s.stats.Stopped++
				in.cut = true
				s.endIteration(in, "vu stopped")
				continue
			}
		} else {
			if fx == nil {
				fx = s.opts.Analyzer.Record(p.headPos, p.head)
			}
			s.queue(at, p.head, fx, p.headPos, in)
		}
		if in.seen >= in.user.Records {
			s.endIteration(in, "end of iteration")
			continue
		}
		live = append(live, in)
	}
	clear(p.insts[len(live):])
	p.insts = live
	if len(live) == 0 {
		s.endPass(p)
	}
	return nil
}

// endIteration queues a close for the WebSocket connections in left open
// (at its cut, or with its last event) and marks it ended: it is reported
// once its last event is handed out.
func (s *Schedule) endIteration(in *instance, reason string) {
	at := in.last
	if in.cut {
		at = in.stop - 1
	}
	s.closeOpen(in, at, reason)
	in.ended = true
	if in.queued == 0 {
		s.reportEnd(in)
	}
}

// reportStart and reportEnd tell Options.OnIteration.
func (s *Schedule) reportStart(in *instance) {
	if s.opts.OnIteration != nil {
		s.opts.OnIteration(Iteration{VU: in.copy, Round: in.round, User: in.user.ID, Start: in.base})
	}
}

func (s *Schedule) reportEnd(in *instance) {
	if in.reported {
		return
	}
	in.reported = true
	if !in.startedOut {
		// Nothing of it went out: it never started.
		return
	}
	if in.cut {
		s.stats.Cut++
	} else {
		s.stats.Iterations++
	}
	if s.opts.OnIteration != nil {
		end := in.end
		if in.cut {
			end = max(in.stop-1, in.last)
		}
		s.opts.OnIteration(Iteration{VU: in.copy, Round: in.round, User: in.user.ID, Start: in.base, Last: in.last,
			End: end, Done: true, Complete: !in.cut})
	}
}

type vuHeap []*vuState

func (h vuHeap) Len() int { return len(h) }
func (h vuHeap) Less(i, j int) bool {
	if h[i].next != h[j].next {
		return h[i].next < h[j].next
	}
	return h[i].k < h[j].k
}
func (h vuHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *vuHeap) Push(x any)   { *h = append(*h, x.(*vuState)) }
func (h *vuHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

type instHeap []*instance

func (h instHeap) Len() int { return len(h) }
func (h instHeap) Less(i, j int) bool {
	if h[i].open0 != h[j].open0 {
		return h[i].open0 < h[j].open0
	}
	return h[i].copy < h[j].copy
}
func (h instHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *instHeap) Push(x any)   { *h = append(*h, x.(*instance)) }
func (h *instHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
