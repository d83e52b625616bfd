package jsonshape

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// scanner writes the shape of a JSON document while it checks it, without
// decoding its values into Go ones: what encoding/json accepts it accepts,
// and it writes what write writes of the decoded value.
// maxNesting is how deep encoding/json lets containers nest.
const maxNesting = 10000

type scanner struct {
	data []byte
	i    int
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value at depth and returns its shape.
func (s *scanner) value(depth int) (string, bool) {
	s.ws()
	if s.i >= len(s.data) {
		return "", false
	}
	c := s.data[s.i]
	if (c == '{' || c == '[') && depth >= maxNesting {
		return "", false
	}
	switch {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		if _, ok := s.str(false); !ok {
			return "", false
		}
		return "str", true
	case c == 't' && s.lit("true"), c == 'f' && s.lit("false"):
		return "bool", true
	case c == 'n' && s.lit("null"):
		return "null", true
	case (c == '-' || c >= '0' && c <= '9') && s.number():
		return "num", true
	}
	return "", false
}

func (s *scanner) lit(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number reads a JSON number (RFC 8259 grammar).
func (s *scanner) number() bool {
	d := s.data
	if s.i < len(d) && d[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(d) && d[s.i] == '0':
		s.i++
	case s.i < len(d) && d[s.i] >= '1' && d[s.i] <= '9':
		for s.i < len(d) && d[s.i] >= '0' && d[s.i] <= '9' {
			s.i++
		}
	default:
		return false
	}
	if s.i < len(d) && d[s.i] == '.' {
		s.i++
		if s.i >= len(d) || d[s.i] < '0' || d[s.i] > '9' {
			return false
		}
		for s.i < len(d) && d[s.i] >= '0' && d[s.i] <= '9' {
			s.i++
		}
	}
	if s.i < len(d) && (d[s.i] == 'e' || d[s.i] == 'E') {
		s.i++
		if s.i < len(d) && (d[s.i] == '+' || d[s.i] == '-') {
			s.i++
		}
		if s.i >= len(d) || d[s.i] < '0' || d[s.i] > '9' {
			return false
		}
		for s.i < len(d) && d[s.i] >= '0' && d[s.i] <= '9' {
			s.i++
		}
	}
	return true
}

// str reads a string; with want, it returns its value (unescaped; the
// bytes of the document themselves when nothing needed unescaping).
func (s *scanner) str(want bool) ([]byte, bool) {
	d := s.data
	start := s.i
	s.i++
	plain := true
	for {
		if s.i >= len(d) {
			return nil, false
		}
		c := d[s.i]
		switch {
		case c == '"':
			s.i++
			if !want || plain {
				return d[start+1 : s.i-1], true
			}
			var v string
			if json.Unmarshal(d[start:s.i], &v) != nil {
				return nil, false
			}
			return []byte(v), true
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(d) {
				return nil, false
			}
			switch d[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(d) {
					return nil, false
				}
				for _, h := range d[s.i+1 : s.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false
					}
				}
				s.i += 5
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			// invalid UTF-8 is replaced in the value: unescape it then
			plain = false
			s.i++
		default:
			s.i++
		}
	}
}

type field struct {
	key   []byte
	shape string
}

func (s *scanner) object(depth int) (string, bool) {
	s.i++ // {
	deep := depth >= maxDepth
	var fields []field
	var k []byte
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.i >= len(s.data) || s.data[s.i] != '"' {
				return "", false
			}
			var ok bool
			if k, ok = s.str(!deep); !ok {
				return "", false
			}
			s.ws()
			if s.i >= len(s.data) || s.data[s.i] != ':' {
				return "", false
			}
			s.i++
			sub, ok := s.value(depth + 1)
			if !ok {
				return "", false
			}
			if !deep {
				// a key given twice keeps its last value, as decoding does
				if j := slices.IndexFunc(fields, func(f field) bool { return bytes.Equal(f.key, k) }); j >= 0 {
					fields[j].shape = sub
				} else {
					fields = append(fields, field{k, sub})
				}
			}
			s.ws()
			if s.i >= len(s.data) {
				return "", false
			}
			if s.data[s.i] == ',' {
				s.i++
				continue
			}
			if s.data[s.i] != '}' {
				return "", false
			}
			s.i++
			break
		}
	}
	if deep {
		return "{…}", true
	}
	slices.SortFunc(fields, func(a, c field) int { return bytes.Compare(a.key, c.key) })
	n := 2
	for _, f := range fields {
		n += len(f.key) + len(f.shape) + 2
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, f := range fields {
		if i == maxKeys {
			b.WriteString(",…")
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(&b, f.key)
		b.WriteByte(':')
		b.WriteString(f.shape)
	}
	b.WriteByte('}')
	return b.String(), true
}

func (s *scanner) array(depth int) (string, bool) {
	s.i++ // [
	deep := depth >= maxDepth
	var parts []string
	n := 0
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
	} else {
		for {
			e, ok := s.value(depth + 1)
			if !ok {
				return "", false
			}
			if !deep && n < maxElements && !slices.Contains(parts, e) {
				parts = append(parts, e)
			}
			n++
			s.ws()
			if s.i >= len(s.data) {
				return "", false
			}
			if s.data[s.i] == ',' {
				s.i++
				continue
			}
			if s.data[s.i] != ']' {
				return "", false
			}
			s.i++
			break
		}
	}
	if deep {
		return "[…]", true
	}
	slices.Sort(parts)
	return "[" + strings.Join(parts, "|") + "]", true
}

// writeKey writes a key as quoteKey does, from its bytes.
func writeKey(b *strings.Builder, k []byte) {
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteString(quoteKey(string(k)))
			return
		}
	}
	if len(k) == 0 {
		b.WriteString(`""`)
		return
	}
	b.Write(k)
}
