package routes

import (
	"slices"
	"strings"
	"testing"
)

// FuzzRouter learns the lines of the input ("METHOD target" each) and
// routes them back: no panic, every learned request maps to a known
// endpoint, and learning the same lines reversed gives the same router.
func FuzzRouter(f *testing.F) {
	f.Add("GET /v1/sessions/0123456789abcdef\nPOST /v1/sessions\nGET /v1/machines/machine-1\nGET /v1/machines/machine-2")
	f.Add("GET https://host/a/b.png?x=1\nGET /a/c.png#frag\nWS /v1/updates?token=x")
	f.Add("GET //\nGET /%zz/\x00/\xff\nget /*/*/*")
	f.Add("PUT /kv/a\nPUT /kv/b\nPUT /kv/c\nPUT /kv/d\nPUT /kv/e\nPUT /kv/f\nPUT /kv/g")
	f.Fuzz(func(t *testing.T, input string) {
		lines := strings.Split(input, "\n")
		if len(lines) > 200 {
			lines = lines[:200]
		}
		type q struct{ m, p string }
		var reqs []q
		for _, line := range lines {
			m, p, _ := strings.Cut(line, " ")
			reqs = append(reqs, q{m, p})
		}
		opts := Options{MaxEndpoints: 8, MaxDepth: 6}
		build := func(order []q) *Router {
			l := NewLearner(opts)
			for _, r := range order {
				l.Add(r.m, r.p)
			}
			return l.Router()
		}
		a := build(reqs)
		rev := slices.Clone(reqs)
		slices.Reverse(rev)
		b := build(rev)
		if !slices.Equal(a.Endpoints(), b.Endpoints()) {
			t.Fatalf("order changes endpoints:\n%v\n%v", a.Endpoints(), b.Endpoints())
		}
		if n := len(a.Endpoints()); n > opts.MaxEndpoints {
			t.Fatalf("%d endpoints over the cap", n)
		}
		for _, r := range reqs {
			got := a.Route(r.m, r.p)
			if !a.Known(got) {
				t.Fatalf("Route(%q, %q) = %q, not known among %q", r.m, r.p, got, a.Templates())
			}
			if again := b.Route(r.m, r.p); again != got {
				t.Fatalf("Route(%q, %q) = %q and %q", r.m, r.p, got, again)
			}
		}
	})
}
