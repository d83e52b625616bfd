package analysis

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// A recorder keys its records by flow: the credential a request carried
// ("auth:HASH"), or the client connection when it carried none
// ("conn:ID"). One person using an app makes several flows: the login on
// a pooled connection before any credential, the requests after it, a
// WebSocket authenticated by a ticket that one of those requests fetched.
// A User puts them back together.

// User is one recorded user: every flow that belongs to one identity.
type User struct {
	// ID names the user: its first credentialed flow (or its first flow).
	ID string
	// Flows are the recorded flows of the user, ID first.
	Flows []string
	// Conns are the client connections its HTTP exchanges used.
	Conns []uint64
	// Sockets are its WebSocket connections.
	Sockets []uint64
	// Events counts its records; First and Last are the earliest and
	// latest record starts.
	Events      int64
	First, Last time.Duration
}

// Users are the recorded users of a corpus.
type Users struct {
	list   []*User
	byFlow map[string]*User
	shards int
	shard  map[*User]int
}

// Of returns the user a flow belongs to (a user of its own for a flow the
// corpus did not show).
func (u *Users) Of(flow string) *User {
	if u != nil {
		if us := u.byFlow[flow]; us != nil {
			return us
		}
	}
	return &User{ID: flow, Flows: []string{flow}}
}

// ID returns the user ID of a flow: the flow itself when unknown.
func (u *Users) ID(flow string) string {
	if u != nil {
		if us := u.byFlow[flow]; us != nil {
			return us.ID
		}
	}
	return flow
}

// List returns the users, by first record.
func (u *Users) List() []*User {
	if u == nil {
		return nil
	}
	return u.list
}

// Len counts the users.
func (u *Users) Len() int {
	if u == nil {
		return 0
	}
	return len(u.list)
}

// Shard returns the shard (0 to n-1) of the user a flow belongs to. Users
// go whole to one shard, and shards are balanced by events: users by
// decreasing events each go to the shard with the fewest so far (ties to
// the lower shard, users of equal events by ID), so every process of a
// sharded run computes the same split from the same corpus. A flow the
// corpus did not show goes by a hash of its name.
func (u *Users) Shard(flow string, n int) int {
	if n <= 1 {
		return 0
	}
	us := u.byFlow[flow]
	if us == nil {
		return int(fnv32(flow) % uint32(n))
	}
	if u.shards != n {
		u.assign(n)
	}
	return u.shard[us]
}

func (u *Users) assign(n int) {
	order := slices.Clone(u.list)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Events != order[j].Events {
			return order[i].Events > order[j].Events
		}
		return order[i].ID < order[j].ID
	})
	load := make([]int64, n)
	u.shard = make(map[*User]int, len(order))
	for _, us := range order {
		best := 0
		for i := 1; i < n; i++ {
			if load[i] < load[best] {
				best = i
			}
		}
		u.shard[us] = best
		load[best] += us.Events
	}
	u.shards = n
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Bounds of the user finder: flows and telling values it remembers.
const (
	maxUserFlows  = 1 << 20
	maxUserValues = 1 << 18
)

// UserFinder finds the recorded users of a corpus from its records, in
// any order: Add every record with its facts, then Users.
type UserFinder struct {
	flows     map[string]*flowInfo
	order     []string // flows by first record
	values    map[string]*valueUse
	nValues   int
	conns     map[uint64]*connUse
	overflows bool

	// the telling values of the record being added (reused)
	sends, returns []tellingValue
}

// tellingValue is a telling value of a record: a string it holds, or
// the bytes of a body string (copied only when remembered).
type tellingValue struct {
	s string
	b []byte
}

type flowInfo struct {
	parent      string // union-find
	credential  bool
	events      int64
	first, last time.Duration
	conns       []uint64
	sockets     []uint64
}

// valueUse records which flows returned a telling value (up to two: "more
// than one" is all that matters) and which sent it.
type valueUse struct {
	returned []string
	sent     []string
}

// connUse records the flows that used one client connection.
type connUse struct {
	credentialed []string // up to two
	plain        []string
}

// NewUserFinder returns an empty UserFinder.
func NewUserFinder() *UserFinder {
	return &UserFinder{flows: map[string]*flowInfo{}, values: map[string]*valueUse{}, conns: map[uint64]*connUse{}}
}

// telling reports whether a value names one thing unmistakably: a
// redaction placeholder (a credential), or a random-looking id of at least
// 20 bytes.
func telling(v string) bool {
	return IsPlaceholder(v) || len(v) >= 20 && !strings.ContainsAny(v, " /")
}

