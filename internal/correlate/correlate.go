package correlate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

const (
	minValue = 8
	maxValue = 512
	// maxPerFlow bounds the values remembered per flow.
	maxPerFlow = 50000
)

// ErrDependency is returned by Wait when a producer failed.
var ErrDependency = errors.New("a response this request depends on failed")

// Planner adapts recorded requests to the live run: the engine asks it, in
// schedule order, for a Plan for every exchange and WebSocket upgrade (nil
// when there is nothing to do).
type Planner interface {
	Plan(ev schedule.Event) Plan
}

// Plan is what a Planner decided for one event.
type Plan interface {
	// Wait blocks until the responses this request depends on have
	// arrived; it fails when one of them failed.
	Wait(ctx context.Context) error
	// Apply substitutes live values into the request.
	Apply(req *traffic.Request)
	// ApplyText substitutes live values into a client's WebSocket text
	// message (its payload is what Apply would see as a body).
	ApplyText(payload []byte) []byte
	// NeedBody reports whether Done wants the response body.
	NeedBody() bool
	// Done hands over the live response (body only when NeedBody);
	// err is set when there was none.
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

// Correlator is the Planner that learns values from responses. Plan must be called from one
// goroutine in schedule order; the plans it returns are safe to use from
// any goroutine.
type Correlator struct {
	flows map[flowKey]*flowState
	// global indexes values unique enough to link across the flows of one
	// copy's round, first producer first, bounded.
	global      map[globalKey]*source
	globalOrder []globalKey
	// rounds holds each copy's current round and what it learned in it:
	// a copy's new round drops the state of its older ones.
	rounds map[int]*copyRound
	stats  Stats
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
const maxGlobal = 1 << 20

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
}

type flowState struct {
	// values maps a recorded value to where it came from; a nil source
	// marks a value the client sent first.
	values map[string]*source
	order  []string
}

type source struct {
	producer *plan
	path     []any
}

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
	if cr := c.rounds[k.copy]; cr != nil && cr.round == k.round {
		cr.global = append(cr.global, k)
	}
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
	var flow string
	var x *traffic.Exchange
	switch ev.Record.Kind {
	case traffic.KindExchange:
		x = ev.Record.Exchange
		flow = x.Flow
	case traffic.KindWSOpen:
		x = &ev.Record.WSOpen.Upgrade
		flow = ev.Record.WSOpen.Flow
	case traffic.KindWSMessage:
		// A client's text message sends values back too (the id of a
		// session its HTTP requests created, in a session-alive event);
		// it is planned like a request whose body is the message.
		m := ev.Record.WSMessage
		if !m.FromClient || m.Opcode != traffic.OpText {
			return nil
		}
		x = &traffic.Exchange{Flow: m.Flow, Request: traffic.Request{Body: traffic.Body{Data: m.Payload}}}
		flow = m.Flow
	default:
		return nil
	}
	fs := c.flow(flowKey{flow, ev.Round}, ev.Copy)
	p := &plan{done: make(chan struct{}), stats: &c.stats}

	// Values the request sends: linked to their producer, or remembered
	// as the client's own.
	seen := map[string]bool{}
	for _, v := range requestValues(&x.Request) {
		if seen[v] {
			continue
		}
		seen[v] = true
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
			fs.add(v, nil)
			continue
		}
		if src == nil {
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
	if ev.Record.Kind != traffic.KindWSMessage && len(x.Request.Body.Data) > 0 && bytes.Contains(x.Request.Body.Data, []byte(redact.PlaceholderPrefix)) {
		linked := map[string]bool{}
		for _, l := range p.links {
			linked[l.recorded] = true
		}
		for _, ph := range placeholders(x.Request.Body.Data) {
			if linked[ph.value] {
				continue
			}
			if proofKeys[strings.ToLower(ph.key)] {
				p.skip = SkipRedacted
				break
			}
			p.standIns = append(p.standIns, ph.value, standIn(ph.value))
		}
	}
	// Values the response returned that nobody sent before: this request
	// produces them.
	if x.Response != nil && len(x.Response.Body.Data) > 0 && !x.Response.Body.Truncated {
		walkJSON(x.Response.Body.Data, func(path []any, v string) {
			if !dynamic(v) {
				return
			}
			if _, known := fs.values[v]; known {
				return
			}
			src := &source{producer: p, path: append([]any(nil), path...)}
			fs.add(v, src)
			if global(v) {
				c.addGlobal(globalKey{v, ev.Copy, ev.Round}, src)
			}
			p.produces = true
		})
	}
	if len(p.links) == 0 && !p.produces && p.skip == "" && len(p.standIns) == 0 {
		return nil
	}
	return p
}

// isPlaceholder reports whether v is (or carries) a redaction placeholder.
// A link to one is soft: the value is an identity handle (a token), so
// when its producer fails the recorded placeholder is sent, for
// --auth-token or a permissive server to resolve.
func isPlaceholder(v string) bool { return strings.Contains(v, redact.PlaceholderPrefix) }

// proofKeys name JSON fields whose redacted value proves identity: no
// stand-in can replace them.
var proofKeys = map[string]bool{
	"signature": true, "password": true, "privatekey": true, "private_key": true,
	"client_secret": true, "passphrase": true,
}

// standIn is the value sent for a redacted secret no response supplies:
// base64 of a hash of the placeholder, so the same placeholder always maps
// to the same value and fields that must be base64 stay valid.
func standIn(placeholder string) string {
	sum := sha256.Sum256([]byte("reprise stand-in " + placeholder))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type placeholderAt struct {
	value string // the placeholder
	key   string // the JSON key (or form field) it is the value of, if any
}

// placeholders lists the redaction placeholders in b with the key each is
// the value of.
func placeholders(b []byte) []placeholderAt {
	var out []placeholderAt
	prefix := []byte(redact.PlaceholderPrefix)
	off := 0
	for {
		i := bytes.Index(b[off:], prefix)
		if i < 0 {
			return out
		}
		i += off
		j := bytes.IndexByte(b[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, placeholderAt{value: string(b[i : i+j+1]), key: keyBefore(b[:i])})
		off = i + j + 1
	}
}

// keyBefore finds the key a value starting right after b belongs to:
// `"key": "` in JSON or `key=` in a form.
func keyBefore(b []byte) string {
	b = bytes.TrimRight(b, "\\\" \t")
	if len(b) > 0 && b[len(b)-1] == '=' {
		k := b[:len(b)-1]
		if i := bytes.LastIndexAny(k, "&?"); i >= 0 {
			k = k[i+1:]
		}
		return string(k)
	}
	b = bytes.TrimRight(b, ": \t")
	b = bytes.TrimRight(b, "\\\"")
	i := bytes.LastIndexByte(b, '"')
	if i < 0 {
		return ""
	}
	return string(b[i+1:])
}

type link struct {
	recorded string
	src      *source
	soft     bool
}

// plan is one request's correlation: what it waits for and substitutes,
// and, as a producer, the live response others read.
type plan struct {
	links    []link
	produces bool
	skip     string
	standIns []string // placeholder, stand-in pairs
	used     atomic.Bool
	stats    *Stats

	done   chan struct{}
	once   sync.Once
	failed bool
	live   any // parsed live body
	parsed bool
	mu     sync.Mutex
	body   []byte
}

func (p *plan) Wait(ctx context.Context) error {
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

func (p *plan) Apply(req *traffic.Request) {
	pairs := append([]string(nil), p.standIns...)
	for _, l := range p.links {
		if l.src.producer.failed {
			continue // a soft link whose producer failed: keep the recorded value
		}
		live, ok := l.src.producer.value(l.src.path)
		if !ok {
			p.stats.Misses.Add(1)
			continue
		}
		if live != l.recorded {
			pairs = append(pairs, l.recorded, live)
		}
	}
	if len(pairs) == 0 {
		return
	}
	rep := strings.NewReplacer(pairs...)
	req.URL = replaceURL(req.URL, pairs)
	for i := range req.Header {
		req.Header[i].Value = rep.Replace(req.Header[i].Value)
	}
	if len(req.Body.Data) > 0 {
		req.Body.Data = []byte(rep.Replace(string(req.Body.Data)))
	}
}

func (p *plan) ApplyText(payload []byte) []byte {
	q := traffic.Request{Body: traffic.Body{Data: payload}}
	p.Apply(&q)
	return q.Body.Data
}

func (p *plan) NeedBody() bool { return p.produces }

func (p *plan) Skip() string { return p.skip }

func (p *plan) Done(status int, _ http.Header, body []byte, err error) {
	p.once.Do(func() {
		p.failed = err != nil || status == 0 || status >= 400
		p.body = body
		close(p.done)
	})
}

// value finds the live value at path in the producer's response.
func (p *plan) value(path []any) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.parsed {
		p.parsed = true
		if json.Unmarshal(p.body, &p.live) != nil {
			p.live = nil
		}
		p.body = nil
	}
	cur := p.live
	for _, step := range path {
		switch k := step.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return "", false
			}
			cur = m[k]
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return "", false
			}
			cur = a[k]
		}
	}
	s, ok := cur.(string)
	return s, ok && s != ""
}

