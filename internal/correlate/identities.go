package correlate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// Events yields scheduled events in order; *schedule.Schedule is one, and
// so is *Identities.
type Events interface {
	Next(ctx context.Context) (schedule.Event, error)
}

const (
	// maxClasses bounds the values whose class is remembered (oldest
	// forgotten first).
	maxClasses = 1 << 20
	// maxCached bounds the records whose per-copy values are cached.
	maxCached = 1 << 14
)

// valueClass says where a value came from, decided where the corpus
// first shows it.
type valueClass uint8

const (
	// classFixed: made by the server (first seen in a response), or a
	// reference to something that existed before the recording (first
	// sent in a URL that found it): the same in every copy.
	classFixed valueClass = iota + 1
	// classPending: first sent in the URL of a request that found nothing
	// (404), such as a lookup before a create: fixed until the client
	// sends it in a body.
	classPending
	// classClient: made by the client (first sent in a request body or a
	// client WebSocket message, or as the resource of a PUT): each copy
	// sends its own variant.
	classClient
)

// Identities gives every copy and round of the traffic identities of its
// own: it rewrites the events of src so that the values the client made
// up (session tags, message localIds, machine and artifact ids, kv keys)
// and the redaction placeholders that stand for credentials differ per
// copy, consistently in every later use within the copy (URLs, headers,
// bodies, WebSocket upgrade URLs and client messages, and the recorded
// responses, so correlation still matches them). Copy 0's first round is
// left as recorded. Next must be called from one goroutine.
type Identities struct {
	// Tokens, when not empty, are bearer tokens of distinct accounts
	// (--auth-tokens): every recorded credential (a bearer token, a token
	// or access_token query parameter) of every copy and round is sent as
	// one of them, handed out in order of first use and reused in turn
	// when users outnumber them. Set it before the first Next.
	Tokens []string
	// Run, when set, is a tag of this run that every identity includes:
	// copy 0's first round gets variants too, and all of them differ
	// from those of another run, so replaying a corpus twice at one
	// target does not meet the first run's sessions, machines and
	// artifacts (--fresh-ids). Set it before the first Next.
	Run string

	src     Events
	class   map[string]valueClass
	order   []string
	started bool
	hwm     uint64 // highest corpus position classified

	cache      map[uint64][]string // corpus position -> values to vary
	cacheOrder []uint64
	memo       map[string]string // label NUL value -> variant
	memoOrder  []string
	assigned   map[string]string // label NUL credential -> pool token

	stats IdentityStats
}

// IdentityStats counts what Identities did.
type IdentityStats struct {
	// ClientValues counts the distinct client-made values found.
	ClientValues int64
	// Events counts events rewritten for their copy.
	Events int64
	// Values counts values replaced, summed over events.
	Values int64
	// Accounts counts the pool tokens in use (Identities.Tokens).
	Accounts int64
}

// NewIdentities wraps src.
func NewIdentities(src Events) *Identities {
	return &Identities{src: src, class: map[string]valueClass{}, cache: map[uint64][]string{}, memo: map[string]string{}}
}

// Stats returns the counters (read them after the run).
func (v *Identities) Stats() IdentityStats { return v.stats }

// Next returns src's next event with its copy's identities.
func (v *Identities) Next(ctx context.Context) (schedule.Event, error) {
	ev, err := v.src.Next(ctx)
	if err != nil {
		return ev, err
	}
	// Every copy replays the same records; the first to reach a corpus
	// position classifies its values, in corpus order.
	first := !v.started || ev.Pos > v.hwm
	label := ev.Identity()
	if v.Run != "" {
		if label != "" {
			label = v.Run + "." + label
		} else {
			label = v.Run
		}
	}
	if len(v.Tokens) > 0 {
		ev.Record = v.assignTokens(ev.Record, label)
	}
	if !first && label == "" {
		return ev, nil
	}
	var cands []candidate
	if first {
		v.started, v.hwm = true, ev.Pos
		cands = collect(ev.Record)
		v.classify(ev.Record, cands)
	}
	vals := v.varied(ev.Pos, ev.Record, cands)
	if label == "" {
		return ev, nil
	}
	if len(vals) == 0 {
		return ev, nil
	}
	pairs := make([]string, 0, 2*len(vals))
	for _, val := range vals {
		pairs = append(pairs, val, v.variant(val, label))
	}
	ev.Record = rewrite(ev.Record, pairs)
	v.stats.Events++
	v.stats.Values += int64(len(vals))
	return ev, nil
}

