package analysis

import (
	"net/http"
	"slices"
	"testing"
)

func TestEachHeaderValue(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string // place and value
	}{
		{"set-cookie", `sid="0123456789abcdef"; Path=/; HttpOnly`, []string{"Set-Cookie/sid/0 0123456789abcdef"}},
		{"Location", "https://api.example/v1/items/it_8f3a29b1?rev=12&x=", []string{"Location//1 v1", "Location//2 items", "Location//3 it_8f3a29b1", "Location/rev/0 12"}},
		{"ETag", `W/"e7a9-0123"`, []string{"Etag//0 e7a9-0123"}},
		{"x-csrf-token", " tok123 ", []string{"X-Csrf-Token//0 tok123"}},
		{"X-Auth-Token", "abc", []string{"X-Auth-Token//0 abc"}},
		{"Date", "Thu, 03 Dec 2026 17:16:57 GMT", nil},
		{"X-Request-Id", "0123456789abcdef", nil},
		{"ETag", "unquoted", nil},
		{"Set-Cookie", "novalue", nil},
	} {
		var got []string
		EachHeaderValue(tc.name, tc.value, func(p HeaderPlace, v string) {
			got = append(got, p.Header+"/"+p.Key+"/"+string(rune('0'+p.Seg))+" "+v)
		})
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %s: got %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
	var sent []string
	for _, h := range [][2]string{{"cookie", `a=1; sid="0123456789abcdef"`}, {"If-None-Match", `"x1", W/"y2"`}, {"Accept", "a/b"}} {
		EachRequestHeaderValue(h[0], h[1], func(v string) { sent = append(sent, v) })
	}
	if want := []string{"1", "0123456789abcdef", "x1", "y2"}; !slices.Equal(sent, want) {
		t.Errorf("request header values %q, want %q", sent, want)
	}
}

// Whatever a header holds, every value EachHeaderValue finds in it is
// found again at its place by HeaderValue (what correlation relies on to
// read the live response), and nothing panics.
func FuzzHeaderValues(f *testing.F) {
	for _, s := range [][2]string{
		{"Set-Cookie", "sid=abc123; Path=/"}, {"Location", "/items/42?rev=3"}, {"ETag", `W/"a1"`},
		{"X-CSRF-Token", "t0k"}, {"Content-Location", "http://h/%zz"}, {"Cookie", `a="b"; c`}, {"If-Match", `"1", *`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		EachRequestHeaderValue(name, value, func(string) {})
		h := http.Header{}
		EachHeaderValue(name, value, func(p HeaderPlace, v string) {
			h[p.Header] = []string{value}
			if got, ok := HeaderValue(h, p); !ok {
				t.Fatalf("%s: %q: %q at %+v not found again", name, value, v, p)
			} else if got != v {
				t.Fatalf("%s: %q: %q at %+v found as %q", name, value, v, p, got)
			}
		})
	})
}
