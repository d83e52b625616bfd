package correlate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// maxPerFlow bounds the values remembered per flow.
const maxPerFlow = 1 << 13

// ErrDependency is returned by Wait when a producer failed.
var ErrDependency = errors.New("a response this request depends on failed")

// Planner adapts recorded requests to the live run: the engine asks it, in
// schedule order, for a Plan for every exchange, WebSocket upgrade and
// client text message (nil when there is nothing to do).
type Planner interface {
	Plan(ev schedule.Event) Plan
}

// Plan is what a Planner decided for one event.
type Plan interface {
	// Wait blocks until the responses this request depends on have
	// arrived; it fails when one of them failed.
	Wait(ctx context.Context) error
	// Live returns, once Wait returned, the pairs of recorded values and
	// the live values (or stand-ins) to send instead.
	Live() []string
	// NeedBody reports whether Done wants the response body.
	NeedBody() bool
	// Done hands over the live response (its body decoded, only when
	// NeedBody); err is set when there was none. Only the first call
	// counts.
	Done(status int, header http.Header, body []byte, err error)
	// Skip gives a reason not to send the request at all ("" to send it):
	// its body carries a redacted secret that no earlier response can
	// supply, so the live server could only refuse it. The engine then
	// calls Done with an error so dependents do not wait.
	Skip() string
}

// SkipRedacted is the Skip reason of a request whose body holds a redacted
// secret that no earlier response supplies (a login signature, a password).
const SkipRedacted = "redacted credentials in the request body"

// Correlator is the Planner that learns values from responses. Plan must
// be called from one goroutine in schedule order; the plans it returns are
// safe to use from any goroutine. One lane of a replay owns one
// Correlator: each target learns from its own responses.
type Correlator struct {
	// Pooled leaves the recorded credentials out of correlation: they are
	// sent as pool tokens (Identities.Tokens), so no login feeds them.
	// Set it before the first Plan.
	Pooled bool

	flows map[flowKey]*flowState
	// global indexes values unique enough to link across the flows of one
	// copy's round, first producer first, bounded.
	global      map[globalKey]*source
	globalOrder []globalKey
	// rounds holds each copy's current round and what it learned in it:
	// a copy's new round drops the state of its older ones.
	rounds map[int]*copyRound
	// producers are registered in order; retained sums what they hold.
	producers []producerReg
	retained  int64
	stats     Stats
	// planned counts Plan calls: a plan's lastUse and a producer's
	// queuing are told apart by it.
	planned uint64
}

// flowKey is a flow in one round of its copy: each copy (and each round
// of a looping copy) learns its values afresh from its own responses.
type flowKey struct {
	flow  string
	round int
}

// globalKey is a value in one copy's round.
type globalKey struct {
	value       string
	copy, round int
}

type copyRound struct {
	round  int
	flows  []flowKey
	global []globalKey
}

// maxGlobal bounds the values linked across flows.
const maxGlobal = 1 << 16

var _ Planner = (*Correlator)(nil)

// Stats counts what correlation did.
type Stats struct {
	// Links is the number of (request, value) substitutions planned.
	Links atomic.Int64
	// Misses counts values a live response did not have at the recorded
	// path (the recorded value was sent instead).
	Misses atomic.Int64
	// Producers counts responses that fed a later request.
	Producers atomic.Int64
	// Waits counts requests that wait for the answer to the request that
	// made a value they use (a client-made id), as the recording did.
	Waits atomic.Int64
	// Forgotten counts producers forgotten to bound memory (maxRetained).
	Forgotten atomic.Int64
	// Orders counts requests that wait for the answer to an earlier
	// request using the same value, as the recording did, when one of
	// the two changes something (a read before the delete, an update
	// after another): pairs of reads keep the open model.
	Orders atomic.Int64
}

type flowState struct {
	// values maps a recorded value to where it came from; a nil source
	// marks a value the client sent first.
	values map[string]*source
	order  []string // values with a source, in order of queuing (some may be gone)
	nsrc   int      // values with a source in values
	seen   []string // values the client sent first, oldest first
}

