package redact

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/reprise/reprise/internal/traffic"
)

// PlaceholderPrefix starts every placeholder; a placeholder is
// "<redacted:" + 8 lowercase hex digits + ">".
const PlaceholderPrefix = "<redacted:"

// placeholderLen is the length of a whole placeholder.
const placeholderLen = len(PlaceholderPrefix) + 8 + 1

// DefaultMaxDecoded bounds the decoded size of a compressed body the
// redactor opens.
const DefaultMaxDecoded = 64 << 20

// Redactor removes secrets from records. It is safe for concurrent use.
// Its salt lives only in memory: placeholders of one corpus cannot be
// matched against another's, nor brute-forced back to their secrets
// without it.
type Redactor struct {
	rules       []Rule
	headerRules []Rule
	queryRules  []Rule
	jsonRules   []Rule
	// jsonExact holds the patterns of one-key JSON rules without
	// wildcards (the common case), found by a map lookup; jsonPathRules
	// holds the others. exactMin and exactMax bound the exact patterns'
	// lengths (exactMax at most 64).
	jsonExact          map[string]bool
	jsonPathRules      []Rule
	exactMin, exactMax int
	maxDecoded         int64
	macs               sync.Pool
	// echo remembers the secrets found so far to replace their echoes;
	// nil when echo search is off. founds pools the *found of records.
	echo   *echoSet
	founds sync.Pool
}

type options struct {
	salt       []byte
	maxDecoded int64
	maxSecrets int
}

// Option configures a Redactor.
type Option func(*options) error

// WithSalt sets the key of the placeholder hash (at least 16 bytes). Use it
// to share one salt between the redactor and a flow-key hash, or to get
// reproducible placeholders in tests. Without it New draws 32 random bytes.
func WithSalt(salt []byte) Option {
	return func(o *options) error {
		if len(salt) < 16 {
			return fmt.Errorf("salt of %d bytes is too short (want at least 16)", len(salt))
		}
		o.salt = append([]byte(nil), salt...)
		return nil
	}
}

// WithMaxDecoded bounds the decoded size of a compressed body that the
// redactor decompresses to search; a larger body is dropped from the
// record (its Data emptied, Truncated set) when body rules are active.
func WithMaxDecoded(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("max decoded size %d must be positive", n)
		}
		o.maxDecoded = n
		return nil
	}
}

// WithMaxSecrets bounds how many secrets the redactor remembers to
// replace their echoes in later parts of a record and in later records
// (default DefaultMaxSecrets). Beyond the bound the secret found least
// recently is forgotten. 0 turns echo replacement off: secrets are then
// replaced only where a rule finds them.
func WithMaxSecrets(n int) Option {
	return func(o *options) error {
		if n < 0 || n > MaxSecrets {
			return fmt.Errorf("max secrets %d out of range [0, %d]", n, MaxSecrets)
		}
		o.maxSecrets = n
		return nil
	}
}

// New returns a Redactor applying rules. With no rules it changes nothing.
func New(rules []Rule, opts ...Option) (*Redactor, error) {
	o := options{maxDecoded: DefaultMaxDecoded, maxSecrets: DefaultMaxSecrets}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("redactor: %w", err)
		}
	}
	if o.salt == nil {
		o.salt = make([]byte, 32)
		if _, err := rand.Read(o.salt); err != nil {
			return nil, fmt.Errorf("redactor: salt: %w", err)
		}
	}
	r := &Redactor{maxDecoded: o.maxDecoded}
	if o.maxSecrets > 0 && len(rules) > 0 {
		r.echo = newEchoSet(o.maxSecrets)
	}
	salt := o.salt
	r.macs.New = func() any { return hmac.New(sha256.New, salt) }
	for _, rule := range rules {
		if rule.Target == 0 || len(rule.segs) == 0 {
			parsed, err := ParseRule(rule.String())
			if err != nil {
				return nil, fmt.Errorf("redactor: %w", err)
			}
			rule = parsed
		}
		r.rules = append(r.rules, rule)
		switch rule.Target {
		case TargetHeader:
			r.headerRules = append(r.headerRules, rule)
		case TargetQuery:
			r.queryRules = append(r.queryRules, rule)
		case TargetJSON:
			r.jsonRules = append(r.jsonRules, rule)
			if len(rule.segs) == 1 && !strings.Contains(rule.Pattern, "*") && len(rule.Pattern) <= 64 {
				if r.jsonExact == nil {
					r.jsonExact = map[string]bool{}
					r.exactMin = len(rule.Pattern)
				}
				r.jsonExact[rule.Pattern] = true
				r.exactMin = min(r.exactMin, len(rule.Pattern))
				r.exactMax = max(r.exactMax, len(rule.Pattern))
			} else {
				r.jsonPathRules = append(r.jsonPathRules, rule)
			}
		}
	}
	return r, nil
}

