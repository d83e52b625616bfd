package analysis

import (
	"slices"
	"testing"
)

func TestEachHTMLValue(t *testing.T) {
	page := `<!doctype html><html><head><meta charset="utf-8"><meta name="csrf-token" content="a+b/c=="><meta property="og:title" content="x"></head>
<body><form><input type="hidden" name="authenticity_token" value="t&#43;0k"><input name="q"><INPUT NAME="id" VALUE='42' /></form><p name="x" value="y"></p></body></html>`
	var got []string
	EachHTMLValue([]byte(page), func(p HTMLPlace, v string) { got = append(got, p.Tag+" "+p.Name+" "+v) })
	want := []string{"meta csrf-token a+b/c==", "input authenticity_token t+0k", "input id 42"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if v, ok := HTMLValue([]byte(page), HTMLPlace{"input", "authenticity_token"}); !ok || v != "t+0k" {
		t.Errorf("HTMLValue: %q %v", v, ok)
	}
}

// Whatever a page holds, every value EachHTMLValue finds in it is found
// again at its place by HTMLValue, and nothing panics.
func FuzzHTMLValues(f *testing.F) {
	f.Add([]byte(`<meta name="csrf-token" content="abc123"><input name=a value=b>`))
	f.Add([]byte(`<input name="a" value="1"><input name="a" value="2"`))
	f.Add([]byte(`<meta name=x content=<<<`))
	f.Fuzz(func(t *testing.T, page []byte) {
		EachHTMLValue(page, func(p HTMLPlace, v string) {
			if _, ok := HTMLValue(page, p); !ok {
				t.Fatalf("%q at %+v not found again", v, p)
			}
		})
	})
}