// maxSeen bounds the values a flow remembers the client sent first.
const maxSeen = 1 << 8

// source is where a value came from: a response (path is where the live
// value is found), or, for a value the client made (client), the request
// that sent it first, whose answer later uses wait for. uses are the
// latest exchanges that sent the value after its producer (at most
// maxUses), which later ones may have to follow.
type source struct {
	producer *plan
	// value is the recorded value: the live one is at its path in the
	// producer's response (the producer's recorded body, found when
	// first needed).
	value  string
	client bool
	// queued is when (Correlator.planned) it joined its flow's order.
	queued uint64
	// uses are the latest requests that used the value (at most
	// maxUses), for the order of writes after reads.
	uses []*plan
}

// maxUses bounds the earlier uses of a value a request may follow.
const maxUses = 8

// New returns an empty Correlator.
func New() *Correlator {
	return &Correlator{flows: map[flowKey]*flowState{}, global: map[globalKey]*source{}, rounds: map[int]*copyRound{}}
}

// global reports whether v is unique enough to be linked across flows: a
// redaction placeholder, or a random-looking id of at least 20 bytes.
func global(v string) bool {
	if isPlaceholder(v) {
		return true
	}
	return len(v) >= 20 && !strings.ContainsAny(v, " /")
}

func (c *Correlator) addGlobal(k globalKey, s *source) {
	if _, ok := c.global[k]; ok {
		return
	}
	if len(c.globalOrder) >= maxGlobal {
		delete(c.global, c.globalOrder[0])
		c.globalOrder = c.globalOrder[1:]
	}
	c.global[k] = s
	c.globalOrder = append(c.globalOrder, k)
	if len(c.globalOrder) > 2*len(c.global)+1024 {
		c.compactGlobal()
	}
	if cr := c.rounds[k.copy]; cr != nil && cr.round == k.round {
		cr.global = append(cr.global, k)
	}
}

// compactGlobal forgets the order of global values already dropped (by a
// copy's new round, or forgotten producers), so a long run keeps no trace
// of them.
func (c *Correlator) compactGlobal() {
	kept := c.globalOrder[:0]
	for _, g := range c.globalOrder {
		if _, ok := c.global[g]; ok {
			kept = append(kept, g)
		}
	}
	clear(c.globalOrder[len(kept):])
	c.globalOrder = kept
}

// flow returns the state of a flow in a copy's round. A copy's new round
// drops what its earlier rounds learned: their requests are all planned,
// since a round starts after the previous one's last event.
func (c *Correlator) flow(k flowKey, cp int) *flowState {
	if fs := c.flows[k]; fs != nil {
		return fs
	}
	cr := c.rounds[cp]
	if cr == nil {
		cr = &copyRound{round: k.round}
		c.rounds[cp] = cr
	}
	if k.round > cr.round {
		for _, old := range cr.flows {
			delete(c.flows, old)
		}
		for _, old := range cr.global {
			delete(c.global, old)
		}
		cr.round, cr.flows, cr.global = k.round, nil, nil
		if len(c.globalOrder) > 2*len(c.global)+1024 {
			c.compactGlobal()
		}
	}
	fs := &flowState{values: map[string]*source{}}
	c.flows[k] = fs
	if k.round == cr.round {
		cr.flows = append(cr.flows, k)
	}
	return fs
}

// Stats returns the counters.
func (c *Correlator) Stats() *Stats { return &c.stats }

