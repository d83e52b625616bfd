package redact

import (
	"bytes"
	"encoding/binary"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// Echoes. A value a rule replaces is remembered, and every later place
// where it appears again (the request URL echoed in a response body, a
// bearer token in a pagination link, a ticket in a WebSocket message) is
// replaced by the same placeholder, whatever the field.
//
// An echo is found by an anchor: the last anchorLen (8) bytes of the
// secret's longest run of ASCII letters and digits, bytes that no URL,
// JSON or HTML encoder escapes ('.', '-' and '_' are left alone by most,
// but some HTML and JavaScript escapers write them as &#x2e; or \x2e).
// An occurrence of an 8-byte anchor holds one of its four 4-byte grams
// at a position that is a multiple of 4 from where the search starts, so
// the text is probed every 4 bytes: a 4-byte load, a multiply, a shift
// and a lookup in a table of counters of the anchors' grams. A hit is
// checked against a second table of the whole anchors, then a map, and
// the secret is then matched outwards from the anchor, decoding as it
// goes, so that every encoding of the secret, and any mix of them, is
// found without listing its forms.

const (
	// echoMinLen is the shortest value searched for: shorter ones
	// (cookie flags, small numbers) would replace unrelated data.
	echoMinLen = 8
	// echoMaxLen is the longest value searched for (a whole document
	// under a secret key is not an echo candidate).
	echoMaxLen = 1024
	// anchorLen is the width of the searched window.
	anchorLen = 8
	// echoMinDistinct is how many different bytes a value needs to be
	// searched for: "00000000" or "20250101" would match inside
	// timestamps and ids.
	echoMinDistinct = 6
	// matchWork bounds the characters decoded to confirm one anchor hit
	// (ambiguous encodings branch; real text hardly ever does), and
	// scrubWork those decoded for one record.
	matchWork = 1 << 16
	scrubWork = 1 << 22
)

// DefaultMaxSecrets bounds how many secrets a Redactor remembers to find
// their echoes; MaxSecrets is the largest bound WithMaxSecrets accepts.
const (
	DefaultMaxSecrets = 4096
	MaxSecrets        = 1 << 20
)

// anchorByte marks the bytes an anchor is made of.
var anchorByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()

// echoAnchor returns the offset of the anchor in s: the last anchorLen
// bytes of its first longest run of anchor bytes. ok is false when s is
// not searched for (too short, too long, too repetitive, no run long
// enough, or a placeholder).
func echoAnchor(s []byte) (off int, ok bool) {
	if len(s) < echoMinLen || len(s) > echoMaxLen || bytes.Contains(s, []byte(PlaceholderPrefix)) || inPlaceholder(s) {
		return 0, false
	}
	var seen [256]bool
	distinct := 0
	bestEnd, best, run := 0, 0, 0
	for i, c := range s {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
		if !anchorByte[c] {
			run = 0
			continue
		}
		run++
		if run > best {
			best, bestEnd = run, i+1
		}
	}
	if distinct < echoMinDistinct || best < anchorLen {
		return 0, false
	}
	return bestEnd - anchorLen, true
}

// inPlaceholder reports whether s could match a part of placeholders
// that includes their fixed text ("redacted:0a", "0a1b2c3d>"): replacing
// it would break placeholders. (Eight hex digits alone match only the
// placeholder of the secret with that very hash.)
func inPlaceholder(s []byte) bool {
	const shape = PlaceholderPrefix + "xxxxxxxx>"
	for off := 0; off+len(s) <= len(shape); off++ {
		if off >= len(PlaceholderPrefix) && off+len(s) <= len(shape)-1 {
			continue
		}
		ok := true
		for i, c := range s {
			want := shape[off+i]
			if want == 'x' && i+off >= len(PlaceholderPrefix) {
				_, isHex := hexVal(c)
				ok = isHex && (c < 'A' || c > 'F')
			} else {
				ok = c == want
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// echoEntry is one remembered secret.
type echoEntry struct {
	secret     []byte
	ph         string // the placeholder
	phEscaped  string // the placeholder percent-encoded
	anchor     uint64
	off        int // of the anchor in secret
	prev, next *echoEntry
}

// echoSet is the bounded set of remembered secrets, least recently
// found first out.
type echoSet struct {
	limit int
	// mu is held from remembering a record's secrets to the end of the
	// search for their echoes, so no other record makes the set forget
	// them in between.
	mu        sync.Mutex
	n         atomic.Int64 // len(byValue), read without the lock
	forgotten atomic.Int64
	byValue   map[string]*echoEntry
	byAnchor  map[uint64][]*echoEntry
	// Counting filters: of the anchors' 4-byte grams, and of the
	// anchors.
	grams, anchors         []uint32
	gramShift, anchorShift uint
	lru                    echoEntry // sentinel: lru.next is the most recent
}

func newEchoSet(limit int) *echoSet {
	// About one slot in 16 of the gram filter is taken when full, one
	// in 16 of the anchor filter.
	gsize, asize := filterSize(limit*4*16), filterSize(limit*16)
	s := &echoSet{
		limit:       limit,
		byValue:     map[string]*echoEntry{},
		byAnchor:    map[uint64][]*echoEntry{},
		grams:       make([]uint32, gsize),
		anchors:     make([]uint32, asize),
		gramShift:   uint(64 - bitsLen(gsize)),
		anchorShift: uint(64 - bitsLen(asize)),
	}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	return s
}

func bitsLen(pow2 int) int {
	n := 0
	for pow2 > 1 {
		pow2 >>= 1
		n++
	}
	return n
}

// filterSize returns a power of two of at least n slots, within
// [1 Ki, 4 Mi].
func filterSize(n int) int {
	size := 1024
	for size < n && size < 1<<22 {
		size <<= 1
	}
	return size
}

const hashMul = 0x9E3779B97F4A7C15

func (s *echoSet) anchorSlot(key uint64) uint64 { return (key * hashMul) >> s.anchorShift }

func (s *echoSet) gramSlot(g uint32) uint64 { return (uint64(g) * hashMul) >> s.gramShift }

// count adds d to the filters' counters of e's anchor.
func (s *echoSet) count(e *echoEntry, d uint32) {
	s.anchors[s.anchorSlot(e.anchor)] += d
	for o := range 4 {
		s.grams[s.gramSlot(uint32(e.anchor>>(8*o)))] += d
	}
}

// begin remembers a record's secrets (or marks them found again; ph
// gives a secret's placeholder) and returns a scrubber for the record's
// echoes, holding the set's lock until done. ok is false (and the lock
// released) when no secret is known.
func (s *echoSet) begin(secrets [][]byte, ph func([]byte) string) (sc scrubber, ok bool) {
	if len(secrets) == 0 && s.n.Load() == 0 {
		return sc, false
	}
	s.mu.Lock()
	s.rememberLocked(secrets, ph)
	if len(s.byValue) == 0 {
		s.mu.Unlock()
		return sc, false
	}
	return scrubber{s: s, work: scrubWork}, true
}

func (s *echoSet) rememberLocked(secrets [][]byte, ph func([]byte) string) {
	for _, sec := range secrets {
		if e, ok := s.byValue[string(sec)]; ok {
			s.touchLocked(e)
			continue
		}
		off, ok := echoAnchor(sec)
		if !ok {
			continue
		}
		e := &echoEntry{secret: append([]byte(nil), sec...), off: off}
		e.ph = ph(e.secret)
		e.phEscaped = url.QueryEscape(e.ph)
		e.anchor = binary.LittleEndian.Uint64(e.secret[off:])
		s.byValue[string(e.secret)] = e
		s.byAnchor[e.anchor] = append(s.byAnchor[e.anchor], e)
		s.count(e, 1)
		s.pushFrontLocked(e)
		if len(s.byValue) > s.limit {
			s.forgetLocked(s.lru.prev)
		}
		s.n.Store(int64(len(s.byValue)))
	}
}

func (s *echoSet) touchLocked(e *echoEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	s.pushFrontLocked(e)
}

func (s *echoSet) pushFrontLocked(e *echoEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *echoSet) forgetLocked(e *echoEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(s.byValue, string(e.secret))
	list := s.byAnchor[e.anchor]
	for i, o := range list {
		if o == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byAnchor, e.anchor)
	} else {
		s.byAnchor[e.anchor] = list
	}
	s.count(e, ^uint32(0))
	s.forgotten.Add(1)
}

// scrubMode says how an echo is replaced in a kind of text.
type scrubMode uint8

const (
	// modeText: plain text (headers, HTML, multipart); the placeholder,
	// percent-encoded when the echo was.
	modeText scrubMode = iota
	// modeURL: a URL or form body; the placeholder percent-encoded.
	modeURL
	// modeJSON: JSON or JSON-like text (socket.io frames); echoes
	// inside strings keep the string valid, an echo outside strings
	// (a number) becomes a JSON string.
	modeJSON
)

// scrubber replaces echoes of an echoSet's secrets. The set's lock is
// held from echoSet.begin to done.
type scrubber struct {
	s    *echoSet
	hits []*echoEntry
	work int  // left of scrubWork
	cut  bool // the text being scrubbed was cut short at its end
}

// done marks the secrets whose echoes were found as recently seen and
// releases the lock.
func (sc *scrubber) done() {
	for _, e := range sc.hits {
		if sc.s.byValue[string(e.secret)] == e {
			sc.s.touchLocked(e)
		}
	}
	sc.s.mu.Unlock()
}

// bytesOf views s as bytes without copying; the result is only read.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// str scrubs a string.
func (sc *scrubber) str(v string, mode scrubMode) (string, bool) {
	if len(v) < anchorLen {
		return v, false
	}
	out, changed := sc.bytes(bytesOf(v), mode, false)
	if !changed {
		return v, false
	}
	return string(out), true
}

// bytes scrubs h; h itself is returned when nothing was found, else a
// new slice. cut says h was cut short (a body or message over the
// recorder's cap): an echo that runs to its end is replaced too.
func (sc *scrubber) bytes(h []byte, mode scrubMode, cut bool) ([]byte, bool) {
	sc.cut = cut
	json := mode == modeJSON
	if m := sc.next(h, 0, 0, len(h), json, false); m.e == nil {
		return h, false
	}
	if json {
		return sc.json(h), true
	}
	out := sc.segment(make([]byte, 0, len(h)), h, 0, len(h), mode, false)
	return out, true
}

// json scrubs JSON-like text string by string.
func (sc *scrubber) json(h []byte) []byte {
	out := make([]byte, 0, len(h))
	i := 0
	for i < len(h) {
		q := bytes.IndexByte(h[i:], '"')
		if q < 0 {
			return sc.segment(out, h, i, len(h), modeJSON, false)
		}
		q += i
		out = sc.segment(out, h, i, q, modeJSON, false)
		end, err := scanString(h, q)
		cEnd := end
		if err == nil {
			cEnd = end - 1
		}
		out = append(out, '"')
		out = sc.segment(out, h, q+1, cEnd, modeJSON, true)
		if err == nil {
			out = append(out, '"')
		}
		i = end
	}
	return out
}

// segment appends h[lo:hi] to out with echoes replaced. inString says
// the segment is the inside of a JSON string: an echo may not start
// inside an escape sequence.
func (sc *scrubber) segment(out, h []byte, lo, hi int, mode scrubMode, inString bool) []byte {
	json := mode == modeJSON
	copied := lo
	for {
		m := sc.next(h, copied, copied, hi, json, inString)
		if m.e == nil {
			break
		}
		if json && !inString {
			// Outside strings: the whole literal (a number) the echo
			// is in becomes a string.
			for m.start > copied && isLiteralByte(h[m.start-1]) {
				m.start--
			}
			for m.end < hi && isLiteralByte(h[m.end]) {
				m.end++
			}
		}
		out = append(out, h[copied:m.start]...)
		ph := m.e.ph
		if mode == modeURL || (bytes.IndexByte(h[m.start:m.end], '%') >= 0 && !bytes.Equal(h[m.start:m.end], m.e.secret)) {
			ph = m.e.phEscaped
		}
		if json && !inString {
			out = append(out, '"')
			out = append(out, ph...)
			out = append(out, '"')
		} else {
			out = append(out, ph...)
		}
		sc.hits = append(sc.hits, m.e)
		copied = m.end
	}
	return append(out, h[copied:hi]...)
}

// escapeBoundary reports whether position p of a JSON string's inside
// starts a character (not the middle of an escape sequence).
func escapeBoundary(in []byte, p int) bool {
	i := 0
	for i < p {
		switch {
		case in[i] != '\\':
			i++
		case i+1 < len(in) && in[i+1] == 'u':
			i += 6
		default:
			i += 2
		}
	}
	return i == p
}

// match is an echo found at h[start:end].
type match struct {
	e          *echoEntry
	start, end int
}

// next finds the first echo within h[lo:hi] whose anchor lies at or
// after from; the longest when several secrets share the anchor. In
// JSON text a quote or backslash of a secret only matches escaped, so a
// match never crosses a string's bounds; inString says h[lo:hi] is the
// inside of a JSON string, where a match must not start inside an
// escape sequence.
func (sc *scrubber) next(h []byte, lo, from, hi int, json, inString bool) match {
	s := sc.s
	grams, shift := s.grams, s.gramShift
	mask := uint64(len(grams) - 1)
	h = h[:hi]
	slot := func(t int) uint64 { return (uint64(binary.LittleEndian.Uint32(h[t:])) * hashMul >> shift) & mask }
	// t steps by 4; an anchor at j in [t-3, t] holds the gram at t.
	// Four grams are probed at once while 16 bytes remain.
	for t := from; t+4 <= len(h); {
		n := 1
		if t+16 <= len(h) {
			w := h[t : t+16]
			if grams[(uint64(binary.LittleEndian.Uint32(w[0:]))*hashMul>>shift)&mask]|
				grams[(uint64(binary.LittleEndian.Uint32(w[4:]))*hashMul>>shift)&mask]|
				grams[(uint64(binary.LittleEndian.Uint32(w[8:]))*hashMul>>shift)&mask]|
				grams[(uint64(binary.LittleEndian.Uint32(w[12:]))*hashMul>>shift)&mask] == 0 {
				t += 16
				continue
			}
			n = 4
		}
		for ; n > 0; n, t = n-1, t+4 {
			if grams[slot(t)] == 0 {
				continue
			}
			if m := sc.probe(h, t, lo, from, json, inString); m.e != nil {
				return m
			}
		}
	}
	return match{}
}

// probe checks the anchors that may hold the gram at t: those at j in
// [t-3, t], j >= from.
func (sc *scrubber) probe(h []byte, t, lo, from int, json, inString bool) match {
	s := sc.s
	for j := max(t-3, from); j <= t && j+anchorLen <= len(h); j++ {
		key := binary.LittleEndian.Uint64(h[j:])
		if s.anchors[s.anchorSlot(key)] == 0 {
			continue
		}
		if m := sc.at(h, j, key, lo, len(h), json, inString); m.e != nil {
			return m
		}
	}
	return match{}
}

// at confirms an anchor hit at j: the longest echo whose anchor is there.
//
// Text built to defeat the search (long runs of nested escape
// characters) can exhaust the work bounds; the part of the echo that was
// not confirmed is then replaced from the anchor on, as if it matched,
// so that what is kept is at most the part before the anchor.
func (sc *scrubber) at(h []byte, j int, key uint64, lo, hi int, json, inString bool) match {
	var best match
	for _, e := range sc.s.byAnchor[key] {
		budget := min(matchWork, sc.work)
		m := matcher{h: h[:hi], json: json, work: budget, cut: sc.cut && hi == len(h)}
		start, end := m.echo(j, e, lo, inString)
		sc.work -= budget - m.work
		if start < 0 {
			continue
		}
		if best.e == nil || end-start > best.end-best.start {
			best = match{e: e, start: start, end: end}
		}
	}
	return best
}

// echo matches e's secret around its anchor at j; start is -1 when it
// does not match.
func (m *matcher) echo(j int, e *echoEntry, lo int, inString bool) (start, end int) {
	end = m.match(j+anchorLen, e.secret[e.off+anchorLen:], -1)
	if end < 0 {
		if !m.exhausted {
			return -1, -1
		}
		end = j + anchorLen
	}
	start = m.start(j, e.secret[:e.off], lo, inString)
	if start < 0 {
		if !m.exhausted || (inString && !escapeBoundary(m.h[lo:], j-lo)) {
			return -1, -1
		}
		start = j
	}
	return start, end
}

const (
	// maxLevel is how many encodings over one another are undone: a
	// URL percent-encoded inside a percent-encoded redirect URL, in a
	// JSON string.
	maxLevel = 3
	// maxSpread bounds how many bytes of text encode one byte of a
	// secret (a doubly escaped "\\u0026" is 7).
	maxSpread = 12
)

// matcher matches a secret against text that may carry it encoded:
// literally, percent-encoded (either hex case, '+' for a space), with
// JSON escapes (\/, \", \\, \n and the like, \uXXXX in either hex case,
// surrogate pairs included) or HTML character references (&amp;, &#43;,
// &#x2B;), in any mix, and up to maxLevel encodings deep.
type matcher struct {
	h    []byte
	json bool
	cut  bool            // h was cut short: a match may run past its end
	memo map[[2]int]bool // states known to fail
	// work is what is left of the characters the matcher may decode;
	// exhausted says it ran out.
	work      int
	exhausted bool
}

// step is one way to go on matching: ds bytes of the secret against dh
// bytes of the text.
type step struct{ ds, dh int }

// match matches s against h from p and returns where the match ends, or
// -1. With want >= 0 the match must end exactly there.
func (m *matcher) match(p int, s []byte, want int) int {
	m.memo = nil
	return m.from(p, s, 0, want)
}

func (m *matcher) from(p int, s []byte, k int, want int) int {
	for k < len(s) {
		if p >= len(m.h) && m.cut && want < 0 {
			return p
		}
		var us units
		m.read(maxLevel, p, &us)
		var alts [maxUnits]step
		n := 0
		for _, u := range us.u[:us.n] {
			ds := 0
			switch {
			case u.isByte:
				if byte(u.v) == s[k] {
					ds = 1
				}
			default:
				ds = runePrefix(s[k:], u.v)
			}
			if ds > 0 && (want < 0 || u.next <= want) {
				alts[n] = step{ds, u.next - p}
				n++
			}
		}
		if n == 1 {
			k, p = k+alts[0].ds, p+alts[0].dh
			continue
		}
		for _, a := range alts[:n] {
			st := [2]int{p + a.dh, k + a.ds}
			if m.memo[st] || m.exhausted {
				continue
			}
			if end := m.from(st[0], s, st[1], want); end >= 0 {
				return end
			}
			if m.memo == nil {
				m.memo = map[[2]int]bool{}
			}
			m.memo[st] = true
		}
		return -1
	}
	if want >= 0 && p != want {
		return -1
	}
	return p
}

// start finds where an encoding of prefix ends exactly at i (the
// anchor), no earlier than lo, and returns it (-1 for none).
func (m *matcher) start(i int, prefix []byte, lo int, inString bool) int {
	var bound []bool // bound[p-w0]: p starts a character of the JSON string
	w0 := max(lo, i-maxSpread*len(prefix))
	if inString {
		bound = make([]bool, i-w0+1)
		for p := lo; p <= i; {
			if p >= w0 {
				bound[p-w0] = true
			}
			switch {
			case m.h[p] != '\\':
				p++
			case p+1 < len(m.h) && m.h[p+1] == 'u':
				p += 6
			default:
				p += 2
			}
		}
		if !bound[i-w0] {
			return -1
		}
	}
	if len(prefix) == 0 {
		return i
	}
	// Whether prefix can be matched from a state (p, k) to end exactly
	// at i does not depend on where the match started: the memo is
	// shared by every start tried.
	m.memo = nil
	if w := i - len(prefix); w >= lo && bytes.Equal(m.h[w:i], prefix) && (!m.json || bytes.IndexAny(prefix, "\"\\") < 0) && (bound == nil || bound[w-w0]) {
		return w
	}
	// Every encoding takes at least one byte of text per byte of the
	// secret: the nearest start is i-len(prefix). Starts are tried from
	// there outwards and the first that matches wins (a real echo is
	// usually a few bytes further than the nearest).
	first := prefix[0]
	for p := i - len(prefix); p >= w0; p-- {
		if c := m.h[p]; c != first && c != '%' && c != '\\' && c != '&' && c != '+' {
			continue
		}
		if bound != nil && !bound[p-w0] {
			continue
		}
		if m.from(p, prefix, 0, i) == i {
			return p
		}
		if m.exhausted {
			return -1
		}
	}
	return -1
}

// unit is one character read from the text: a byte (a literal or
// percent-decoded byte) or a rune (from a \u escape or an HTML
// reference), ending at next.
type unit struct {
	v      rune
	isByte bool
	next   int
}

const maxUnits = 16

// units is a small set of alternative readings.
type units struct {
	n int
	u [maxUnits]unit
}

func (us *units) add(u unit) {
	for _, o := range us.u[:us.n] {
		if o == u {
			return
		}
	}
	if us.n < maxUnits {
		us.u[us.n] = u
		us.n++
	}
}

// read adds to out the characters that h[p:] may start with once level
// encodings are undone (each character literal or decoded at each
// level).
func (m *matcher) read(level, p int, out *units) {
	if p >= len(m.h) || m.exhausted {
		return
	}
	if m.work--; m.work <= 0 {
		m.exhausted = true
		return
	}
	if level == 0 {
		out.add(unit{v: rune(m.h[p]), isByte: true, next: p + 1})
		return
	}
	var lower units
	m.read(level-1, p, &lower)
	for _, d := range lower.u[:lower.n] {
		if !(level == 1 && m.json && (d.v == '"' || d.v == '\\')) {
			out.add(d)
		}
		switch d.v {
		case '+':
			out.add(unit{v: ' ', isByte: true, next: d.next})
		case '%':
			if v, next, ok := m.hexAt(level-1, d.next, 2); ok {
				out.add(unit{v: v, isByte: true, next: next})
			}
		case '\\':
			m.escape(level-1, d.next, out)
		case '&':
			m.reference(level-1, d.next, out)
		}
	}
}

// char reads the first character at p one level down; ok is false at the
// end of the text.
func (m *matcher) char(level, p int) (unit, bool) {
	var us units
	m.read(level, p, &us)
	if us.n == 0 {
		return unit{}, false
	}
	return us.u[0], true
}

// hexAt reads n hex digits at p one level down.
func (m *matcher) hexAt(level, p, n int) (rune, int, bool) {
	var v rune
	for range n {
		u, ok := m.char(level, p)
		if !ok || u.v >= utf8.RuneSelf {
			return 0, 0, false
		}
		x, ok := hexVal(byte(u.v))
		if !ok {
			return 0, 0, false
		}
		v, p = v<<4|rune(x), u.next
	}
	return v, p, true
}

// escape reads a JSON escape whose backslash ends just before p.
func (m *matcher) escape(level, p int, out *units) {
	e, ok := m.char(level, p)
	if !ok {
		return
	}
	var c rune
	switch e.v {
	case '"', '\\', '/':
		c = e.v
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		r, next, ok := m.hexAt(level, e.next, 4)
		if !ok {
			return
		}
		if r >= 0xD800 && r < 0xDC00 {
			if b, ok := m.char(level, next); ok && b.v == '\\' {
				if u, ok := m.char(level, b.next); ok && u.v == 'u' {
					if r2, next2, ok := m.hexAt(level, u.next, 4); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						out.add(unit{v: (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000, next: next2})
						return
					}
				}
			}
		}
		if r >= 0xD800 && r < 0xE000 {
			r = utf8.RuneError
		}
		out.add(unit{v: r, next: next})
		return
	default:
		return
	}
	out.add(unit{v: c, isByte: true, next: e.next})
}

// reference reads an HTML character reference (&#NN;, &#xHH; or one of
// &amp; &lt; &gt; &quot; &apos;) whose ampersand ends just before p.
func (m *matcher) reference(level, p int, out *units) {
	var name [10]byte
	n := 0
	for {
		u, ok := m.char(level, p)
		if !ok || u.v >= utf8.RuneSelf {
			return
		}
		p = u.next
		if u.v == ';' {
			break
		}
		if n == len(name) {
			return
		}
		name[n] = byte(u.v)
		n++
	}
	if r, ok := htmlRef(name[:n]); ok {
		out.add(unit{v: r, next: p})
	}
}

// htmlRef decodes the name of an HTML character reference (between '&'
// and ';').
func htmlRef(name []byte) (rune, bool) {
	switch string(name) {
	case "amp":
		return '&', true
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], rune(10)
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 7 {
		return 0, false
	}
	var v rune
	for _, d := range digits {
		x, ok := hexVal(d)
		if !ok || rune(x) >= base {
			return 0, false
		}
		v = v*base + rune(x)
	}
	if v > utf8.MaxRune {
		return 0, false
	}
	return v, true
}

// runePrefix returns the length of r's UTF-8 encoding if s starts with
// it, else 0.
func runePrefix(s []byte, r rune) int {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if bytes.HasPrefix(s, buf[:n]) {
		return n
	}
	return 0
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// textMode picks the scrub mode of a text payload or body.
func textMode(ct string, data []byte) scrubMode {
	switch {
	case strings.Contains(ct, "json"):
		return modeJSON
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		return modeURL
	case strings.HasPrefix(ct, "multipart/"):
		return modeText
	case looksJSON(data) || looksSocketIO(data):
		return modeJSON
	}
	return modeText
}

// looksSocketIO reports whether p starts like a socket.io frame: digits
// then a JSON array or object.
func looksSocketIO(p []byte) bool {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i > 0 && i < len(p) && (p[i] == '[' || p[i] == '{')
}
