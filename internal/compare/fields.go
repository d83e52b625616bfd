package compare

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/redact"
)

// Response differences. The answers of one pair (the twins of an event
// in A and B, and A2 when there is one) are compared field by field: the
// status, chosen headers, and JSON bodies flattened to paths (objects by
// key, arrays by index, or by "id" when the elements of both arrays have
// ids in common). Paths are generalised over array positions, so a field
// is counted once per pair ("sessions[].active"), and an array's length
// is a field of its own ("len(sessions)").

// Field keys of the parts of an answer that are not in its body.
const (
	statusField = "(status)"
	headerField = "header "
	bodyField   = "(body)"
)

// maxLeaves bounds the leaves compared in one pair of documents.
const maxLeaves = 20000

// Values of a leaf that is not a JSON scalar.
const (
	absentValue = "(absent)"
	objectValue = "{…}"
	arrayValue  = "[…]"
)

// pairField is one field in one comparison of two answers: its first
// value on each side, whether any occurrence differed, and whether one
// differed in more than its id-like parts (masked).
type pairField struct {
	x, y        string
	differ      bool
	substantive bool
}

// docDiff collects the fields of one comparison of two answers.
type docDiff struct {
	fields map[string]*pairField
	budget int
}

func newDocDiff() *docDiff { return &docDiff{fields: map[string]*pairField{}, budget: maxLeaves} }

// leaf records one value on each side ("" is absent).
func (d *docDiff) leaf(key, x, y string) {
	if d.budget <= 0 || x == "" && y == "" {
		return
	}
	d.budget--
	if x == "" {
		x = absentValue
	}
	if y == "" {
		y = absentValue
	}
	sub := x != y && masked(x) != masked(y)
	f := d.fields[key]
	if f == nil {
		d.fields[key] = &pairField{x: x, y: y, differ: x != y, substantive: sub}
		return
	}
	if x != y && !f.differ {
		f.differ, f.x, f.y = true, x, y
	}
	f.substantive = f.substantive || sub
}

// masked is a value with its id-like parts (runs of letters, digits and
// + / = _ - . that analysis.IDLike takes for ids, and numbers of ten
// digits or more: times) replaced by one mark, so that two values
// differing only in ids compare equal: "/v1/sessions/3995b4e5…" and
// {"c":"V3ao4YkY…","t":"encrypted"} in a string.
func masked(v string) string {
	tokenChar := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+/=_-.", c) >= 0
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		if !tokenChar(v[i]) {
			b.WriteByte(v[i])
			i++
			continue
		}
		j := i
		for j < len(v) && tokenChar(v[j]) {
			j++
		}
		tok := v[i:j]
		digits := strings.Trim(tok, "0123456789") == ""
		if analysis.IDLike(tok) || digits && len(tok) >= 10 {
			b.WriteString("\x00")
		} else {
			b.WriteString(tok)
		}
		i = j
	}
	return b.String()
}

// decodeJSON reads one JSON document (numbers kept as written); false
// when data is not exactly one JSON value.
func decodeJSON(data []byte) (any, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' && data[0] != '[' && data[0] != '"' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// scalar is the canonical text of a JSON scalar, or of a container seen
// as a whole.
func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(t)
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case map[string]any:
		return objectValue
	case []any:
		return arrayValue
	}
	return "?"
}

