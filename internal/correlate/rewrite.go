package correlate

import (
	"bytes"
	"net/url"
	"sort"
	"strings"

	"github.com/reprise/reprise/internal/traffic"
)

// Rewrite is how one event's request (or client WebSocket message)
// differs in one lane from the recording, before live values: see
// Identities.Rewrite.
type Rewrite struct {
	// Pool pairs recorded credentials with the pool tokens sent instead,
	// in Authorization headers and token query parameters.
	Pool []string
	// Vary pairs recorded values with their variants, longest first.
	Vary []string
}

// IsZero reports whether rw changes nothing.
func (rw Rewrite) IsZero() bool { return len(rw.Pool) == 0 && len(rw.Vary) == 0 }

// pairs merges live pairs (recorded, live value: what a Plan found in
// the live responses, and stand-ins) with the variants: a live value wins
// over the variant of the same recorded value. The result is longest
// first.
func (rw Rewrite) pairs(live []string) []string {
	if len(live) == 0 {
		return rw.Vary
	}
	if len(rw.Vary) == 0 {
		return sortPairs(live)
	}
	out := append([]string(nil), live...)
	for i := 0; i+1 < len(rw.Vary); i += 2 {
		dup := false
		for j := 0; j+1 < len(live); j += 2 {
			if live[j] == rw.Vary[i] {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, rw.Vary[i], rw.Vary[i+1])
		}
	}
	return sortPairs(out)
}

// sortPairs orders pairs by their recorded value, longest first, so a
// value containing another is replaced whole.
func sortPairs(p []string) []string {
	n := len(p) / 2
	if n < 2 {
		return p
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(p[2*idx[a]]) > len(p[2*idx[b]]) })
	out := make([]string, 0, len(p))
	for _, i := range idx {
		out = append(out, p[2*i], p[2*i+1])
	}
	return out
}

// Request returns q as this event sends it: pool tokens in its
// credentials, then live values and variants everywhere (URL, headers,
// body). q is not changed.
func (rw Rewrite) Request(q traffic.Request, live []string) traffic.Request {
	if len(rw.Pool) > 0 {
		q = rw.pool(q)
	}
	pairs := rw.pairs(live)
	if len(pairs) == 0 {
		return q
	}
	if hits(q.URL, pairs) != nil || strings.Contains(q.URL, "%") {
		q.URL = replaceURL(q.URL, pairs)
	}
	var h traffic.Fields
	for i, f := range q.Header {
		nv := substitute(f.Value, pairs)
		if nv == f.Value {
			continue
		}
		if h == nil {
			h = q.Header.Clone()
		}
		h[i].Value = nv
	}
	if h != nil {
		q.Header = h
	}
	q.Body.Data, q.Body.Size = replaceBody(q.Body.Data, q.Body.Size, pairs)
	return q
}

// Text returns a client's WebSocket text message as this event sends it.
func (rw Rewrite) Text(payload []byte, live []string) []byte {
	pairs := rw.pairs(live)
	if len(pairs) == 0 {
		return payload
	}
	b, _ := replaceBody(payload, int64(len(payload)), pairs)
	return b
}

// pool sends q's recorded credentials as their pool tokens.
func (rw Rewrite) pool(q traffic.Request) traffic.Request {
	tok := func(cred string) (string, bool) {
		for i := 0; i+1 < len(rw.Pool); i += 2 {
			if rw.Pool[i] == cred {
				return rw.Pool[i+1], true
			}
		}
		return "", false
	}
	var h traffic.Fields
	for i, f := range q.Header {
		if !strings.EqualFold(f.Name, "authorization") {
			continue
		}
		cred, ok := traffic.Bearer(f.Value)
		if !ok {
			continue
		}
		t, ok := tok(cred)
		if !ok {
			continue
		}
		if h == nil {
			h = q.Header.Clone()
		}
		scheme, _, _ := strings.Cut(strings.TrimSpace(f.Value), " ")
		h[i].Value = scheme + " " + t
	}
	if h != nil {
		q.Header = h
	}
	if u, err := url.Parse(q.URL); err == nil && u.RawQuery != "" {
		qs := u.Query()
		changed := false
		for _, name := range traffic.TokenParams {
			if t, ok := tok(qs.Get(name)); ok {
				qs.Set(name, t)
				changed = true
			}
		}
		if changed {
			u.RawQuery = qs.Encode()
			q.URL = u.RequestURI()
		}
	}
	return q
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
		} else if esc := url.QueryEscape(pairs[i]); esc != pairs[i] && bytes.Contains(b, []byte(esc)) {
			// a form's value, URL-encoded (a token with + / =)
			h = append(h, esc, url.QueryEscape(pairs[i+1]))
		}
	}
	if h == nil {
		return b, size
	}
	s := replaceHits(string(b), h)
	return []byte(s), size + int64(len(s)-len(b))
}
