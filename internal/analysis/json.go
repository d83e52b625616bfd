package analysis

import (
	"bytes"
	"encoding/json"
	"sort"
	"unicode/utf8"
)

// WalkJSON calls fn for every string value of a JSON object or array
// (keys in sorted order) with its path: object keys as strings, array
// indexes as ints. The path slice is reused between calls: copy it to
// keep it. A document that is not an object or array, or not valid JSON,
// calls nothing. It is the one JSON walker of the replay side.
func WalkJSON(data []byte, fn func(path []any, v string)) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') {
		return
	}
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	WalkValue(doc, fn)
}

// WalkValue is WalkJSON over a decoded document.
func WalkValue(doc any, fn func(path []any, v string)) {
	var path []any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			fn(path, t)
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				path = append(path, k)
				walk(t[k])
				path = path[:len(path)-1]
			}
		case []any:
			for i, x := range t {
				path = append(path, i)
				walk(x)
				path = path[:len(path)-1]
			}
		}
	}
	walk(doc)
}

// Lookup finds the string at path in a decoded JSON document ("" and
// false when there is none, or it is empty).
func Lookup(doc any, path []any) (string, bool) {
	cur := doc
	for _, step := range path {
		switch k := step.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return "", false
			}
			cur = m[k]
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return "", false
			}
			cur = a[k]
		}
	}
	s, ok := cur.(string)
	return s, ok && s != ""
}

// ScanStrings calls fn for every JSON string value (not object key) of at
// least min bytes in data, unescaped, without decoding the document: a
// fast pass for callers that want only long strings (ids, tokens). Data
// that is not JSON yields whatever quoted strings it holds.
func ScanStrings(data []byte, min int, fn func(v string)) {
	sc := stringScanner{data: data, min: min}
	for sc.next() {
		if sc.raw != nil {
			fn(string(sc.raw))
		} else {
			fn(sc.str)
		}
	}
}

// indexQuote is bytes.IndexByte(b, '"'), quicker when the quote is a few
// bytes on, as the next one in JSON often is.
func indexQuote(b []byte) int {
	near := min(len(b), 8)
	for i := 0; i < near; i++ {
		if b[i] == '"' {
			return i
		}
	}
	if near == len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[near:], '"'); i >= 0 {
		return near + i
	}
	return -1
}

// stringScanner finds what ScanStrings finds, one string at a time and
// without copying: after next, raw holds the string's bytes in data when
// they need no unescaping (nil otherwise), else str holds it unescaped.
type stringScanner struct {
	data []byte
	min  int
	i    int // where to look for the next opening quote
	raw  []byte
	str  string
}

func (sc *stringScanner) next() bool {
	data := sc.data
	for sc.i < len(data) {
		q := indexQuote(data[sc.i:])
		if q < 0 {
			sc.i = len(data)
			return false
		}
		i := sc.i + q
		// find the closing quote, noting escapes: byte by byte in a short
		// string, else by the next quote when no backslash comes before
		// it
		j := i + 1
		escaped := false
		short := min(len(data), j+16)
		for j < short && data[j] != '"' && data[j] != '\\' {
			j++
		}
		if j == short && j < len(data) {
			if e := bytes.IndexByte(data[j:], '"'); e < 0 {
				j = len(data)
			} else if bytes.IndexByte(data[j:j+e], '\\') < 0 {
				j += e
			}
		}
		for j < len(data) && data[j] != '"' {
			if data[j] == '\\' {
				escaped = true
				j++
			}
			j++
		}
		if j >= len(data) {
			sc.i = len(data)
			return false
		}
		sc.i = j + 1
		raw := data[i+1 : j]
		if len(raw) < sc.min {
			continue
		}
		// a key is followed by a colon
		k := j + 1
		for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r') {
			k++
		}
		if k < len(data) && data[k] == ':' {
			continue
		}
		if escaped || !utf8.Valid(raw) {
			var s string
			if json.Unmarshal(data[i:j+1], &s) == nil && len(s) >= sc.min {
				sc.raw, sc.str = nil, s
				return true
			}
			continue
		}
		sc.raw, sc.str = raw, ""
		return true
	}
	return false
}
