package compare

import (
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Lanes of a live comparison: every event of the replay is sent to each
// at the same intended time.
const (
	LaneA  = 0 // release A, the baseline
	LaneB  = 1 // release B, the candidate
	LaneA2 = 2 // a second instance of release A, to learn noise from
)

// Answer is one answer of a target as a live comparison sees it: an HTTP
// response, or a server message of a WebSocket connection (the engine's
// Observation).
type Answer struct {
	// Seq is the schedule sequence number of the event answered; for a
	// WebSocket message, of its connection's open.
	Seq uint64
	// WS marks a server message of a WebSocket connection.
	WS       bool
	Endpoint string
	// Status and Header of an HTTP response (Status 0: no response).
	Status int
	Header http.Header
	// Body is the response body (decoded through its content coding) or
	// the message; Text says a message was text.
	Body []byte
	Text bool
}

// DefaultHeaders are the response headers a live comparison compares
// unless told others (LiveOptions.Headers).
var DefaultHeaders = []string{"Content-Type", "Content-Encoding", "Cache-Control", "Location"}

// LiveOptions configure a live comparison. The zero value compares two
// lanes with the default headers.
type LiveOptions struct {
	// Lanes is how many targets answer each event: 2 (A and B), or 3
	// when LaneA2 is a second instance of release A, from which the
	// differences that are noise (ids, timestamps) are learnt.
	Lanes int
	// Headers are the response headers compared (DefaultHeaders when
	// nil).
	Headers []string
	// Ignore names fields whose differences are noise.
	Ignore []IgnoreRule
	// MaxPairs bounds the pairs kept per endpoint for quantiles and the
	// paired shift (DefaultMaxPairs when 0): a uniform reservoir sample
	// beyond it.
	MaxPairs int
	// Now is the clock that puts answers in windows as they are
	// compared (time.Now when nil).
	Now func() time.Time
}

// maxPending bounds the answers and results waiting for their twins: a
// target far behind the other cannot make the comparison hold every
// answer of the run.
const maxPending = 200000

// maxKeptMessages bounds the server messages of one type kept per
// connection and lane to compare their content (the rest are counted).
const maxKeptMessages = 32

// LiveCounts say what a live comparison paired and compared.
type LiveCounts struct {
	// Pairs counts the events (HTTP exchanges, WebSocket handshakes) with
	// a result in A and in B; Answered the pairs both targets answered,
	// whose durations are compared.
	Pairs    int64 `json:"pairs"`
	Answered int64 `json:"answered"`
	// Compared counts the HTTP answers compared field by field, and
	// Connections the WebSocket connections whose messages were.
	Compared    int64 `json:"compared"`
	Connections int64 `json:"connections"`
	// Unpaired counts results whose twin never came; Uncompared the
	// answers not compared (their twin not answered, or over the bound
	// of answers waiting).
	Unpaired   int64 `json:"unpaired,omitempty"`
	Uncompared int64 `json:"uncompared,omitempty"`
	// Sampled counts the endpoints with more answered pairs than
	// MaxPairs, whose quantiles and shift are tested on a sample.
	Sampled int `json:"sampled,omitempty"`
}

// Live collects a live comparison while the replay runs: Result takes
// every result of every lane, Observe every answer. Both are safe for
// concurrent use. Compare (livereport.go) ends it.
type Live struct {
	opts  LiveOptions
	start time.Time

	mu      sync.Mutex
	results map[resultKey]*[2]*outcome
	answers map[uint64]*pendingAnswer
	conns   map[uint64]*pendingConn
	done    map[uint64]struct{} // connections compared: later messages are late
	counts  LiveCounts

	statsMu  sync.Mutex
	eps      map[string]*pairAcc
	overall  map[traffic.ResultKind]*pairAcc
	fields   map[string]*fieldSet
	finished bool
}

type resultKey struct {
	seq  uint64
	kind traffic.ResultKind
}

type pendingAnswer struct {
	ans [3]*Answer
	n   int
}

// laneMessages are the server messages of one connection in one lane.
type laneMessages struct {
	counts map[string]int
	kept   map[string][][]byte
	closed bool
}

type pendingConn struct {
	endpoint string
	lanes    [3]laneMessages
}

// NewLive starts a live comparison.
func NewLive(o LiveOptions) *Live {
	if o.Lanes < 2 {
		o.Lanes = 2
	}
	if o.Lanes > 3 {
		o.Lanes = 3
	}
	if o.Headers == nil {
		o.Headers = DefaultHeaders
	}
	if o.MaxPairs <= 0 {
		o.MaxPairs = DefaultMaxPairs
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Live{opts: o, start: o.Now(),
		results: map[resultKey]*[2]*outcome{}, answers: map[uint64]*pendingAnswer{},
		conns: map[uint64]*pendingConn{}, done: map[uint64]struct{}{},
		eps: map[string]*pairAcc{}, overall: map[traffic.ResultKind]*pairAcc{}, fields: map[string]*fieldSet{}}
}

// Result takes one result of a lane. Results of A and B pair by their
// event (Seq and kind); a WebSocket session's result ends its
// connection, whose messages are then compared.
func (l *Live) Result(lane int, r traffic.Result) {
	if lane < 0 || lane >= l.opts.Lanes {
		return
	}
	switch r.Kind {
	case traffic.ResultHTTP, traffic.ResultWSConnect:
		if lane > LaneB {
			return // A2 teaches noise of contents, not of durations
		}
		o := outcomeOf(&r)
		k := resultKey{r.Seq, r.Kind}
		l.mu.Lock()
		p := l.results[k]
		if p == nil {
			if len(l.results) >= maxPending {
				l.counts.Unpaired++
				l.mu.Unlock()
				return
			}
			p = &[2]*outcome{}
			l.results[k] = p
		}
		p[lane] = &o
		if p[LaneA] == nil || p[LaneB] == nil {
			l.mu.Unlock()
			return
		}
		delete(l.results, k)
		l.mu.Unlock()
		l.addPair(p[LaneA], p[LaneB])
	case traffic.ResultWSSession:
		l.mu.Lock()
		if _, late := l.done[r.Seq]; late {
			l.mu.Unlock()
			return
		}
		c := l.conns[r.Seq]
		if c == nil {
			c = &pendingConn{endpoint: r.Endpoint}
			l.conns[r.Seq] = c
		}
		c.lanes[lane].closed = true
		for i := range l.opts.Lanes {
			if !c.lanes[i].closed {
				l.mu.Unlock()
				return
			}
		}
		delete(l.conns, r.Seq)
		l.done[r.Seq] = struct{}{}
		l.mu.Unlock()
		l.compareConn(r.Seq, c)
	}
}

// addPair folds one pair of results into its endpoint and the whole run.
func (l *Live) addPair(a, b *outcome) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	acc := l.eps[a.endpoint]
	if acc == nil {
		acc = newPairAcc(a.kind, l.opts.MaxPairs, seedOf(a.endpoint))
		l.eps[a.endpoint] = acc
	}
	acc.add(a, b)
	all := l.overall[a.kind]
	if all == nil {
		all = newPairAcc(a.kind, 2*l.opts.MaxPairs, seedOf("(all) "+a.kind.String()))
		l.overall[a.kind] = all
	}
	all.add(a, b)
}

// Observe takes one answer of a lane. HTTP answers wait for their twins
// in every lane and are then compared; WebSocket messages are counted
// by type (and the first of each type kept) until their connection ends.
func (l *Live) Observe(lane int, a Answer) {
	if lane < 0 || lane >= l.opts.Lanes {
		return
	}
	if a.WS {
		l.observeMessage(lane, a)
		return
	}
	l.mu.Lock()
	p := l.answers[a.Seq]
	if p == nil {
		if len(l.answers) >= maxPending {
			l.counts.Uncompared++
			l.mu.Unlock()
			return
		}
		p = &pendingAnswer{}
		l.answers[a.Seq] = p
	}
	if p.ans[lane] == nil {
		p.n++
	}
	p.ans[lane] = &a
	if p.n < l.opts.Lanes {
		l.mu.Unlock()
		return
	}
	delete(l.answers, a.Seq)
	l.counts.Compared++
	l.mu.Unlock()
	l.compareAnswers(a.Seq, p)
}

func (l *Live) observeMessage(lane int, a Answer) {
	v, isJSON := decodeJSON(a.Body)
	t := messageType(v, isJSON, a.Text)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, late := l.done[a.Seq]; late {
		return
	}
	c := l.conns[a.Seq]
	if c == nil {
		if len(l.conns) >= maxPending {
			return
		}
		c = &pendingConn{endpoint: a.Endpoint}
		l.conns[a.Seq] = c
	}
	lm := &c.lanes[lane]
	if lm.counts == nil {
		lm.counts, lm.kept = map[string]int{}, map[string][][]byte{}
	}
	lm.counts[t]++
	if len(lm.kept[t]) < maxKeptMessages {
		lm.kept[t] = append(lm.kept[t], a.Body)
	}
}

// diffAnswers compares two answers: status, chosen headers, and the body
// when both statuses are the same answer.
func (l *Live) diffAnswers(x, y *Answer) *docDiff {
	d := newDocDiff()
	d.leaf(statusField, strconv.Itoa(x.Status), strconv.Itoa(y.Status))
	if x.Status != y.Status || x.Status == 0 {
		return d
	}
	for _, h := range l.opts.Headers {
		d.leaf(headerField+http.CanonicalHeaderKey(h), headerValue(x.Header.Values(h)), headerValue(y.Header.Values(h)))
	}
	d.bodyDiff("", x.Body, y.Body)
	return d
}

func (l *Live) compareAnswers(seq uint64, p *pendingAnswer) {
	a, b := p.ans[LaneA], p.ans[LaneB]
	ab := l.diffAnswers(a, b)
	var aa2 *docDiff
	if l.opts.Lanes > LaneA2 {
		aa2 = l.diffAnswers(a, p.ans[LaneA2])
	}
	l.addFields(a.Endpoint, seq, ab, aa2)
}

func (l *Live) addFields(endpoint string, seq uint64, ab, aa2 *docDiff) {
	// answers are compared as they complete: the window is when
	win := int64(l.opts.Now().Sub(l.start) / Window)
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	fs := l.fields[endpoint]
	if fs == nil {
		fs = &fieldSet{stats: map[string]*fieldStat{}}
		l.fields[endpoint] = fs
	}
	fs.add(seq, win, ab, aa2)
}

// diffConn compares the messages of a connection in two lanes: the
// count of each type, and the kept messages of each type in order.
func diffConn(x, y *laneMessages) *docDiff {
	d := newDocDiff()
	types := unionKeys(x.counts, y.counts)
	for _, t := range types {
		key := "message[" + t + "]"
		d.leaf("count("+key+")", strconv.Itoa(x.counts[t]), strconv.Itoa(y.counts[t]))
		xs, ys := x.kept[t], y.kept[t]
		for i := range min(len(xs), len(ys)) {
			d.bodyDiff(key, xs[i], ys[i])
		}
	}
	return d
}

func (l *Live) compareConn(seq uint64, c *pendingConn) {
	ab := diffConn(&c.lanes[LaneA], &c.lanes[LaneB])
	var aa2 *docDiff
	if l.opts.Lanes > LaneA2 {
		aa2 = diffConn(&c.lanes[LaneA], &c.lanes[LaneA2])
	}
	l.mu.Lock()
	l.counts.Connections++
	l.mu.Unlock()
	l.addFields(c.endpoint, seq, ab, aa2)
}

// finish compares the connections still open at the end of the run and
// counts what never found its twin. It is idempotent.
func (l *Live) finish() {
	l.statsMu.Lock()
	if l.finished {
		l.statsMu.Unlock()
		return
	}
	l.finished = true
	l.statsMu.Unlock()
	l.mu.Lock()
	conns := l.conns
	l.conns = map[uint64]*pendingConn{}
	for seq := range conns {
		l.done[seq] = struct{}{}
	}
	l.counts.Unpaired += int64(len(l.results))
	l.counts.Uncompared += int64(len(l.answers))
	clear(l.results)
	clear(l.answers)
	l.mu.Unlock()
	for _, seq := range slices.Sorted(maps.Keys(conns)) {
		l.compareConn(seq, conns[seq])
	}
}

// seedOf derives a repeatable seed from a name, so that the sampling and
// resampling of an endpoint are the same from one run to the next.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}