// Plan implements Planner.
func (c *Correlator) Plan(ev schedule.Event) Plan {
	f := ev.Facts
	if f == nil {
		f = analysis.Of(ev.Record, analysis.Options{})
	}
	switch ev.Record.Kind {
	case traffic.KindExchange, traffic.KindWSOpen:
	case traffic.KindWSMessage:
		// A client's text message sends values back too (the id of a
		// session its HTTP requests created, in a session-alive event);
		// it is planned like a request whose body is the message.
		if m := ev.Record.WSMessage; !m.FromClient || m.Opcode != traffic.OpText {
			return nil
		}
	default:
		return nil
	}
	c.planned++
	fs := c.flow(flowKey{ev.Record.Flow(), ev.Round}, ev.Copy)
	p := &plan{stats: &c.stats} // its done channel is made if it is kept
	start := ev.Record.Start()
	switch ev.Record.Kind {
	case traffic.KindExchange:
		x := ev.Record.Exchange
		if x.Timing.Total > 0 {
			p.recordedEnd = x.Start + x.Timing.Total
		}
		if x.Response != nil {
			p.recordedStatus = x.Response.Status
		}
		p.reads = isRead(x.Request.Method)
	case traffic.KindWSOpen:
		p.reads = true
	}

	// Values the request sends: linked to their producer, or remembered
	// as the client's own.
	var reg producerReg
	for _, v := range f.Sends {
		if c.Pooled && contains(f.Credentials, v) {
			continue
		}
		src, known := fs.values[v]
		if !known {
			// A value unique enough to identify its producer across flows
			// (a placeholder, a long random id): a ticket fetched by a
			// user's request and used by a connection of its own flow.
			if g := c.global[globalKey{v, ev.Copy, ev.Round}]; g != nil && global(v) {
				src, known = g, true
			}
		}
		if !known {
			if contains(f.Makes, v) {
				// The client made it here: its later uses wait for this
				// request's answer when the recording shows they did.
				src := &source{producer: p, client: true}
				fs.add(v, src, c.planned)
				if global(v) {
					c.addGlobal(globalKey{v, ev.Copy, ev.Round}, src)
				}
				p.introduces = true
				reg.values = append(reg.values, v)
				continue
			}
			fs.add(v, nil, c.planned)
			continue
		}
		if src == nil || src.producer == p {
			continue
		}
		// In use: the memory bounds forget it last.
		src.producer.lastUse = c.planned
		if !isPlaceholder(v) && !contains(f.Credentials, v) {
			c.follow(p, src, start)
		}
		if src.client {
			// A value the client made earlier: nothing to substitute
			// (identities vary it), but the recorded client waited for
			// the request that made it, so the replay does too.
			if prod := src.producer; prod.recordedEnd > 0 && prod.recordedEnd <= start && !slices.Contains(p.after, prod) {
				p.after = append(p.after, prod)
				c.stats.Waits.Add(1)
			}
			continue
		}
		p.links = append(p.links, link{recorded: v, src: src, soft: isPlaceholder(v)})
		c.stats.Links.Add(1)
		if !src.producer.used.Swap(true) {
			c.stats.Producers.Add(1)
		}
	}
	// A redacted secret in the body that no response supplies: a proof of
	// identity (a login signature, a password) cannot be forged, so the
	// request is skipped; any other secret (an encryption key the server
	// only stores) gets a stand-in of the same shape.
	if ev.Record.Kind != traffic.KindWSMessage && len(f.Placeholders) > 0 {
		linked := map[string]bool{}
		for _, l := range p.links {
			linked[l.recorded] = true
		}
		for _, ph := range f.Placeholders {
			if linked[ph.Value] {
				continue
			}
			if analysis.ProofKeys[strings.ToLower(ph.Key)] {
				p.skip = SkipRedacted
				break
			}
			p.standIns = append(p.standIns, ph.Value, standIn(ph.Value))
		}
	}
	// Values the response returned that nobody sent before: this request
	// produces them.
	if !f.Response.Truncated {
		for _, v := range f.Returns {
			if !analysis.Dynamic(v) {
				continue
			}
			if _, known := fs.values[v]; known {
				continue
			}
			if !p.produces {
				// a copy of the recorded body, so the producer does not
				// hold on to the corpus block it was read from
				p.recorded = bytes.Clone(f.Response.Data)
				p.places = f.Places
			}
			src := &source{producer: p, value: v}
			fs.add(v, src, c.planned)
			if global(v) {
				c.addGlobal(globalKey{v, ev.Copy, ev.Round}, src)
			}
			p.produces = true
			reg.values = append(reg.values, v)
		}
	}
	if len(reg.values) > 0 {
		reg.plan, reg.key, reg.global = p, flowKey{ev.Record.Flow(), ev.Round}, globalKey{copy: ev.Copy, round: ev.Round}
		c.retain(reg)
	}
	if len(p.links) == 0 && len(p.after) == 0 && len(p.follows) == 0 && !p.produces && !p.introduces && !p.tracked && p.skip == "" && len(p.standIns) == 0 {
		return nil
	}
	p.done = make(chan struct{})
	return p
}