// walk compares x and y at key; xok and yok say whether each is there.
func (d *docDiff) walk(key string, x, y any, xok, yok bool) {
	if d.budget <= 0 {
		return
	}
	xm, xObj := x.(map[string]any)
	ym, yObj := y.(map[string]any)
	if xok && yok && xObj && yObj {
		for _, k := range unionKeys(xm, ym) {
			xv, inX := xm[k]
			yv, inY := ym[k]
			d.walk(joinKey(key, k), xv, yv, inX, inY)
		}
		return
	}
	xa, xArr := x.([]any)
	ya, yArr := y.([]any)
	if xok && yok && xArr && yArr {
		d.leaf("len("+orRoot(key)+")", strconv.Itoa(len(xa)), strconv.Itoa(len(ya)))
		// elements without a twin are told by the length (and, paired
		// by id, by the count of them): a field of elements is compared
		// where both sides have one
		elem := key + "[]"
		if pairs, ok := pairByID(xa, ya); ok {
			var onlyX, onlyY int
			for _, p := range pairs {
				switch {
				case p[1] < 0:
					onlyX++
				case p[0] < 0:
					onlyY++
				default:
					d.walk(elem, xa[p[0]], ya[p[1]], true, true)
				}
			}
			d.leaf("unmatched("+orRoot(key)+")", strconv.Itoa(onlyX), strconv.Itoa(onlyY))
			return
		}
		for i := range min(len(xa), len(ya)) {
			d.walk(elem, xa[i], ya[i], true, true)
		}
		return
	}
	var xs, ys string
	if xok {
		xs = scalar(x)
	}
	if yok {
		ys = scalar(y)
	}
	d.leaf(orRoot(key), xs, ys)
}

func orRoot(key string) string {
	if key == "" {
		return "(root)"
	}
	return key
}

func joinKey(key, k string) string {
	if key == "" {
		return k
	}
	return key + "." + k
}

// pairByID pairs the elements of two arrays by their "id" when every
// element of both is an object with a scalar id and at least half of the
// shorter array's ids are in the other; elements without a twin are
// paired with -1 (counted by walk, not compared). Releases that make their own ids (each instance of a
// server its own) share none, and are compared by index.
func pairByID(xa, ya []any) ([][2]int, bool) {
	if len(xa) == 0 || len(ya) == 0 {
		return nil, false
	}
	ids := func(a []any) ([]string, bool) {
		out := make([]string, len(a))
		for i, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			switch id := m["id"].(type) {
			case string:
				out[i] = "s" + id
			case json.Number:
				out[i] = "n" + id.String()
			default:
				return nil, false
			}
		}
		return out, true
	}
	xi, ok1 := ids(xa)
	yi, ok2 := ids(ya)
	if !ok1 || !ok2 {
		return nil, false
	}
	where := make(map[string]int, len(yi))
	for i, id := range yi {
		if _, dup := where[id]; !dup {
			where[id] = i
		}
	}
	common := 0
	for _, id := range xi {
		if _, ok := where[id]; ok {
			common++
		}
	}
	if common == 0 || 2*common < min(len(xi), len(yi)) {
		return nil, false
	}
	used := make([]bool, len(yi))
	var out [][2]int
	for i, id := range xi {
		j, ok := where[id]
		if ok && !used[j] {
			used[j] = true
			out = append(out, [2]int{i, j})
			continue
		}
		out = append(out, [2]int{i, -1})
	}
	for j := range yi {
		if !used[j] {
			out = append(out, [2]int{-1, j})
		}
	}
	return out, true
}

// bodyDiff compares two bodies: as JSON documents when both are JSON,
// else as a whole.
func (d *docDiff) bodyDiff(prefix string, x, y []byte) {
	xv, xj := decodeJSON(x)
	yv, yj := decodeJSON(y)
	if xj && yj {
		d.walk(prefix, xv, yv, true, true)
		return
	}
	if len(x) == 0 && len(y) == 0 {
		return
	}
	d.leaf(prefix+bodyField, opaque(x, xj), opaque(y, yj))
}

// opaque stands for a body compared as a whole: short text as it is,
// longer bodies by their length and a hash.
func opaque(b []byte, isJSON bool) string {
	if len(b) == 0 {
		return `""`
	}
	if len(b) <= 64 && utf8.Valid(b) && !isJSON {
		return strconv.Quote(string(b))
	}
	h := sha256.Sum256(b)
	return strconv.Itoa(len(b)) + " bytes, sha256 " + hex.EncodeToString(h[:6])
}

// headerValue is a header's values as one canonical string.
func headerValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return strconv.Quote(strings.Join(vs, ", "))
}

// typeKeys are the members naming a WebSocket message's type, in order
// of preference; payloadKeys the members holding its payload, where a
// subtype may be named.
var (
	typeKeys    = []string{"type", "event", "t", "op", "kind", "action"}
	payloadKeys = []string{"payload", "data", "body"}
)