// Rules returns the rules' text forms, for traffic.Header.Redactions.
func (r *Redactor) Rules() []string {
	out := make([]string, len(r.rules))
	for i, rule := range r.rules {
		out[i] = rule.String()
	}
	return out
}

// Hash returns the 8 hex digits identifying secret: equal secrets give
// equal hashes within one Redactor (one salt).
func (r *Redactor) Hash(secret []byte) string {
	m := r.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(secret)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:4])
	r.macs.Put(m)
	return out
}

// Placeholder returns the text that replaces secret: "<redacted:HASH>".
func (r *Redactor) Placeholder(secret string) string { return r.placeholder([]byte(secret)) }

func (r *Redactor) placeholder(secret []byte) string {
	if len(secret) == placeholderLen {
		// Already redacted (a corpus redacted twice): keep it, so
		// redaction is idempotent.
		if _, ok := ParsePlaceholder(string(secret)); ok {
			return string(secret)
		}
	}
	return PlaceholderPrefix + r.Hash(secret) + ">"
}

// ParsePlaceholder reports whether s is exactly a placeholder and returns
// its hash.
func ParsePlaceholder(s string) (hash string, ok bool) {
	if len(s) != placeholderLen || !strings.HasPrefix(s, PlaceholderPrefix) || s[len(s)-1] != '>' {
		return "", false
	}
	h := s[len(PlaceholderPrefix) : len(s)-1]
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return h, true
}

// Credential returns the secret part of an authorization-style value and
// the scheme before it: "Bearer abc" gives ("Bearer", "abc"). A value with
// no scheme is all secret.
func Credential(value string) (scheme, secret string) {
	v := strings.TrimSpace(value)
	if i := strings.IndexByte(v, ' '); i > 0 && i <= 32 {
		s := v[:i]
		for j := 0; j < len(s); j++ {
			if !isTokenChar(s[j]) {
				return "", v
			}
		}
		return s, strings.TrimSpace(v[i+1:])
	}
	return "", v
}

// found collects the secrets a pass replaced; a nil *found collects
// nothing.
type found struct{ secrets [][]byte }

func (f *found) add(secret []byte) {
	if f != nil {
		f.secrets = append(f.secrets, secret)
	}
}

// hide returns secret's placeholder and notes secret in f.
func (r *Redactor) hide(f *found, secret []byte) string {
	f.add(secret)
	return r.placeholder(secret)
}

// Secrets reports how many secrets the redactor remembers to replace
// their echoes, and how many it has forgotten past its bound
// (WithMaxSecrets).
func (r *Redactor) Secrets() (known, forgotten int64) {
	if r.echo == nil {
		return 0, 0
	}
	return r.echo.n.Load(), r.echo.forgotten.Load()
}

// Header redacts header fields in place of a copy. It reports whether
// anything changed; f itself is never modified.
func (r *Redactor) Header(f traffic.Fields) (traffic.Fields, bool) { return r.header(f, nil) }

func (r *Redactor) header(f traffic.Fields, fd *found) (traffic.Fields, bool) {
	if len(r.headerRules) == 0 && len(r.queryRules) == 0 {
		return f, false
	}
	var out traffic.Fields
	for i, h := range f {
		v, changed := r.field(h.Name, h.Value, fd)
		if !changed {
			continue
		}
		if out == nil {
			out = f.Clone()
		}
		out[i].Value = v
	}
	if out == nil {
		return f, false
	}
	return out, true
}

func (r *Redactor) field(name, value string, fd *found) (string, bool) {
	for i := range r.headerRules {
		if !r.headerRules[i].matchName(name) {
			continue
		}
		switch {
		case strings.EqualFold(name, "cookie"):
			return r.cookie(value, fd), true
		case strings.EqualFold(name, "set-cookie"):
			return r.setCookie(value, fd), true
		}
		if value == "" {
			return value, false
		}
		scheme, secret := Credential(value)
		if scheme != "" {
			return scheme + " " + r.hide(fd, []byte(secret)), true
		}
		return r.hide(fd, []byte(secret)), true
	}
	if len(r.queryRules) > 0 && urlHeader(name) {
		return r.url(value, fd)
	}
	return value, false
}

// urlHeader reports whether a header's value is a URL.
func urlHeader(name string) bool {
	switch strings.ToLower(name) {
	case "referer", "location", "content-location", "origin":
		return true
	}
	return false
}

