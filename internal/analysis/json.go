package analysis

import (
	"bytes"
	"encoding/json"
	"sort"
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
