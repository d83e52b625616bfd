package engine

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/traffic"
)

const (
	// pushWindow is how long after a mutation its push may arrive.
	pushWindow = 5 * time.Second
	// minKeyBytes is the shortest value that ties a push to a mutation.
	minKeyBytes = 8
)

// pushes times the server pushes that HTTP mutations cause, per flow: a
// mutation is registered when it is sent (with the values of its path and
// body) and completed when it answers (with those of its response); a
// push candidate (Profile.PushValues) is matched to the pending mutation
// of its flow it shares the most telling values with.
//
// Ownership: mu guards flows and everything in them. Matching is per
// flow and linear in the flow's pending mutations' values.
type pushes struct {
	profile Profile
	mu      sync.Mutex
	flows   map[string]*flowPushes
}

// flowPushes is one flow's recent mutations and unmatched pushes, both
// within pushWindow.
type flowPushes struct {
	mutations []*mutation
	early     []*earlyPush
}

// mutation is an HTTP request that changed state and may cause a push.
type mutation struct {
	sent    time.Duration
	keys    []string
	matched map[uint64]bool // connections that got its push
	failed  bool
}

// earlyPush is a push candidate that matched no mutation when it arrived.
type earlyPush struct {
	conn    *wsConn
	keys    map[string]bool
	at      time.Duration
	matched bool
}

func newPushes(p Profile) *pushes { return &pushes{profile: p, flows: map[string]*flowPushes{}} }

func (p *pushes) flow(flow string) *flowPushes {
	f := p.flows[flow]
	if f == nil {
		f = &flowPushes{}
		p.flows[flow] = f
	}
	return f
}

// forget drops a flow's state once it has no open connection.
func (p *pushes) forget(flow string) {
	p.mu.Lock()
	delete(p.flows, flow)
	p.mu.Unlock()
}

// send registers a mutation of flow as it is sent, with the values of its
// path and request body.
func (p *pushes) send(flow, path string, reqBody []byte, sent time.Duration) *mutation {
	keys := map[string]bool{}
	for _, seg := range strings.Split(path, "/") {
		if len(seg) >= minKeyBytes {
			keys[seg] = true
		}
	}
	collectStrings(reqBody, keys)
	m := &mutation{sent: sent, matched: map[uint64]bool{}}
	for k := range keys {
		m.keys = append(m.keys, k)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flow(flow)
	// Drop what is too old to be matched.
	i := 0
	for i < len(f.mutations) && sent-f.mutations[i].sent > pushWindow {
		i++
	}
	f.mutations = append(f.mutations[i:], m)
	return m
}

// answer completes m with its response's values, or withdraws it when it
// failed. A push often reaches its socket before the response: pushes
// that matched nothing when they arrived are matched again now.
func (p *pushes) answer(flow string, m *mutation, ok bool, respBody []byte, emit func(traffic.Result)) {
	var found []traffic.Result
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		for _, r := range found {
			emit(r)
		}
	}()
	if !ok {
		m.failed = true
		return
	}
	keys := map[string]bool{}
	for _, k := range m.keys {
		keys[k] = true
	}
	collectStrings(respBody, keys)
	m.keys = m.keys[:0]
	for k := range keys {
		m.keys = append(m.keys, k)
	}
	f := p.flows[flow]
	if f == nil {
		return
	}
	// Per connection, the earliest unmatched push since the send that
	// shares the most values with this mutation is its push.
	best := map[uint64]*earlyPush{}
	bestN := map[uint64]int{}
	for _, e := range f.early {
		if e.matched || e.at < m.sent || m.matched[e.conn.id] || m.sent < e.conn.open {
			continue
		}
		n := 0
		for k := range e.keys {
			if keys[k] {
				n++
			}
		}
		if n > bestN[e.conn.id] {
			best[e.conn.id], bestN[e.conn.id] = e, n
		}
	}
	for id, e := range best {
		e.matched = true
		m.matched[id] = true
		found = append(found, pushResult(e.conn, m, e.at))
	}
}

func pushResult(c *wsConn, m *mutation, at time.Duration) traffic.Result {
	return traffic.Result{Kind: traffic.ResultWSPush, Endpoint: c.endpoint, Label: c.label, Flow: c.flow, Copy: c.copy,
		Intended: m.sent, Sent: m.sent, Latency: at - m.sent, Service: at - m.sent}
}

// received matches a server text message of c that the profile takes for
// a push candidate.
func (p *pushes) received(c *wsConn, msg []byte, at time.Duration, emit func(traffic.Result)) {
	vals, ok := p.profile.PushValues(msg)
	if !ok {
		return
	}
	keys := make(map[string]bool, len(vals))
	for _, v := range vals {
		if len(v) >= minKeyBytes && len(v) <= 256 {
			keys[v] = true
		}
	}
	p.mu.Lock()
	f := p.flow(c.flow)
	list := f.mutations
	// The push belongs to the mutation it shares the most telling values
	// with: a value weighs less the more pending mutations carry it (a
	// user id in every response tells little, the message id one POST
	// returned tells much). Among equals, the oldest, since a connection
	// delivers in order. Mutations sent before the connection opened
	// cannot have pushed to it.
	carriers := map[string]int{}
	for _, m := range list {
		for _, k := range m.keys {
			if keys[k] {
				carriers[k]++
			}
		}
	}
	var hit *mutation
	best := 0.0
	for _, m := range list {
		if m.failed || at-m.sent > pushWindow || m.matched[c.id] || at < m.sent || m.sent < c.open {
			continue
		}
		score := 0.0
		for _, k := range m.keys {
			if keys[k] {
				score += 1 / float64(max(carriers[k], 1))
			}
		}
		if score > best {
			hit, best = m, score
		}
	}
	if hit != nil {
		hit.matched[c.id] = true
		// Older mutations on the same values whose push has not come by
		// now never will on this connection: drop them for it.
		for _, m := range list {
			if m.sent < hit.sent && !m.matched[c.id] && sharesKey(m, hit) {
				m.matched[c.id] = true
			}
		}
	} else {
		// Its mutation may not have answered yet: keep it for a while.
		i := 0
		for i < len(f.early) && at-f.early[i].at > pushWindow {
			i++
		}
		f.early = append(f.early[i:], &earlyPush{conn: c, keys: keys, at: at})
	}
	p.mu.Unlock()
	if hit != nil {
		emit(pushResult(c, hit, at))
	}
}

func sharesKey(a, b *mutation) bool {
	if len(a.keys) > len(b.keys) {
		a, b = b, a
	}
	for _, x := range a.keys {
		for _, y := range b.keys {
			if x == y {
				return true
			}
		}
	}
	return false
}

// collectStrings adds the JSON string values (not keys) of at least
// minKeyBytes found in body to keys.
func collectStrings(body []byte, keys map[string]bool) {
	analysis.WalkJSON(body, func(_ []any, v string) {
		if len(v) >= minKeyBytes && len(v) <= 256 {
			keys[v] = true
		}
	})
}

// isMutation reports whether method changes state.
func isMutation(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "":
		return false
	}
	return true
}