// tellingBytes is telling for bytes.
func tellingBytes(v []byte) bool {
	return bytes.Contains(v, placeholderPrefix) || len(v) >= 20 && bytes.IndexByte(v, ' ') < 0 && bytes.IndexByte(v, '/') < 0
}

// AddRecord takes one record, reading only what users are made of: its
// flow, client connection, credentials and telling values (a cheaper
// pass than deriving its Facts).
func (f *UserFinder) AddRecord(rec traffic.Record) {
	var x *traffic.Exchange
	switch rec.Kind {
	case traffic.KindExchange:
		x = rec.Exchange
	case traffic.KindWSOpen:
		x = &rec.WSOpen.Upgrade
	default:
		f.add(rec, false, false, nil, nil)
		return
	}
	sends, returns := f.sends[:0], f.returns[:0]
	cred := false
	q := &x.Request
	path, rawQuery, _ := strings.Cut(q.URL, "?")
	if i := strings.Index(path, "://"); i >= 0 {
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		}
	}
	for {
		seg, rest, more := strings.Cut(path, "/")
		if telling(seg) {
			sends = append(sends, tellingValue{s: seg})
		}
		if !more {
			break
		}
		path = rest
	}
	if rawQuery != "" {
		// the values of a query url.ParseQuery reads without an error
		eachQueryValue(rawQuery, true, func(name, v string) {
			if telling(v) {
				sends = append(sends, tellingValue{s: v})
			}
			if v != "" && traffic.IsTokenParam(name) {
				cred = true
			}
		})
	}
	for _, h := range q.Header {
		v := h.Value
		if c, ok := bearer(v); ok {
			v = c
			if strings.EqualFold(h.Name, "authorization") {
				cred = true
			}
		}
		if telling(v) {
			sends = append(sends, tellingValue{s: v})
		}
		EachRequestHeaderValue(h.Name, v, func(hv string) {
			if telling(hv) {
				sends = append(sends, tellingValue{s: hv})
			}
		})
	}
	if b := readBody(q.Header, q.Body); len(b.Data) > 0 {
		sends = appendTelling(sends, b.Data)
	}
	if x.Response != nil {
		if b := readBody(x.Response.Header, x.Response.Body); len(b.Data) > 0 {
			returns = appendTelling(returns, b.Data)
		}
		for _, h := range x.Response.Header {
			EachHeaderValue(h.Name, h.Value, func(_ HeaderPlace, hv string) {
				if telling(hv) {
					returns = append(returns, tellingValue{s: hv})
				}
			})
		}
	}
	f.add(rec, true, cred, sends, returns)
	f.keepScratch(sends, returns)
}

// keepScratch keeps the space of sends and returns for the next record
// (forgetting what they held), unless it is large.
func (f *UserFinder) keepScratch(sends, returns []tellingValue) {
	clear(sends)
	clear(returns)
	f.sends, f.returns = sends[:0], returns[:0]
	if cap(sends) > maxScratch {
		f.sends = nil
	}
	if cap(returns) > maxScratch {
		f.returns = nil
	}
}

// appendTelling appends the telling strings of a body (ScanStrings').
func appendTelling(out []tellingValue, b []byte) []tellingValue {
	sc := stringScanner{data: b, min: MinValue}
	for sc.next() {
		if sc.raw != nil {
			if tellingBytes(sc.raw) {
				out = append(out, tellingValue{b: sc.raw})
			}
		} else if telling(sc.str) {
			out = append(out, tellingValue{s: sc.str})
		}
	}
	return out
}

// Add takes one record and its facts (only Credentials, Sends and
// Returns are read).
func (f *UserFinder) Add(rec traffic.Record, fx *Facts) {
	if fx == nil {
		f.add(rec, false, false, nil, nil)
		return
	}
	sends, returns := f.sends[:0], f.returns[:0]
	for _, v := range fx.Sends {
		if telling(v) {
			sends = append(sends, tellingValue{s: v})
		}
	}
	for _, r := range fx.Returns {
		if telling(r) {
			returns = append(returns, tellingValue{s: r})
		}
	}
	f.add(rec, true, len(fx.Credentials) > 0, sends, returns)
	f.keepScratch(sends, returns)
}