// assignTokens sends rec's credentials as tokens of the pool: the same
// pool token for a recorded credential within one copy and round.
func (v *Identities) assignTokens(rec traffic.Record, label string) traffic.Record {
	var x *traffic.Exchange
	switch rec.Kind {
	case traffic.KindExchange:
		e := *rec.Exchange
		x, rec.Exchange = &e, &e
	case traffic.KindWSOpen:
		o := *rec.WSOpen
		rec.WSOpen = &o
		x = &o.Upgrade
	default:
		return rec
	}
	pool := func(cred string) string {
		k := label + "\x00" + cred
		t, ok := v.assigned[k]
		if !ok {
			if v.assigned == nil {
				v.assigned = map[string]string{}
			}
			t = v.Tokens[len(v.assigned)%len(v.Tokens)]
			v.assigned[k] = t
			v.stats.Accounts = int64(min(len(v.assigned), len(v.Tokens)))
		}
		return t
	}
	var h traffic.Fields
	for i, f := range x.Request.Header {
		if !strings.EqualFold(f.Name, "authorization") {
			continue
		}
		scheme, cred, ok := strings.Cut(f.Value, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(cred) == "" {
			continue
		}
		if h == nil {
			h = x.Request.Header.Clone()
		}
		h[i].Value = scheme + " " + pool(strings.TrimSpace(cred))
	}
	if h != nil {
		x.Request.Header = h
	}
	if u, err := url.Parse(x.Request.URL); err == nil && u.RawQuery != "" {
		q := u.Query()
		changed := false
		for _, name := range []string{"token", "access_token"} {
			if c := q.Get(name); c != "" {
				q.Set(name, pool(c))
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
			x.Request.URL = u.RequestURI()
		}
	}
	return rec
}

// where a value was seen in a record
type where uint8

const (
	inBody     where = iota // request body, client WebSocket message
	inPutURL                // last path segment of a PUT
	inURL                   // other path segments and query values
	inHeader                // header values (bearer tokens split off)
	inResponse              // recorded response body, server message
)

// candidates calls fn for the values of rec worth classifying, request
// body first, then the URL, the headers and the response.
func candidates(rec traffic.Record, fn func(v string, w where)) {
	switch rec.Kind {
	case traffic.KindExchange:
		exchangeCandidates(rec.Exchange, fn)
	case traffic.KindWSOpen:
		exchangeCandidates(&rec.WSOpen.Upgrade, fn)
	case traffic.KindWSMessage:
		w := inResponse
		if rec.WSMessage.FromClient {
			w = inBody
		}
		bodyCandidates(rec.WSMessage.Payload, w, fn)
	}
}

func exchangeCandidates(x *traffic.Exchange, fn func(v string, w where)) {
	q := &x.Request
	bodyCandidates(q.Body.Data, inBody, fn)
	if u, err := url.Parse(q.URL); err == nil {
		segs := strings.Split(u.Path, "/")
		for i, seg := range segs {
			w := inURL
			if i == len(segs)-1 && strings.EqualFold(q.Method, "PUT") {
				w = inPutURL
			}
			fn(seg, w)
		}
		for _, vs := range u.Query() {
			for _, val := range vs {
				fn(val, inURL)
				for _, ph := range placeholders([]byte(val)) {
					fn(ph.value, inURL)
				}
			}
		}
	}
	for _, h := range q.Header {
		val := h.Value
		if i := strings.IndexByte(val, ' '); i > 0 && strings.EqualFold(val[:i], "bearer") {
			val = strings.TrimSpace(val[i+1:])
		}
		fn(val, inHeader)
		if strings.Contains(val, redact.PlaceholderPrefix) {
			for _, ph := range placeholders([]byte(val)) {
				fn(ph.value, inHeader)
			}
		}
	}
	if x.Response != nil {
		bodyCandidates(x.Response.Body.Data, inResponse, fn)
	}
}

func bodyCandidates(b []byte, w where, fn func(v string, w where)) {
	if len(b) == 0 {
		return
	}
	walkJSON(b, func(_ []any, v string) { fn(v, w) })
	if bytes.Contains(b, []byte(redact.PlaceholderPrefix)) {
		for _, ph := range placeholders(b) {
			fn(ph.value, w)
		}
	}
}

// candidate is a value of a record and where it was first seen in it.
type candidate struct {
	value string
	where where
}

// collect lists the distinct candidate values of rec in the order
// candidates gives them.
func collect(rec traffic.Record) []candidate {
	var out []candidate
	seen := map[string]bool{}
	candidates(rec, func(val string, w where) {
		if !seen[val] {
			seen[val] = true
			out = append(out, candidate{val, w})
		}
	})
	return out
}

// variant is Variant with a bounded memo: the same values recur in every
// request of a copy (its token, its session's tag).
func (v *Identities) variant(val, label string) string {
	k := label + "\x00" + val
	if out, ok := v.memo[k]; ok {
		return out
	}
	out := Variant(val, label)
	if len(v.memoOrder) >= maxCached {
		delete(v.memo, v.memoOrder[0])
		v.memoOrder = v.memoOrder[1:]
	}
	v.memo[k] = out
	v.memoOrder = append(v.memoOrder, k)
	return out
}

// classify decides the class of the values rec shows first.
func (v *Identities) classify(rec traffic.Record, cands []candidate) {
	var proof bool
	status := 0
	var x *traffic.Exchange
	switch rec.Kind {
	case traffic.KindExchange:
		x = rec.Exchange
	case traffic.KindWSOpen:
		x = &rec.WSOpen.Upgrade
	}
	if x != nil {
		proof = hasProof(x.Request.Body.Data)
		if x.Response != nil {
			status = x.Response.Status
		}
	}
	for _, cd := range cands {
		val, w := cd.value, cd.where
		if isPlaceholder(val) || !idLike(val) {
			continue
		}
		c, known := v.class[val]
		switch w {
		case inBody:
			switch {
			case proof:
				// A proof of identity (a login's key and challenge) is
				// kept whole: a changed key would not match its
				// signature.
				if !known {
					v.set(val, classFixed)
				}
			case !known || c == classPending:
				v.set(val, classClient)
			}
		case inPutURL:
			if !known {
				v.set(val, classClient)
			}
		case inURL, inHeader:
			if !known {
				if status == 404 {
					v.set(val, classPending)
				} else {
					v.set(val, classFixed)
				}
			}
		case inResponse:
			if !known {
				v.set(val, classFixed)
			}
		}
	}
}

func (v *Identities) set(val string, c valueClass) {
	if _, known := v.class[val]; !known {
		if len(v.order) >= maxClasses {
			delete(v.class, v.order[0])
			v.order = v.order[1:]
		}
		v.order = append(v.order, val)
	}
	if c == classClient {
		v.stats.ClientValues++
	}
	v.class[val] = c
}

// varied lists the values of the record at pos that each copy varies:
// client-made values and placeholders, longest first (so a value
// containing another is replaced whole).
func (v *Identities) varied(pos uint64, rec traffic.Record, cands []candidate) []string {
	if vals, ok := v.cache[pos]; ok {
		return vals
	}
	if cands == nil {
		cands = collect(rec)
	}
	var vals []string
	for _, cd := range cands {
		val := cd.value
		if strings.HasPrefix(val, redact.PlaceholderPrefix) && strings.HasSuffix(val, ">") || v.class[val] == classClient {
			vals = append(vals, val)
		}
	}
	sort.Slice(vals, func(i, j int) bool {
		if len(vals[i]) != len(vals[j]) {
			return len(vals[i]) > len(vals[j])
		}
		return vals[i] < vals[j]
	})
	if len(v.cacheOrder) >= maxCached {
		delete(v.cache, v.cacheOrder[0])
		v.cacheOrder = v.cacheOrder[1:]
	}
	v.cache[pos] = vals
	v.cacheOrder = append(v.cacheOrder, pos)
	return vals
}

// hasProof reports whether a JSON body carries a proof of identity (a
// signature, a password) under one of proofKeys.
func hasProof(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	lower := bytes.ToLower(body)
	for k := range proofKeys {
		if bytes.Contains(lower, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}

// idLike reports whether v looks like an identifier a client could have
// made up: 8 to 512 bytes, letters and digits, no spaces, quotes or
// backslashes, not a URL and not a date or time.
func idLike(v string) bool {
	if len(v) < minValue || len(v) > maxValue {
		return false
	}
	var digit, letter bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c <= ' ' || c == '"' || c == '\\' || c == 0x7f:
			return false
		}
	}
	return digit && letter && !strings.Contains(v, "://") && !looksLikeTime(v)
}

func looksLikeTime(v string) bool {
	if len(v) < 10 || v[4] != '-' || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}

// Variant returns the value a copy sends in place of the client-made
// value v: v itself for the recorded identity (label ""), otherwise a
// variant that is the same for every use of v within the copy and differs
// between copies. A UUID stays a UUID (version and variant digits kept),
// a hex id stays hex of the same length and case, and a long token-like id
// (base64, base64url, cuid) keeps its length and the class of every
// character (lower, upper, digit; base64 padding and its last data
// character kept, so it still decodes to the same length). Values too
// short for a random variant to be safely unique get a suffix: "-c3" for
// copy 3, "-c3.1" for its second round ("home-1-5" becomes "home-1-5-c3").
// A redaction placeholder gets the suffix inside its brackets:
// "<redacted:1a2b3c4d-c3>", a distinct identity for a permissive server.
func Variant(v, label string) string {
	if label == "" || v == "" {
		return v
	}
	suffix := "-c" + label
	if strings.HasPrefix(v, redact.PlaceholderPrefix) && strings.HasSuffix(v, ">") {
		return v[:len(v)-1] + suffix + ">"
	}
	r := newStream(label, v)
	var out string
	switch {
	case isUUID(v):
		out = scrambleHex(v, r, func(i int) bool { return i == 14 || i == 19 })
	case isHex(v) && len(v) >= 16:
		out = scrambleHex(v, r, nil)
	case tokenLike(v) && entropyBits(v) >= 64:
		out = scrambleToken(v, r)
	default:
		return v + suffix
	}
	if out == v {
		return v + suffix
	}
	return out
}

// stream is deterministic pseudo-random bytes from a copy label and a
// value.
type stream struct {
	seed [32]byte
	buf  []byte
	n    uint32
}

func newStream(label, v string) *stream {
	return &stream{seed: sha256.Sum256([]byte("reprise copy\x00" + label + "\x00" + v))}
}

func (s *stream) byte() byte {
	if len(s.buf) == 0 {
		var block [36]byte
		copy(block[:], s.seed[:])
		binary.BigEndian.PutUint32(block[32:], s.n)
		s.n++
		sum := sha256.Sum256(block[:])
		s.buf = sum[:]
	}
	b := s.buf[0]
	s.buf = s.buf[1:]
	return b
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if !isHexDigit(v[i]) {
			return false
		}
	}
	return len(v) > 0
}

func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch i {
		case 8, 13, 18, 23:
			if v[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(v[i]) {
				return false
			}
		}
	}
	return true
}

