// Package jsonshape reduces a JSON document to its shape: the structure of
// keys and value types with the values themselves left out, so that two
// responses differing only in ids, timestamps or counts have the same
// shape and a response that gained, lost or retyped a field does not.
//
// A shape is a compact string: objects as {key:shape,...} with keys
// sorted, arrays as [shape] (the union of the shapes of their first
// elements, "|"-separated when they differ, [] when empty), and the
// scalar types str, num, bool and null. Depth and width are capped (…
// marks the cut) so a shape stays small whatever the document.
package jsonshape

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

const (
	maxDepth    = 8
	maxKeys     = 64
	maxElements = 4
)

// Of returns the shape of a JSON document, and false when data does not
// start with a JSON value (what follows the first value is ignored). It
// reads the bytes in one pass without decoding the values.
func Of(data []byte) (string, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "", false
	}
	return shapeOf(data)
}

// decodeOf is Of through encoding/json: the reference the scanner is
// tested against.
func decodeOf(data []byte) (string, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	var b strings.Builder
	write(&b, v, 0)
	return b.String(), true
}

func write(b *strings.Builder, v any, depth int) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString("bool")
	case json.Number:
		b.WriteString("num")
	case string:
		b.WriteString("str")
	case map[string]any:
		if depth >= maxDepth {
			b.WriteString("{…}")
			return
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i == maxKeys {
				b.WriteString(",…")
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteKey(k))
			b.WriteByte(':')
			write(b, t[k], depth+1)
		}
		b.WriteByte('}')
	case []any:
		if depth >= maxDepth {
			b.WriteString("[…]")
			return
		}
		seen := map[string]bool{}
		var parts []string
		for i, x := range t {
			if i == maxElements {
				break
			}
			var e strings.Builder
			write(&e, x, depth+1)
			if s := e.String(); !seen[s] {
				seen[s] = true
				parts = append(parts, s)
			}
		}
		sort.Strings(parts)
		b.WriteByte('[')
		b.WriteString(strings.Join(parts, "|"))
		b.WriteByte(']')
	}
}

// quoteKey writes a key bare when it is a plain identifier, else quoted.
func quoteKey(k string) string {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			q, _ := json.Marshal(k)
			return string(q)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// Paths flattens a shape into "path: type" lines ("session.id: str",
// "sessions[]: {…}" when cut), the form in which Diff reports changes.
func Paths(shape string) []string {
	var out []string
	p := parser{s: shape}
	p.value("", &out)
	sort.Strings(out)
	return out
}

// Diff lists what changed from shape a to shape b: "+path: type" for what
// b added, "-path: type" for what it lost (a retyped field shows as both).
func Diff(a, b string) []string {
	pa, pb := Paths(a), Paths(b)
	in := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, x := range list {
			m[x] = true
		}
		return m
	}
	ma, mb := in(pa), in(pb)
	var out []string
	for _, x := range pa {
		if !mb[x] {
			out = append(out, "-"+x)
		}
	}
	for _, x := range pb {
		if !ma[x] {
			out = append(out, "+"+x)
		}
	}
	return out
}

// parser reads a shape string back into paths.
type parser struct {
	s string
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) value(path string, out *[]string) {
	switch p.peek() {
	case '{':
		p.i++
		if p.peek() == '}' {
			p.i++
			*out = append(*out, label(path)+": {}")
			return
		}
		for p.i < len(p.s) {
			if strings.HasPrefix(p.s[p.i:], "…") {
				p.i += len("…")
				*out = append(*out, label(path)+".…: cut")
			} else {
				key := p.key()
				if p.peek() == ':' {
					p.i++
				}
				child := key
				if path != "" {
					child = path + "." + key
				}
				p.value(child, out)
			}
			if p.peek() == ',' {
				p.i++
				continue
			}
			if p.peek() == '}' {
				p.i++
			}
			return
		}
	case '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			*out = append(*out, label(path)+": []")
			return
		}
		for p.i < len(p.s) {
			p.value(path+"[]", out)
			if p.peek() == '|' {
				p.i++
				continue
			}
			if p.peek() == ']' {
				p.i++
			}
			return
		}
	default:
		start := p.i
		for p.i < len(p.s) && strings.IndexByte(",}]|", p.s[p.i]) < 0 {
			p.i++
		}
		*out = append(*out, label(path)+": "+p.s[start:p.i])
	}
}

func (p *parser) key() string {
	if p.peek() == '"' {
		start := p.i
		p.i++
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' {
				p.i++
			}
			p.i++
		}
		p.i++
		var k string
		if json.Unmarshal([]byte(p.s[start:min(p.i, len(p.s))]), &k) == nil {
			return k
		}
		return p.s[start:min(p.i, len(p.s))]
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ':' {
		p.i++
	}
	return p.s[start:p.i]
}

func label(path string) string {
	if path == "" {
		return "."
	}
	return path
}