// messageType names a WebSocket message's type for comparing messages
// of one type together: its "type" (or "event", "t", ...) member, with a
// subtype named inside its payload ("update/new-message"); "(json)" for
// JSON with neither, "(text)" and "(binary)" for the rest.
func messageType(v any, isJSON, text bool) string {
	switch {
	case !isJSON && text:
		return "(text)"
	case !isJSON:
		return "(binary)"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "(json)"
	}
	t := typeOf(m)
	if t == "" {
		return "(json)"
	}
	// look for a subtype two levels into the payload
	for _, k := range payloadKeys {
		p, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		if s := typeOf(p); s != "" {
			return t + "/" + s
		}
		for _, k2 := range payloadKeys {
			if q, ok := p[k2].(map[string]any); ok {
				if s := typeOf(q); s != "" {
					return t + "/" + s
				}
			}
		}
	}
	return t
}

func typeOf(m map[string]any) string {
	for _, k := range typeKeys {
		if s, ok := m[k].(string); ok && s != "" && len(s) <= 48 && !analysis.IDLike(s) {
			return s
		}
	}
	return ""
}

// maxDistinct bounds the distinct values of a field remembered to judge
// whether it varies from one answer to the next.
const maxDistinct = 64

// fieldStat accumulates one field of one endpoint over its pairs.
type fieldStat struct {
	// n pairs compared A against B, d of them differing (dSub in more
	// than their id-like parts); n2 and d2 the same of A against A2.
	n, d, dSub, n2, d2 int64
	// Of the pairs compared both ways, onlyAB differed A against B only,
	// onlyAA2 A against A2 only.
	onlyAB, onlyAA2 int64
	// The windows of the run (in time order) the field was compared in,
	// differed in, and had pairs differing one way only in.
	winN, winD, winAB, winAA2 spread
	// A's values: how many, how many look like ids or times, and the
	// distinct ones (up to maxDistinct; over says there were more).
	aVals, idLike, timeLike int64
	distinct                map[string]struct{}
	over                    bool
	// The first pair that differed, A against B: values and its event.
	exA, exB, exA2 string
	exSeq          uint64
	hasEx          bool
}

// noteA notes one of A's values.
func (s *fieldStat) noteA(v string) {
	if v == absentValue || v == objectValue || v == arrayValue {
		return
	}
	s.aVals++
	if unq, err := strconv.Unquote(v); err == nil {
		if analysis.IDLike(unq) {
			s.idLike++
		}
		if analysis.TimeLike(unq) {
			s.timeLike++
		}
	} else if epochLike(v) {
		s.timeLike++
	}
	if s.over {
		return
	}
	if s.distinct == nil {
		s.distinct = map[string]struct{}{}
	}
	if len(v) > 64 {
		v = v[:64]
	}
	if _, ok := s.distinct[v]; !ok {
		if len(s.distinct) >= maxDistinct {
			s.over = true
			return
		}
		s.distinct[v] = struct{}{}
	}
}

// epochLike reports whether a JSON number reads as a Unix time in
// seconds, milliseconds, microseconds or nanoseconds between 2001 and
// 2286.
func epochLike(num string) bool {
	if strings.ContainsAny(num, ".eE-") {
		num, _, _ = strings.Cut(num, ".")
	}
	n := len(num)
	if n == 0 || num[0] < '1' || num[0] > '9' {
		return false
	}
	for i := 0; i < n; i++ {
		if num[i] < '0' || num[i] > '9' {
			return false
		}
	}
	return n == 10 || n == 13 || n == 16 || n == 19
}

// noise says why a field's differences are noise without a second
// instance of A to learn it from, or "": most of A's values look like
// ids or times, A gave a different value in most answers (counters,
// random values), or most differences are in id-like parts of the
// values only.
func (s *fieldStat) noise() string {
	if s.aVals == 0 {
		return ""
	}
	half := (s.aVals + 1) / 2
	switch {
	case s.idLike >= half:
		return "id-like values"
	case s.timeLike >= half:
		return "timestamps"
	case s.aVals >= 4 && (s.over || int64(len(s.distinct))*2 >= s.aVals):
		return "a different value in most answers"
	case s.d > 0 && 2*s.dSub <= s.d:
		return "differs in id-like parts only"
	}
	return ""
}