// cookie redacts every value of a Cookie header, keeping the names.
func (r *Redactor) cookie(v string, fd *found) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		parts[i] = name + "=" + r.hide(fd, []byte(strings.TrimSpace(val)))
	}
	return strings.Join(parts, ";")
}

// setCookie redacts the value of a Set-Cookie header, keeping its name and
// attributes.
func (r *Redactor) setCookie(v string, fd *found) string {
	first, attrs, hasAttrs := strings.Cut(v, ";")
	name, val, ok := strings.Cut(first, "=")
	if !ok {
		return r.hide(fd, []byte(strings.TrimSpace(first)))
	}
	out := name + "=" + r.hide(fd, []byte(strings.TrimSpace(val)))
	if hasAttrs {
		out += ";" + attrs
	}
	return out
}

// URL redacts matching query parameters of a URL or request target,
// keeping everything else byte for byte. The placeholder is
// percent-encoded, so it decodes to "<redacted:HASH>".
func (r *Redactor) URL(u string) (string, bool) { return r.url(u, nil) }

func (r *Redactor) url(u string, fd *found) (string, bool) {
	if len(r.queryRules) == 0 {
		return u, false
	}
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return u, false
	}
	rest := u[q+1:]
	frag := ""
	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest, frag = rest[:h], rest[h:]
	}
	red, changed := r.query(rest, fd)
	if !changed {
		return u, false
	}
	return u[:q+1] + red + frag, true
}

// Query redacts matching parameters of a raw query string (or an
// application/x-www-form-urlencoded body).
func (r *Redactor) Query(raw string) (string, bool) { return r.query(raw, nil) }

func (r *Redactor) query(raw string, fd *found) (string, bool) {
	if len(r.queryRules) == 0 || raw == "" {
		return raw, false
	}
	var b strings.Builder
	changed := false
	for i, pair := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasV := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasV && r.matchQuery(name) {
			val, err := url.QueryUnescape(v)
			if err != nil {
				val = v
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(r.hide(fd, []byte(val))))
			changed = true
			continue
		}
		b.WriteString(pair)
	}
	if !changed {
		return raw, false
	}
	return b.String(), true
}

func (r *Redactor) matchQuery(name string) bool {
	for i := range r.queryRules {
		if r.queryRules[i].matchName(name) {
			return true
		}
	}
	return false
}

// Record returns rec with its secrets replaced and reports whether
// anything changed. rec and what it points to are never modified: changed
// parts are copies. A header record gets the redactor's rules added to its
// Redactions.
//
// A value a rule replaces is also replaced wherever else it appears in
// the record (its URL, any header, the decoded bodies) and in the records
// that follow (exchanges, WebSocket upgrades and text messages), in any
// of its URL, JSON and HTML encodings, by the same placeholder. Records
// should therefore reach one Redactor in corpus order, as a Sink passes
// them; concurrent calls take turns for the search of echoes.
func (r *Redactor) Record(rec traffic.Record) (traffic.Record, bool) {
	switch rec.Kind {
	case traffic.KindHeader:
		if rec.Header == nil {
			return rec, false
		}
		h := *rec.Header
		before := len(h.Redactions)
		h.Redactions = mergeRules(h.Redactions, r.Rules())
		rec.Header = &h
		return rec, len(h.Redactions) != before
	case traffic.KindExchange:
		if rec.Exchange == nil {
			return rec, false
		}
		x, changed := r.exchange(*rec.Exchange)
		if changed {
			rec.Exchange = &x
		}
		return rec, changed
	case traffic.KindWSOpen:
		if rec.WSOpen == nil {
			return rec, false
		}
		o := *rec.WSOpen
		x, changed := r.exchange(o.Upgrade)
		if changed {
			o.Upgrade = x
			rec.WSOpen = &o
		}
		return rec, changed
	case traffic.KindWSMessage:
		if rec.WSMessage == nil || rec.WSMessage.Opcode != traffic.OpText || len(rec.WSMessage.Payload) == 0 {
			return rec, false
		}
		m := *rec.WSMessage
		fd := r.newFound()
		defer r.putFound(fd)
		red, changed := r.text(m.Payload, fd)
		if sc, ok := r.scrubberFor(fd); ok {
			out, ch := sc.bytes(red, textMode("", red), m.Truncated)
			sc.done()
			if ch {
				red, changed = out, true
			}
		}
		if !changed {
			return rec, false
		}
		m.Payload = red
		if !m.Truncated {
			m.Size = int64(len(red))
		}
		rec.WSMessage = &m
		return rec, true
	}
	return rec, false
}

