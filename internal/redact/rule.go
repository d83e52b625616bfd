package redact

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Target says which part of a record a Rule applies to.
type Target uint8

// Rule targets.
const (
	// TargetHeader matches header names; the value is replaced (Cookie and
	// Set-Cookie keep cookie names and attributes, authorization-style
	// values keep their scheme).
	TargetHeader Target = iota + 1
	// TargetQuery matches query parameter names in request URLs (also the
	// WebSocket upgrade URL, Location and Referer headers, and
	// application/x-www-form-urlencoded bodies).
	TargetQuery
	// TargetJSON matches JSON object keys by path in bodies and WebSocket
	// text messages.
	TargetJSON
)

func (t Target) String() string {
	switch t {
	case TargetHeader:
		return "header"
	case TargetQuery:
		return "query"
	case TargetJSON:
		return "json"
	}
	return fmt.Sprintf("target(%d)", t)
}

// Rule is one redaction rule. Its text form is TARGET:PATTERN, for example
// "header:authorization", "query:sig", "json:card.number" or
// "json:*secret*". Patterns match case-insensitively; '*' matches any run
// of characters. A JSON pattern is a dot-separated list of key patterns
// that must match the last keys of a value's path (arrays are transparent),
// so "json:token" matches a "token" key at any depth and "json:card.number"
// matches "number" directly inside an object held by a "card" key.
type Rule struct {
	Target Target
	// Pattern is the rule's pattern, lowercased.
	Pattern string
	// segs is Pattern split on '.' for JSON rules, else one segment.
	segs []string
}

// maxRuleLen bounds a rule's text; real rules are short.
const maxRuleLen = 256

// ParseRule parses a rule written as TARGET:PATTERN.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxRuleLen {
		return Rule{}, fmt.Errorf("redaction rule longer than %d bytes", maxRuleLen)
	}
	if !utf8.ValidString(s) {
		return Rule{}, fmt.Errorf("redaction rule %q is not valid UTF-8", s)
	}
	kind, pat, ok := strings.Cut(s, ":")
	if !ok {
		return Rule{}, fmt.Errorf("redaction rule %q: want TARGET:PATTERN, for example header:x-api-key, query:sig or json:card.number", s)
	}
	var r Rule
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "header":
		r.Target = TargetHeader
	case "query":
		r.Target = TargetQuery
	case "json":
		r.Target = TargetJSON
	default:
		return Rule{}, fmt.Errorf("redaction rule %q: unknown target %q (want header, query or json)", s, kind)
	}
	pat = strings.ToLower(strings.TrimSpace(pat))
	if pat == "" {
		return Rule{}, fmt.Errorf("redaction rule %q: empty pattern", s)
	}
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		if c < 0x21 || c == 0x7f {
			return Rule{}, fmt.Errorf("redaction rule %q: pattern has a space or control character", s)
		}
		if r.Target == TargetHeader && !isTokenChar(c) && c != '*' {
			return Rule{}, fmt.Errorf("redaction rule %q: %q is not allowed in a header name", s, c)
		}
	}
	if r.Target == TargetJSON {
		r.segs = strings.Split(pat, ".")
		for _, seg := range r.segs {
			if seg == "" {
				return Rule{}, fmt.Errorf("redaction rule %q: empty key in JSON path", s)
			}
		}
	} else {
		r.segs = []string{pat}
	}
	r.Pattern = pat
	return r, nil
}

// MustParseRule is ParseRule for rules known to be valid; it panics on a
// bad rule, so use it only with constants.
func MustParseRule(s string) Rule {
	r, err := ParseRule(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the rule's canonical text form; ParseRule(r.String())
// returns r.
func (r Rule) String() string { return r.Target.String() + ":" + r.Pattern }

// Equal reports whether two rules are the same rule.
func (r Rule) Equal(o Rule) bool { return r.Target == o.Target && r.Pattern == o.Pattern }

// matchName reports whether a header or query name matches the rule.
func (r Rule) matchName(name string) bool { return globFold(r.Pattern, name) }

// matchPath reports whether the last keys of path match the rule's JSON
// segments.
func (r Rule) matchPath(path [][]byte) bool {
	if len(path) < len(r.segs) {
		return false
	}
	off := len(path) - len(r.segs)
	for i, seg := range r.segs {
		if !globFold(seg, path[off+i]) {
			return false
		}
	}
	return true
}

// DefaultRuleText lists the rules applied unless redaction is turned off.
// publicKey and challenge are left alone: the first is public by design and
// the second is a nonce that is useless without its signature, while a
// signature proves possession of a private key and is redacted.
var defaultRuleText = []string{
	"header:authorization",
	"header:proxy-authorization",
	"header:cookie",
	"header:set-cookie",
	"query:token",
	"query:ticket",
	"query:access_token",
	"query:api_key",
	"query:key",
	"query:secret",
	"query:password",
	"query:signature",
	"json:token",
	"json:ticket",
	"json:secret",
	"json:password",
	"json:dataEncryptionKey",
	"json:accessToken",
	"json:refreshToken",
	"json:apiKey",
	"json:signature",
	"json:privateKey",
	"json:access_token",
	"json:refresh_token",
	"json:client_secret",
}

// DefaultRules returns the rules applied unless redaction is turned off.
func DefaultRules() []Rule {
	out := make([]Rule, len(defaultRuleText))
	for i, s := range defaultRuleText {
		out[i] = MustParseRule(s)
	}
	return out
}

// Compose builds a rule list from base (normally DefaultRules) and rule
// texts given by a user: "RULE" adds a rule, "!RULE" removes an equal rule
// from the list so far. Duplicates are dropped.
func Compose(base []Rule, specs []string) ([]Rule, error) {
	out := append([]Rule(nil), base...)
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		remove := strings.HasPrefix(spec, "!")
		r, err := ParseRule(strings.TrimPrefix(spec, "!"))
		if err != nil {
			return nil, err
		}
		idx := -1
		for i, o := range out {
			if o.Equal(r) {
				idx = i
				break
			}
		}
		switch {
		case remove && idx < 0:
			return nil, fmt.Errorf("redaction rule %q: nothing to remove, %s is not in the list", spec, r)
		case remove:
			out = append(out[:idx], out[idx+1:]...)
		case idx < 0:
			out = append(out, r)
		}
	}
	return out, nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// globFold matches name against a lowercase pattern in which '*' matches
// any run of bytes, folding ASCII case in name. It does not allocate.
func globFold[S ~string | ~[]byte](pat string, name S) bool {
	// Iterative matcher with single-star backtracking.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		if p < len(pat) && pat[p] == '*' {
			star, mark = p, n
			p++
			continue
		}
		if p < len(pat) && pat[p] == lowerASCII(name[n]) {
			p++
			n++
			continue
		}
		if star >= 0 {
			p = star + 1
			mark++
			n = mark
			continue
		}
		return false
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