// fieldSet is the fields of one endpoint.
type fieldSet struct {
	// pairs counts the pairs whose answers were compared.
	pairs int64
	stats map[string]*fieldStat
	// dropped counts field occurrences beyond maxFields.
	dropped int64
}

// maxFields bounds the fields remembered per endpoint.
const maxFields = 512

func (fs *fieldSet) stat(key string) *fieldStat {
	s := fs.stats[key]
	if s == nil {
		if len(fs.stats) >= maxFields {
			fs.dropped++
			return nil
		}
		s = &fieldStat{}
		fs.stats[key] = s
	}
	return s
}

// add folds one pair's comparisons (A against B, and A against A2 when
// aa2 is not nil) into the endpoint's fields.
func (fs *fieldSet) add(seq uint64, win int64, ab, aa2 *docDiff) {
	fs.pairs++
	for key, f := range ab.fields {
		s := fs.stat(key)
		if s == nil {
			continue
		}
		s.n++
		s.winN.add(win)
		s.noteA(f.x)
		if f.differ {
			s.d++
			s.winD.add(win)
			if f.substantive {
				s.dSub++
			}
			if !s.hasEx {
				s.hasEx, s.exA, s.exB, s.exSeq = true, f.x, f.y, seq
				if aa2 != nil {
					if g := aa2.fields[key]; g != nil {
						s.exA2 = g.y
					}
				}
			}
		}
		if aa2 == nil {
			continue
		}
		if g := aa2.fields[key]; g != nil {
			switch {
			case f.differ && !g.differ:
				s.onlyAB++
				s.winAB.add(win)
			case g.differ && !f.differ:
				s.onlyAA2++
				s.winAA2.add(win)
			}
		} else if f.differ {
			s.onlyAB++
			s.winAB.add(win)
		}
	}
	if aa2 == nil {
		return
	}
	for key, g := range aa2.fields {
		s := fs.stat(key)
		if s == nil {
			continue
		}
		s.n2++
		if g.differ {
			s.d2++
			if _, inAB := ab.fields[key]; !inAB {
				s.onlyAA2++
				s.winAA2.add(win)
			}
		}
	}
}

// Examples of values are shortened and secrets in them redacted.
const maxExample = 60

// redactor hides the values of credential fields in examples, by the
// default rules of package redact.
type redactor struct {
	r     *redact.Redactor
	rules []redact.Rule
}

func newRedactor() *redactor {
	rules := redact.DefaultRules()
	r, err := redact.New(rules)
	if err != nil {
		// the default rules are valid: a failure here is a bug
		panic("compare: default redaction rules: " + err.Error())
	}
	return &redactor{r: r, rules: rules}
}

// example shortens a value of field key for showing, redacting it when
// the key is a credential's (a header or JSON field that the redaction
// rules name) or the value looks like one (a bearer token, a JWT).
func (rd *redactor) example(key, v string) string {
	if v == absentValue || v == objectValue || v == arrayValue || v == "null" || v == "" {
		return v
	}
	if rd.secretKey(key) || credentialLike(v) {
		unq, err := strconv.Unquote(v)
		if err != nil {
			unq = v
		}
		if _, ok := redact.ParsePlaceholder(unq); !ok {
			scheme, secret := redact.Credential(unq)
			p := rd.r.Placeholder(secret)
			if scheme != "" {
				p = scheme + " " + p
			}
			return strconv.Quote(p)
		}
	}
	return shorten(v, maxExample)
}

