package analysis

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestScanStrings(t *testing.T) {
	doc := `{"longKeyThatIsNotAValue": "value-one-is-long", "n": 12, "list": ["short", "escaped \"quote\" inside", "tab\there"], "k":"x"}`
	var got []string
	ScanStrings([]byte(doc), 8, func(v string) { got = append(got, v) })
	want := []string{"value-one-is-long", `escaped "quote" inside`, "tab\there"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// FuzzScanStrings checks that the fast scan finds, in a valid JSON
// document, only strings that the document holds as values.
func FuzzScanStrings(f *testing.F) {
	for _, s := range []string{`{"a":"bbbbbbbbbb"}`, `["x\"yyyyyyyyy", 1, {"k" : "v"}]`, `"\u00e9\u00e9\u00e9\u00e9\u00e9"`, `{"a":"b`, `"\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var found []string
		ScanStrings(data, 1, func(v string) { found = append(found, v) })
		var doc any
		if json.Unmarshal(data, &doc) != nil {
			return
		}
		var all []string
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				all = append(all, x)
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(doc)
		for _, v := range found {
			if !slices.Contains(all, v) {
				t.Fatalf("scan found %q, not a string value of %s", v, data)
			}
		}
	})
}