// scrambleHex replaces the hex digits of v (but those keep says) with
// random hex digits of the same case.
func scrambleHex(v string, r *stream, keep func(int) bool) string {
	upper := strings.ToLower(v) != v
	lowerDigits, upperDigits := "0123456789abcdef", "0123456789ABCDEF"
	b := []byte(v)
	for i, c := range b {
		if !isHexDigit(c) || keep != nil && keep(i) {
			continue
		}
		d := r.byte() & 15
		switch {
		case c >= 'A' && c <= 'F', upper && c >= '0' && c <= '9':
			b[i] = upperDigits[d]
		default:
			b[i] = lowerDigits[d]
		}
	}
	return string(b)
}

// tokenLike reports whether v is printable ASCII without spaces.
func tokenLike(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

// entropyBits estimates the randomness a class-preserving variant of v
// has: 3.3 bits per digit, 4.7 per letter.
func entropyBits(v string) float64 {
	bits := 0.0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			bits += 3.32
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			bits += 4.7
		}
	}
	return bits
}

// scrambleToken replaces every letter and digit of v with a random one of
// the same class, keeping the rest; for base64 the last character before
// padding (which holds the trailing bits) is kept too.
func scrambleToken(v string, r *stream) string {
	b := []byte(v)
	end := len(b)
	trimmed := strings.TrimRight(v, "=")
	if len(trimmed) < len(v) || len(v)%4 == 2 || len(v)%4 == 3 {
		end = len(trimmed) - 1
	}
	for i := 0; i < end; i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + r.byte()%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + r.byte()%26
		case c >= '0' && c <= '9':
			b[i] = '0' + r.byte()%10
		}
	}
	return string(b)
}