// secretKey reports whether a field key names a credential.
func (rd *redactor) secretKey(key string) bool {
	if h, ok := strings.CutPrefix(key, headerField); ok {
		for _, r := range rd.rules {
			if r.Target == redact.TargetHeader && glob(r.Pattern, strings.ToLower(h)) {
				return true
			}
		}
		return false
	}
	var segs []string
	for _, s := range strings.Split(key, ".") {
		s = strings.TrimSuffix(s, "[]")
		s = strings.TrimSuffix(strings.TrimPrefix(s, "len("), ")")
		segs = append(segs, strings.ToLower(s))
	}
	for _, r := range rd.rules {
		if r.Target != redact.TargetJSON {
			continue
		}
		pat := strings.Split(r.Pattern, ".")
		if len(pat) > len(segs) {
			continue
		}
		off := len(segs) - len(pat)
		match := true
		for i, p := range pat {
			if !glob(p, segs[off+i]) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// credentialLike reports whether a quoted value looks like a credential:
// an authorization value with a scheme, or a JSON Web Token.
func credentialLike(v string) bool {
	unq, err := strconv.Unquote(v)
	if err != nil {
		return false
	}
	low := strings.ToLower(unq)
	if strings.HasPrefix(low, "bearer ") || strings.HasPrefix(low, "basic ") {
		return true
	}
	return strings.HasPrefix(unq, "eyJ") && strings.Count(unq, ".") == 2 && len(unq) > 20
}

// glob matches s against a lowercase pattern whose '*' matches any run
// of characters.
func glob(pat, s string) bool {
	if !strings.Contains(pat, "*") {
		return pat == s
	}
	parts := strings.Split(pat, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// IgnoreRule names fields whose differences are known noise
// (--ignore-field): a pattern of field keys, '*' matching any run of
// characters, optionally for one endpoint only.
type IgnoreRule struct {
	Expr     string `json:"expr"`
	Endpoint string `json:"endpoint,omitempty"`
	Pattern  string `json:"pattern"`
}

// ParseIgnore reads --ignore-field rules: "[ENDPOINT: ]FIELD", FIELD a
// field key as the report names it ("session.updatedAt",
// "items[].cursor", "header Cache-Control") in which * matches any run
// of characters; a pattern without a dot matches the last key of a path
// too ("updatedAt" is "*.updatedAt" as well).
func ParseIgnore(exprs []string) ([]IgnoreRule, error) {
	var out []IgnoreRule
	for _, e := range exprs {
		r := IgnoreRule{Expr: e}
		pat := strings.TrimSpace(e)
		if ep, rest, ok := strings.Cut(pat, ": "); ok && endpointLike(ep) {
			r.Endpoint, pat = strings.TrimSpace(ep), strings.TrimSpace(rest)
		}
		if pat == "" {
			return nil, errIgnore(e)
		}
		r.Pattern = strings.ToLower(pat)
		out = append(out, r)
	}
	return out, nil
}

// endpointLike reports whether s reads as an endpoint: a method (or WS)
// and a path.
func endpointLike(s string) bool {
	m, p, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || m == "" || !strings.HasPrefix(p, "/") {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

type ignoreError string

func (e ignoreError) Error() string {
	return "ignore-field " + strconv.Quote(string(e)) + ": want [ENDPOINT: ]FIELD, such as 'updatedAt' or 'GET /v1/feed: items[].cursor'"
}

func errIgnore(e string) error { return ignoreError(e) }

// ignored returns the rule that makes a field of an endpoint noise.
func ignored(rules []IgnoreRule, endpoint, key string) (IgnoreRule, bool) {
	low := strings.ToLower(key)
	last := low
	if i := strings.LastIndexByte(low, '.'); i >= 0 {
		last = low[i+1:]
	}
	for _, r := range rules {
		if r.Endpoint != "" && !strings.EqualFold(r.Endpoint, endpoint) {
			continue
		}
		if glob(r.Pattern, low) || !strings.Contains(r.Pattern, ".") && glob(r.Pattern, strings.TrimSuffix(last, "[]")) {
			return r, true
		}
	}
	return IgnoreRule{}, false
}

// sortedKeys lists a field set's keys in order.
func (fs *fieldSet) sortedKeys() []string {
	keys := make([]string, 0, len(fs.stats))
	for k := range fs.stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