// add takes one record: with facts, whether it carried a credential and
// the telling values it sends and returns.
func (f *UserFinder) add(rec traffic.Record, facts, cred bool, sends, returns []tellingValue) {
	flow := rec.Flow()
	if rec.Kind == traffic.KindHeader {
		return
	}
	start := rec.Start()
	fi := f.flows[flow]
	if fi == nil {
		if len(f.flows) >= maxUserFlows {
			f.overflows = true
			return
		}
		fi = &flowInfo{parent: flow, first: start, last: start}
		f.flows[flow] = fi
		f.order = append(f.order, flow)
	}
	fi.events++
	fi.first, fi.last = min(fi.first, start), max(fi.last, start)
	var conn uint64
	switch rec.Kind {
	case traffic.KindExchange:
		conn = rec.Exchange.ConnID
	case traffic.KindWSOpen:
		if !slices.Contains(fi.sockets, rec.WSOpen.ConnID) {
			fi.sockets = append(fi.sockets, rec.WSOpen.ConnID)
		}
	}
	if !facts {
		return
	}
	if cred {
		fi.credential = true
	}
	if conn != 0 {
		if !slices.Contains(fi.conns, conn) {
			fi.conns = append(fi.conns, conn)
		}
		cu := f.conns[conn]
		if cu == nil {
			cu = &connUse{}
			f.conns[conn] = cu
		}
		if cred {
			addUpTo(&cu.credentialed, flow, 2)
		} else {
			addUpTo(&cu.plain, flow, 1<<10)
		}
	}
	for _, v := range sends {
		if u := f.value(v); u != nil {
			addUpTo(&u.sent, flow, 64)
		}
	}
	for _, r := range returns {
		if u := f.value(r); u != nil {
			addUpTo(&u.returned, flow, 2)
		}
	}
}

func (f *UserFinder) value(v tellingValue) *valueUse {
	var u *valueUse
	if v.b != nil {
		u = f.values[string(v.b)]
	} else {
		u = f.values[v.s]
	}
	if u == nil {
		if f.nValues >= maxUserValues {
			return nil
		}
		f.nValues++
		u = &valueUse{}
		if v.b != nil {
			f.values[string(v.b)] = u
		} else {
			f.values[v.s] = u
		}
	}
	return u
}

func addUpTo(list *[]string, v string, n int) {
	if len(*list) < n && !slices.Contains(*list, v) {
		*list = append(*list, v)
	}
}

func (f *UserFinder) find(flow string) string {
	for {
		fi := f.flows[flow]
		if fi == nil || fi.parent == flow {
			return flow
		}
		grand := f.flows[fi.parent].parent
		fi.parent = grand
		flow = grand
	}
}

func (f *UserFinder) union(a, b string) {
	if f.flows[a] == nil || f.flows[b] == nil {
		return
	}
	ra, rb := f.find(a), f.find(b)
	if ra == rb {
		return
	}
	// The flow seen first stays the root.
	if f.flows[rb].first < f.flows[ra].first || f.flows[rb].first == f.flows[ra].first && rb < ra {
		ra, rb = rb, ra
	}
	f.flows[rb].parent = ra
}

// Users puts the flows together into users: a flow that sends a telling
// value (a token, a ticket, a long id) that exactly one other flow's
// response returned is that flow's user's; so is a flow without
// credentials on a client connection that exactly one credentialed flow
// used (a login before the token, on a pooled connection).
func (f *UserFinder) Users() *Users {
	for _, u := range f.values {
		if len(u.returned) != 1 {
			continue
		}
		for _, s := range u.sent {
			f.union(u.returned[0], s)
		}
	}
	for _, cu := range f.conns {
		if len(cu.credentialed) != 1 {
			continue
		}
		for _, p := range cu.plain {
			if !f.flows[p].credential {
				f.union(cu.credentialed[0], p)
			}
		}
	}
	out := &Users{byFlow: map[string]*User{}}
	byRoot := map[string]*User{}
	for _, flow := range f.order {
		root := f.find(flow)
		fi := f.flows[flow]
		us := byRoot[root]
		if us == nil {
			us = &User{First: fi.first, Last: fi.last}
			byRoot[root] = us
			out.list = append(out.list, us)
		}
		us.Flows = append(us.Flows, flow)
		us.Conns = append(us.Conns, fi.conns...)
		us.Sockets = append(us.Sockets, fi.sockets...)
		us.Events += fi.events
		us.First, us.Last = min(us.First, fi.first), max(us.Last, fi.last)
		out.byFlow[flow] = us
	}
	for _, us := range out.list {
		// The ID is the first credentialed flow, else the first flow.
		us.ID = us.Flows[0]
		for _, fl := range us.Flows {
			if f.flows[fl].credential {
				us.ID = fl
				break
			}
		}
		i := slices.Index(us.Flows, us.ID)
		us.Flows[0], us.Flows[i] = us.Flows[i], us.Flows[0]
	}
	sort.SliceStable(out.list, func(i, j int) bool { return out.list[i].First < out.list[j].First })
	return out
}