// rewrite returns a copy of rec with every recorded value of pairs
// (recorded, variant, ...; longest first) replaced by its variant: request
// URL, headers and body, the recorded response body, WebSocket upgrade
// and client messages.
func rewrite(rec traffic.Record, pairs []string) traffic.Record {
	switch rec.Kind {
	case traffic.KindExchange:
		x := *rec.Exchange
		rewriteExchange(&x, pairs)
		rec.Exchange = &x
	case traffic.KindWSOpen:
		o := *rec.WSOpen
		rewriteExchange(&o.Upgrade, pairs)
		rec.WSOpen = &o
	case traffic.KindWSMessage:
		if !rec.WSMessage.FromClient {
			return rec
		}
		m := *rec.WSMessage
		m.Payload, m.Size = replaceBody(m.Payload, m.Size, pairs)
		rec.WSMessage = &m
	}
	return rec
}

func rewriteExchange(x *traffic.Exchange, pairs []string) {
	if hits(x.Request.URL, pairs) != nil || strings.Contains(x.Request.URL, "%") {
		x.Request.URL = replaceURL(x.Request.URL, pairs)
	}
	var h traffic.Fields
	for i, f := range x.Request.Header {
		nv := substitute(f.Value, pairs)
		if nv == f.Value {
			continue
		}
		if h == nil {
			h = x.Request.Header.Clone()
		}
		h[i].Value = nv
	}
	if h != nil {
		x.Request.Header = h
	}
	x.Request.Body.Data, x.Request.Body.Size = replaceBody(x.Request.Body.Data, x.Request.Body.Size, pairs)
	if x.Response != nil && len(x.Response.Body.Data) > 0 {
		if b, size := replaceBody(x.Response.Body.Data, x.Response.Body.Size, pairs); len(b) != len(x.Response.Body.Data) || &b[0] != &x.Response.Body.Data[0] {
			resp := *x.Response
			resp.Body.Data, resp.Body.Size = b, size
			x.Response = &resp
		}
	}
}