// replaceURL substitutes in the path and the query, escaping live values
// as the recorded ones were.
func replaceURL(raw string, pairs []string) string {
	escaped := make([]string, 0, len(pairs))
	for i := 0; i < len(pairs); i += 2 {
		escaped = append(escaped, pairs[i], pairs[i+1])
		if e := url.QueryEscape(pairs[i]); e != pairs[i] {
			escaped = append(escaped, e, url.QueryEscape(pairs[i+1]))
		}
		if e := url.PathEscape(pairs[i]); e != pairs[i] && e != url.QueryEscape(pairs[i]) {
			escaped = append(escaped, e, url.PathEscape(pairs[i+1]))
		}
	}
	return substitute(raw, escaped)
}

// dynamic reports whether v looks like a server-made value worth
// carrying.
func dynamic(v string) bool {
	if len(v) < minValue || len(v) > maxValue {
		return false
	}
	return strings.ContainsAny(v, "0123456789")
}

// requestValues lists candidate values a request sends: path segments,
// query values, header values (bearer tokens split off) and JSON body
// strings.
func requestValues(q *traffic.Request) []string {
	var out []string
	add := func(v string) {
		if dynamic(v) {
			out = append(out, v)
		}
	}
	u, err := url.Parse(q.URL)
	if err == nil {
		for _, seg := range strings.Split(u.Path, "/") {
			add(seg)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, h := range q.Header {
		v := h.Value
		if i := strings.IndexByte(v, ' '); i > 0 && strings.EqualFold(v[:i], "bearer") {
			v = strings.TrimSpace(v[i+1:])
		}
		add(v)
	}
	if len(q.Body.Data) > 0 {
		walkJSON(q.Body.Data, func(_ []any, v string) { add(v) })
	}
	return out
}

// walkJSON calls fn for every string value in a JSON document with its
// path.
func walkJSON(data []byte, fn func(path []any, v string)) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') {
		return
	}
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	var path []any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			fn(path, t)
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				path = append(path, k)
				walk(t[k])
				path = path[:len(path)-1]
			}
		case []any:
			for i, x := range t {
				path = append(path, i)
				walk(x)
				path = path[:len(path)-1]
			}
		}
	}
	walk(doc)
}

func (fs *flowState) add(v string, s *source) {
	if len(fs.order) >= maxPerFlow {
		old := fs.order[0]
		fs.order = fs.order[1:]
		delete(fs.values, old)
	}
	fs.values[v] = s
	fs.order = append(fs.order, v)
}
