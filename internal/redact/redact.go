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
}

type options struct {
	salt       []byte
	maxDecoded int64
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

// New returns a Redactor applying rules. With no rules it changes nothing.
func New(rules []Rule, opts ...Option) (*Redactor, error) {
	o := options{maxDecoded: DefaultMaxDecoded}
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

// Header redacts header fields in place of a copy. It reports whether
// anything changed; f itself is never modified.
func (r *Redactor) Header(f traffic.Fields) (traffic.Fields, bool) {
	if len(r.headerRules) == 0 && len(r.queryRules) == 0 {
		return f, false
	}
	var out traffic.Fields
	for i, h := range f {
		v, changed := r.field(h.Name, h.Value)
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

func (r *Redactor) field(name, value string) (string, bool) {
	for i := range r.headerRules {
		if !r.headerRules[i].matchName(name) {
			continue
		}
		switch {
		case strings.EqualFold(name, "cookie"):
			return r.cookie(value), true
		case strings.EqualFold(name, "set-cookie"):
			return r.setCookie(value), true
		}
		if value == "" {
			return value, false
		}
		scheme, secret := Credential(value)
		if scheme != "" {
			return scheme + " " + r.placeholder([]byte(secret)), true
		}
		return r.placeholder([]byte(secret)), true
	}
	if len(r.queryRules) > 0 {
		switch strings.ToLower(name) {
		case "referer", "location", "content-location", "origin":
			return r.URL(value)
		}
	}
	return value, false
}

// cookie redacts every value of a Cookie header, keeping the names.
func (r *Redactor) cookie(v string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		parts[i] = name + "=" + r.placeholder([]byte(strings.TrimSpace(val)))
	}
	return strings.Join(parts, ";")
}

// setCookie redacts the value of a Set-Cookie header, keeping its name and
// attributes.
func (r *Redactor) setCookie(v string) string {
	first, attrs, hasAttrs := strings.Cut(v, ";")
	name, val, ok := strings.Cut(first, "=")
	if !ok {
		return r.placeholder([]byte(strings.TrimSpace(first)))
	}
	out := name + "=" + r.placeholder([]byte(strings.TrimSpace(val)))
	if hasAttrs {
		out += ";" + attrs
	}
	return out
}

// URL redacts matching query parameters of a URL or request target,
// keeping everything else byte for byte. The placeholder is
// percent-encoded, so it decodes to "<redacted:HASH>".
func (r *Redactor) URL(u string) (string, bool) {
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
	red, changed := r.Query(rest)
	if !changed {
		return u, false
	}
	return u[:q+1] + red + frag, true
}

// Query redacts matching parameters of a raw query string (or an
// application/x-www-form-urlencoded body).
func (r *Redactor) Query(raw string) (string, bool) {
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
			b.WriteString(url.QueryEscape(r.placeholder([]byte(val))))
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
		red, changed := r.text(m.Payload)
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
func (r *Redactor) text(p []byte) ([]byte, bool) {
	if len(r.jsonRules) == 0 {
		return p, false
	}
	if looksJSON(p) {
		return r.JSON(p)
	}
	if bytes.IndexByte(p, '"') >= 0 {
		return r.lenient(p, 0)
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

func (r *Redactor) exchange(x traffic.Exchange) (traffic.Exchange, bool) {
	changed := false
	if u, ok := r.URL(x.Request.URL); ok {
		x.Request.URL = u
		changed = true
	}
	if h, ok := r.Header(x.Request.Header); ok {
		x.Request.Header = h
		changed = true
	}
	if b, h, note, ok := r.body(x.Request.Header, x.Request.Body); ok {
		x.Request.Body, x.Request.Header = b, h
		x.Notes = addNote(x.Notes, "redact-request", note)
		changed = true
	}
	if x.Response != nil {
		resp := *x.Response
		respChanged := false
		if h, ok := r.Header(resp.Header); ok {
			resp.Header = h
			respChanged = true
		}
		if b, h, note, ok := r.body(resp.Header, resp.Body); ok {
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

// body redacts a message body according to its headers. It returns the
// new body, the headers (Content-Length updated when the body's length
// changed), a note when data had to be dropped, and whether anything
// changed.
func (r *Redactor) body(h traffic.Fields, b traffic.Body) (traffic.Body, traffic.Fields, string, bool) {
	if len(b.Data) == 0 || (len(r.jsonRules) == 0 && len(r.queryRules) == 0) {
		return b, h, "", false
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	if !textual(ct) {
		// Binary content holds no text to redact: not even decoded.
		return b, h, "", false
	}
	ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	var (
		data    []byte
		changed bool
		note    string
	)
	if ce == "" || ce == "identity" {
		data, changed = r.content(ct, b.Data)
	} else {
		plain, complete, err := decode(ce, b.Data, r.maxDecoded)
		switch {
		case err != nil:
			b.Data = nil
			b.Truncated = true
			return b, h, fmt.Sprintf("body dropped: cannot decode content-encoding %q to search it: %v", ce, err), true
		case !complete || b.Truncated:
			// The compressed bytes of a cut body may hold more than a
			// decoder yields from them, so they are never kept: the
			// readable start is redacted and encoded afresh.
			red, _ := r.content(ct, plain)
			enc, err := encode(ce, red)
			if err != nil {
				enc = nil
			}
			b.Data = enc
			b.Truncated = true
			return b, h, fmt.Sprintf("%s body was cut: its first %d decoded bytes were redacted and re-encoded", ce, len(red)), true
		default:
			red, ch := r.content(ct, plain)
			if !ch {
				return b, h, "", false
			}
			enc, err := encode(ce, red)
			if err != nil {
				b.Data = nil
				b.Truncated = true
				return b, h, fmt.Sprintf("body dropped: re-encode %s: %v", ce, err), true
			}
			data, changed = enc, true
			note = "body decoded, redacted and re-encoded with " + ce
		}
	}
	if !changed {
		return b, h, "", false
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
func (r *Redactor) content(ct string, data []byte) ([]byte, bool) {
	switch {
	case strings.Contains(ct, "json"):
		return r.JSON(data)
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		s, changed := r.Query(string(data))
		return []byte(s), changed
	case strings.HasPrefix(ct, "multipart/"):
		return r.lenient(data, 0)
	case textual(ct):
		return r.text(data)
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