// hits returns the pairs whose recorded value s contains, nil if none.
func hits(s string, pairs []string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.Contains(s, pairs[i]) {
			out = append(out, pairs[i], pairs[i+1])
		}
	}
	return out
}

// substitute replaces the recorded values of pairs in s.
func substitute(s string, pairs []string) string {
	return replaceHits(s, hits(s, pairs))
}

// replaceHits replaces the pairs' values, all known to occur in s.
func replaceHits(s string, h []string) string {
	switch len(h) {
	case 0:
		return s
	case 2:
		return strings.ReplaceAll(s, h[0], h[1])
	}
	return replaceMany(s, h)
}

// replaceMany replaces the recorded values of pairs (longest first) in
// one pass, as strings.Replacer would (leftmost match first, the longest
// at one position), without building a Replacer for every event.
func replaceMany(s string, pairs []string) string {
	type match struct {
		at, end int
		repl    string
	}
	var ms []match
	for i := 0; i+1 < len(pairs); i += 2 {
		old := pairs[i]
		for off := 0; off < len(s); {
			j := strings.Index(s[off:], old)
			if j < 0 {
				break
			}
			ms = append(ms, match{off + j, off + j + len(old), pairs[i+1]})
			off += j + len(old)
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].at != ms[j].at {
			return ms[i].at < ms[j].at
		}
		return ms[i].end > ms[j].end
	})
	var b strings.Builder
	b.Grow(len(s) + 16*len(ms))
	cur := 0
	for _, m := range ms {
		if m.at < cur {
			continue
		}
		b.WriteString(s[cur:m.at])
		b.WriteString(m.repl)
		cur = m.end
	}
	b.WriteString(s[cur:])
	return b.String()
}

func replaceBody(b []byte, size int64, pairs []string) ([]byte, int64) {
	if len(b) == 0 {
		return b, size
	}
	var h []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if bytes.Contains(b, []byte(pairs[i])) {
			h = append(h, pairs[i], pairs[i+1])
		}
	}
	if h == nil {
		return b, size
	}
	s := replaceHits(string(b), h)
	return []byte(s), size + int64(len(s)-len(b))
}