// follow makes p wait for the earlier uses of src's value whose answer the
// recorded client had before p started, unless both only read (a read
// cannot spoil another), and records p as a use for later requests. So a
// delete does not overtake the read of the same resource the client made
// just before it, even when both were free to go at once (they waited for
// the same create on a target slower than the recording): without it the
// server may handle the delete first and answer the read 404. Only
// exchanges with a recorded end are remembered: they are the ones whose
// answer is known to come (Done).
func (c *Correlator) follow(p *plan, src *source, start time.Duration) {
	for _, u := range src.uses {
		if u == p || u.recordedEnd <= 0 || u.recordedEnd > start || (u.reads && p.reads) {
			continue
		}
		if !slices.Contains(p.follows, u) && !slices.Contains(p.after, u) {
			p.follows = append(p.follows, u)
			c.stats.Orders.Add(1)
		}
	}
	if p.recordedEnd <= 0 || slices.Contains(src.uses, p) {
		return
	}
	if len(src.uses) == maxUses {
		copy(src.uses, src.uses[1:])
		src.uses = src.uses[:maxUses-1]
	}
	src.uses = append(src.uses, p)
	p.tracked = true
}

// isRead reports whether an HTTP method only reads.
func isRead(method string) bool {
	switch strings.ToUpper(method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// standIn is the value sent for a redacted secret no response supplies:
// base64 of a hash of the placeholder, so the same placeholder always maps
// to the same value and fields that must be base64 stay valid.
func standIn(placeholder string) string {
	sum := sha256.Sum256([]byte("reprise stand-in " + placeholder))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type link struct {
	recorded string
	src      *source
	soft     bool
}

// plan is one request's correlation: what it waits for and substitutes,
// and, as a producer, the live response others read.
type plan struct {
	links []link
	after []*plan // requests whose answer this one waits for
	// follows are earlier uses of a value this request uses, whose
	// answer it waits for; their failure is not its own (a read that
	// failed does not stop the delete after it).
	follows    []*plan
	reads      bool // an HTTP read (GET, HEAD, OPTIONS) or an upgrade
	tracked    bool // a later request may follow this one: Done must come
	produces   bool
	introduces bool // the request made a value later ones use
	skip       string
	standIns   []string // placeholder, stand-in pairs
	used       atomic.Bool
	stats      *Stats
	// lastUse is when (Correlator.planned) a later request last used a
	// value of this producer's; only Plan reads and writes it.
	lastUse uint64
	// recordedEnd is when the recorded exchange ended (0 if unknown),
	// recordedStatus its recorded status.
	recordedEnd    time.Duration
	recordedStatus int

	done   chan struct{} // closed by the first Done
	once   sync.Once
	failed bool // set before done closes

	// recorded is the recorded response of a producer; pathsOnce and
	// paths where each of its values is in its JSON body, places where
	// the others are (Facts.Places, shared: read only).
	recorded  []byte
	places    map[string]analysis.Place
	pathsOnce sync.Once
	paths     map[string][]any
	// liveHeader holds the live response's headers that places name (set
	// before done closes).
	liveHeader http.Header

	mu       sync.Mutex // guards live, liveHTML, parsed and body
	live     any        // parsed live body
	liveHTML map[analysis.HTMLPlace]string
	parsed   bool
	body     []byte
}

func (p *plan) Wait(ctx context.Context) error {
	for _, u := range p.follows {
		select {
		case <-u.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, prod := range p.after {
		select {
		case <-prod.done:
			if prod.failed {
				return ErrDependency
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, l := range p.links {
		select {
		case <-l.src.producer.done:
			if l.src.producer.failed && !l.soft {
				return ErrDependency
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *plan) Live() []string {
	pairs := append([]string(nil), p.standIns...)
	for _, l := range p.links {
		if l.src.producer.failed {
			continue // a soft link whose producer failed: keep the recorded value
		}
		path, found := l.src.producer.pathOf(l.src.value)
		if !found {
			p.stats.Misses.Add(1)
			continue
		}
		live, ok := l.src.producer.value(path)
		if !ok {
			p.stats.Misses.Add(1)
			continue
		}
		if live != l.recorded {
			pairs = append(pairs, l.recorded, live)
		}
	}
	return pairs
}

func (p *plan) NeedBody() bool { return p.produces }

func (p *plan) Skip() string { return p.skip }

// Done settles the plan. A request failed when it got no answer, or an
// error status the recording did not have (a recorded 404 answered 404
// again is what the client saw then, and went on).
func (p *plan) Done(status int, h http.Header, body []byte, err error) {
	p.once.Do(func() {
		p.failed = err != nil || status == 0 || status >= 400 && status != p.recordedStatus
		for _, pl := range p.places {
			if hp, ok := pl.(analysis.HeaderPlace); ok && h != nil {
				if p.liveHeader == nil {
					p.liveHeader = http.Header{}
				}
				p.liveHeader[hp.Header] = h.Values(hp.Header)
			}
		}
		if len(body) > 0 && p.produces {
			// the live body, at its own size (a read buffer has slack)
			p.body = bytes.Clone(body)
		}
		close(p.done)
	})
}

// pathOf returns where v is in the producer's recorded response: a place
// in its headers (a cookie it set, a Location, an ETag), in its HTML page
// (a meta or input), or in its JSON body.
func (p *plan) pathOf(v string) ([]any, bool) {
	if pl, ok := p.places[v]; ok {
		return []any{pl}, true
	}
	p.pathsOnce.Do(func() {
		p.paths = map[string][]any{}
		analysis.WalkJSON(p.recorded, func(path []any, s string) {
			if _, seen := p.paths[s]; !seen && analysis.Dynamic(s) {
				p.paths[s] = append([]any(nil), path...)
			}
		})
		p.recorded = nil
	})
	path, ok := p.paths[v]
	return path, ok
}

// producerReg is a producer's registration: the values it brought, for
// forgetting them when the correlator holds too much.
type producerReg struct {
	plan   *plan
	key    flowKey
	global globalKey // copy and round
	values []string
	bytes  int64
	// queued is when (Correlator.planned) it joined the queue.
	queued uint64
}

// maxRetained bounds what producers hold (their recorded and live
// responses, their values, the plans that wait on them): beyond it the
// least recently used are forgotten (a value of theirs used later is sent
// as recorded and counted as a miss; a use of a forgotten client-made
// value does not wait for its create). A login's token or a session a
// long recording keeps using is never the one forgotten.
const maxRetained = 32 << 20

// producerOverhead is what a producer holds beside its bodies: its plan,
// its sources, map entries and the plans that follow its values.
const producerOverhead = 1024

// retain registers a producer and forgets the least recently used ones
// beyond maxRetained: the queue is in order of registration, and a
// producer at its head that was used since it joined goes to its tail
// instead (a second chance, which orders the queue by last use as well as
// a list would, without one).
func (c *Correlator) retain(reg producerReg) {
	reg.bytes = 2*int64(len(reg.plan.recorded)) + 128*int64(len(reg.values)) + producerOverhead
	reg.queued = c.planned
	c.producers = append(c.producers, reg)
	c.retained += reg.bytes
	for c.retained > maxRetained && len(c.producers) > 1 {
		old := c.producers[0]
		c.producers[0] = producerReg{}
		c.producers = c.producers[1:]
		if old.plan.lastUse > old.queued {
			// Used since it was queued: queued again. Each goes round
			// at most once (its lastUse is now behind), so this ends.
			old.queued = c.planned
			c.producers = append(c.producers, old)
			continue
		}
		c.retained -= old.bytes
		if fs := c.flows[old.key]; fs != nil {
			for _, v := range old.values {
				if src := fs.values[v]; src != nil && src.producer == old.plan {
					fs.forget(v, src)
				}
			}
		}
		for _, v := range old.values {
			k := globalKey{v, old.global.copy, old.global.round}
			if src := c.global[k]; src != nil && src.producer == old.plan {
				delete(c.global, k)
			}
		}
		c.stats.Forgotten.Add(1)
	}
}

// value finds the live value at path in the producer's response.
func (p *plan) value(path []any) (string, bool) {
	if len(path) == 1 {
		if pl, ok := path[0].(analysis.HeaderPlace); ok {
			return analysis.HeaderValue(p.liveHeader, pl)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.parsed {
		p.parsed = true
		if p.page() {
			// its named metas and inputs
			p.liveHTML = map[analysis.HTMLPlace]string{}
			analysis.EachHTMLValue(p.body, func(pl analysis.HTMLPlace, v string) { p.liveHTML[pl] = v })
		} else if json.Unmarshal(p.body, &p.live) != nil {
			p.live = nil
		}
		p.body = nil
	}
	if len(path) == 1 {
		if pl, ok := path[0].(analysis.HTMLPlace); ok {
			v, ok := p.liveHTML[pl]
			return v, ok
		}
	}
	return analysis.Lookup(p.live, path)
}

// page reports whether the producer's answer is an HTML page (a value of
// it has an HTMLPlace).
func (p *plan) page() bool {
	for _, pl := range p.places {
		if _, ok := pl.(analysis.HTMLPlace); ok {
			return true
		}
	}
	return false
}

// add remembers where v came from (s), or that the client sent it first
// (nil), at now (Correlator.planned). Beyond maxPerFlow values the least
// recently used one is forgotten, as retain does with producers.
func (fs *flowState) add(v string, s *source, now uint64) {
	if s == nil {
		if len(fs.seen) >= maxSeen {
			old := fs.seen[0]
			fs.seen = fs.seen[1:]
			if src, ok := fs.values[old]; ok && src == nil {
				delete(fs.values, old)
			}
		}
		fs.values[v] = nil
		fs.seen = append(fs.seen, v)
		return
	}
	if len(fs.order) > 2*fs.nsrc+256 {
		// sources forgotten to bound memory leave their values here:
		// keep only the live ones
		kept := fs.order[:0]
		for _, o := range fs.order {
			if fs.values[o] != nil {
				kept = append(kept, o)
			}
		}
		clear(fs.order[len(kept):])
		fs.order = kept
	}
	for len(fs.order) >= maxPerFlow {
		old := fs.order[0]
		fs.order = fs.order[1:]
		src := fs.values[old]
		if src == nil {
			continue
		}
		if src.producer.lastUse > src.queued {
			// used since it was queued: queued again, once
			src.queued = now
			fs.order = append(fs.order, old)
			continue
		}
		delete(fs.values, old)
		fs.nsrc--
		break
	}
	if old, ok := fs.values[v]; !ok || old == nil {
		fs.nsrc++
	}
	s.queued = now
	fs.values[v] = s
	fs.order = append(fs.order, v)
}

// forget drops v when s is still its source.
func (fs *flowState) forget(v string, s *source) {
	if cur := fs.values[v]; cur != nil && cur == s {
		delete(fs.values, v)
		fs.nsrc--
	}
}