// scrubberFor remembers the secrets a record's rules found and returns
// a scrubber for the record's echoes; ok is false when no secret is
// known. The caller calls done on the scrubber.
func (r *Redactor) scrubberFor(fd *found) (sc scrubber, ok bool) {
	if r.echo == nil {
		return sc, false
	}
	return r.echo.begin(fd.secrets, r.placeholder)
}

// newFound returns an empty found from the pool.
func (r *Redactor) newFound() *found {
	if f, ok := r.founds.Get().(*found); ok {
		return f
	}
	return &found{secrets: make([][]byte, 0, 32)}
}

// putFound empties f (it must not keep records' bytes alive) and pools
// it.
func (r *Redactor) putFound(f *found) {
	clear(f.secrets)
	f.secrets = f.secrets[:0]
	r.founds.Put(f)
}

func mergeRules(have, add []string) []string {
	out := append([]string(nil), have...)
	for _, a := range add {
		found := false
		for _, h := range have {
			if h == a {
				found = true
				break
			}
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// text redacts a text payload: JSON when it looks like JSON, else the
// lenient "key": value scan when it holds a quote.
func (r *Redactor) text(p []byte, fd *found) ([]byte, bool) {
	if len(r.jsonRules) == 0 {
		return p, false
	}
	if looksJSON(p) {
		return r.json(p, 0, fd)
	}
	if bytes.IndexByte(p, '"') >= 0 {
		return r.lenient(p, 0, fd)
	}
	return p, false
}

func looksJSON(p []byte) bool {
	for _, c := range p {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// exchange redacts an exchange in two passes: the rules first, over
// every part, collecting the secrets they replace; then the echoes of
// every secret known so far, over every part again (bodies stay decoded
// between the passes).
func (r *Redactor) exchange(x traffic.Exchange) (traffic.Exchange, bool) {
	fd := r.newFound()
	defer r.putFound(fd)
	changed, respChanged := false, false
	if u, ok := r.url(x.Request.URL, fd); ok {
		x.Request.URL = u
		changed = true
	}
	if h, ok := r.header(x.Request.Header, fd); ok {
		x.Request.Header = h
		changed = true
	}
	var resp traffic.Response
	if x.Response != nil {
		resp = *x.Response
		if h, ok := r.header(resp.Header, fd); ok {
			resp.Header = h
			respChanged = true
		}
	}
	reqBody := r.openBody(x.Request.Header, x.Request.Body, fd)
	var respBody openedBody
	if x.Response != nil {
		respBody = r.openBody(resp.Header, resp.Body, fd)
	}
	if sc, ok := r.scrubberFor(fd); ok {
		if u, ok := sc.str(x.Request.URL, modeURL); ok {
			x.Request.URL = u
			changed = true
		}
		if h, ok := sc.fields(x.Request.Header); ok {
			x.Request.Header = h
			changed = true
		}
		reqBody.scrub(&sc)
		if x.Response != nil {
			if h, ok := sc.fields(resp.Header); ok {
				resp.Header = h
				respChanged = true
			}
			respBody.scrub(&sc)
		}
		sc.done()
	}
	if b, h, note, ok := r.closeBody(reqBody, x.Request.Header); ok {
		x.Request.Body, x.Request.Header = b, h
		x.Notes = addNote(x.Notes, "redact-request", note)
		changed = true
	}
	if x.Response != nil {
		if b, h, note, ok := r.closeBody(respBody, resp.Header); ok {
			resp.Body, resp.Header = b, h
			x.Notes = addNote(x.Notes, "redact-response", note)
			respChanged = true
		}
		if respChanged {
			x.Response = &resp
			changed = true
		}
	}
	if changed {
		x.Flags |= traffic.FlagRedacted
	}
	return x, changed
}

// fields scrubs header values: URL-valued headers as URLs, the others as
// text.
func (sc *scrubber) fields(f traffic.Fields) (traffic.Fields, bool) {
	var out traffic.Fields
	for i, h := range f {
		mode := modeText
		if urlHeader(h.Name) || strings.EqualFold(h.Name, "link") {
			mode = modeURL
		}
		v, changed := sc.str(h.Value, mode)
		if !changed {
			continue
		}
		if out == nil {
			out = f.Clone()
		}
		out[i].Value = v
	}
	return out, out != nil
}

func addNote(notes map[string]string, key, note string) map[string]string {
	if note == "" {
		return notes
	}
	out := make(map[string]string, len(notes)+1)
	for k, v := range notes {
		out[k] = v
	}
	out[key] = note
	return out
}

// openedBody is a message body between the two passes of exchange: its
// content decoded once, redacted by the rules, then searched for echoes,
// then encoded again by closeBody.
type openedBody struct {
	b       traffic.Body
	open    bool   // text holds the decoded body
	ct, ce  string // content type; content coding ("" for identity)
	text    []byte // the decoded body, redacted so far
	changed bool   // text differs from the decoded body
	cut     bool   // a compressed body cut short: encoded afresh whatever happens
	drop    string // when set, the body is dropped with this note
}

// openBody decodes a body by its headers and applies the rules to it,
// adding the secrets they replace to fd. A body is opened when it may
// hold text and there is something to search it for.
func (r *Redactor) openBody(h traffic.Fields, b traffic.Body, fd *found) openedBody {
	ob := openedBody{b: b}
	if len(b.Data) == 0 || len(r.rules) == 0 {
		return ob
	}
	if len(r.jsonRules) == 0 && len(r.queryRules) == 0 && (r.echo == nil || (r.echo.n.Load() == 0 && len(fd.secrets) == 0)) {
		// No body rules and no secret whose echo to look for.
		return ob
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	if !textual(ct) {
		// Binary content holds no text to redact: not even decoded.
		return ob
	}
	ob.ct = ct
	ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if ce == "" || ce == "identity" {
		ob.open = true
		ob.text, ob.changed = r.content(ct, b.Data, fd)
		return ob
	}
	ob.ce = ce
	plain, complete, err := decode(ce, b.Data, r.maxDecoded)
	if err != nil {
		ob.drop = fmt.Sprintf("body dropped: cannot decode content-encoding %q to search it: %v", ce, err)
		return ob
	}
	// The compressed bytes of a cut body may hold more than a decoder
	// yields from them, so they are never kept: the readable start is
	// redacted and encoded afresh.
	ob.cut = !complete || b.Truncated
	ob.open = true
	ob.text, ob.changed = r.content(ct, plain, fd)
	return ob
}

// scrub replaces the echoes of known secrets in an opened body.
func (ob *openedBody) scrub(sc *scrubber) {
	if !ob.open {
		return
	}
	if out, ch := sc.bytes(ob.text, textMode(ob.ct, ob.text), ob.cut || ob.b.Truncated); ch {
		ob.text, ob.changed = out, true
	}
}

// closeBody encodes an opened body again. It returns the new body, the
// headers (Content-Length updated when the body's length changed), a
// note when data had to be dropped or re-encoded, and whether anything
// changed.
func (r *Redactor) closeBody(ob openedBody, h traffic.Fields) (traffic.Body, traffic.Fields, string, bool) {
	b := ob.b
	switch {
	case ob.drop != "":
		b.Data = nil
		b.Truncated = true
		return b, h, ob.drop, true
	case !ob.open:
		return b, h, "", false
	case ob.cut:
		enc, err := encode(ob.ce, ob.text)
		if err != nil {
			enc = nil
		}
		b.Data = enc
		b.Truncated = true
		return b, h, fmt.Sprintf("%s body was cut: its first %d decoded bytes were redacted and re-encoded", ob.ce, len(ob.text)), true
	case !ob.changed:
		return b, h, "", false
	}
	data, note := ob.text, ""
	if ob.ce != "" {
		enc, err := encode(ob.ce, ob.text)
		if err != nil {
			b.Data = nil
			b.Truncated = true
			return b, h, fmt.Sprintf("body dropped: re-encode %s: %v", ob.ce, err), true
		}
		data, note = enc, "body decoded, redacted and re-encoded with "+ob.ce
	}
	b.Data = data
	if !b.Truncated {
		b.Size = int64(len(data))
		if h.Has("Content-Length") {
			h = h.Clone()
			for i := range h {
				if strings.EqualFold(h[i].Name, "Content-Length") {
					h[i].Value = strconv.Itoa(len(data))
				}
			}
		}
	}
	return b, h, note, true
}

// content redacts decoded body bytes by content type.
func (r *Redactor) content(ct string, data []byte, fd *found) ([]byte, bool) {
	switch {
	case strings.Contains(ct, "json"):
		return r.json(data, 0, fd)
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		s, changed := r.query(string(data), fd)
		return []byte(s), changed
	case strings.HasPrefix(ct, "multipart/"):
		return r.lenient(data, 0, fd)
	case textual(ct):
		return r.text(data, fd)
	}
	return data, false
}

// textual reports whether a content type may carry text (an absent type
// counts: it is usually JSON sent carelessly).
func textual(ct string) bool {
	if ct == "" || strings.HasPrefix(ct, "text/") {
		return true
	}
	for _, s := range []string{"json", "xml", "javascript", "x-www-form-urlencoded", "multipart/", "graphql", "yaml"} {
		if strings.Contains(ct, s) {
			return true
		}
	}
	return false
}
