package routes

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

func TestShapeParam(t *testing.T) {
	tests := []struct {
		seg  string
		want string // "" = literal
	}{
		{"sessions", ""},
		{"v1", ""},
		{"v2.1", ""},
		{"health", ""},
		{"machine-7", ""},
		{"base64", ""},
		{"x86_64", ""},
		{"settings.theme", ""},
		{"logo-navbar.png", ""},
		{"getUserPreferences", ""},
		{"42", paramID},
		{"0", paramID},
		{"3f2a9c1e", paramID},
		{"deadbeef", ""},
		{"deadbeefdeadbeef", paramID},
		{"550e8400-e29b-41d4-a716-446655440000", paramID},
		{"2024-01-31", paramID},
		{"1.9.1", paramID},
		{"cmf8d2k3x0001ab", paramID},
		{"user@example.com", paramID},
		{"dGhpcyBpcyBhIHRva2Vu+w==", paramID},
		{"aB3dE_fGhIjKlMnOpQrStUvWx", paramID},
		{"AbCdEfGhIjKlMnOpQrStUv", paramID},
		{strings.Repeat("a", 65), paramID},
		{"github-46ac4202cb3c472c54a367e85742188d9f18080f1a0f770de0df1718b8b6e657.css", paramFile},
		{"frameworks-ef8eb4a89ee9.js", paramFile},
		{"app.min.js", ""},
	}
	for _, tt := range tests {
		t.Run(tt.seg, func(t *testing.T) {
			got, _ := shapeParam(tt.seg)
			if got != tt.want {
				t.Errorf("shapeParam(%q) = %q, want %q", tt.seg, got, tt.want)
			}
		})
	}
}

type req struct{ method, target string }

// happyTraffic is a dev-usage mix over the Happy API, with server ids in
// hex and client-chosen machine ids and kv keys.
func happyTraffic() []req {
	r := rand.New(rand.NewPCG(1, 2))
	hexID := func() string { return fmt.Sprintf("%016x", r.Uint64()) }
	var out []req
	add := func(m, p string) { out = append(out, req{m, p}) }
	keys := []string{"theme", "lang", "editor.font", "layout", "notifications", "sidebar", "recent"}
	for u := 0; u < 5; u++ {
		add("GET", "/health")
		add("POST", "/v1/auth")
		add("WS", "/v1/updates?token=abc&clientType=user-scoped")
		add("GET", "/v1/sessions")
		add("GET", "/v2/sessions/active?limit=10")
		add("GET", "/v1/account")
		add("PUT", "/v1/account/preferences")
		add("GET", "/v1/account/settings")
		add("GET", "/v1/websocket/stats")
		add("POST", "/v1/websocket/broadcast")
		add("GET", "/v1/feed?limit=20")
		add("POST", "/v1/version")
		for s := 0; s < 4; s++ {
			id := hexID()
			add("POST", "/v1/sessions")
			add("GET", "/v1/sessions/"+id)
			add("POST", "/v1/sessions/"+id+"/messages")
			add("GET", "/v1/sessions/"+id+"/messages?cursor=0&limit=50")
			add("GET", "/v2/sessions/"+id)
			add("DELETE", "/v1/sessions/"+id)
		}
		m := fmt.Sprintf("machine-%d", u+1)
		add("POST", "/v1/machines")
		add("GET", "/v1/machines")
		add("GET", "/v1/machines/"+m)
		add("PUT", "/v1/machines/"+m+"/status")
		for _, k := range keys {
			add("GET", "/v1/kv/"+k)
		}
		add("POST", "/v1/kv")
		add("GET", "/v1/kv?limit=100")
		art := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
		add("POST", "/v1/artifacts")
		add("GET", "/v1/artifacts/"+art)
	}
	return out
}

func learn(reqs []req, o Options) *Router {
	l := NewLearner(o)
	for _, q := range reqs {
		l.Add(q.method, q.target)
	}
	return l.Router()
}

func TestLearnHappy(t *testing.T) {
	r := learn(happyTraffic(), Options{})
	want := []string{
		"DELETE /v1/sessions/{id}",
		"GET /health",
		"GET /v1/account",
		"GET /v1/account/settings",
		"GET /v1/artifacts/{id}",
		"GET /v1/feed",
		"GET /v1/kv",
		"GET /v1/kv/{key}",
		"GET /v1/machines",
		"GET /v1/machines/{id}",
		"GET /v1/sessions",
		"GET /v1/sessions/{id}",
		"GET /v1/sessions/{id}/messages",
		"GET /v1/websocket/stats",
		"GET /v2/sessions/active",
		"GET /v2/sessions/{id}",
		"POST /v1/artifacts",
		"POST /v1/auth",
		"POST /v1/kv",
		"POST /v1/machines",
		"POST /v1/sessions",
		"POST /v1/sessions/{id}/messages",
		"POST /v1/version",
		"POST /v1/websocket/broadcast",
		"PUT /v1/account/preferences",
		"PUT /v1/machines/{id}/status",
		"WS /v1/updates",
	}
	if got := r.Templates(); !slices.Equal(got, want) {
		t.Errorf("templates:\n got %q\nwant %q", got, want)
	}
	routeTests := []struct{ method, target, want string }{
		{"GET", "/v1/sessions/0123456789abcdef/messages?limit=5", "GET /v1/sessions/{id}/messages"},
		{"get", "/v1/sessions/fresh-session-id-for-copy-2", "GET /v1/sessions/{id}"},
		{"GET", "/v2/sessions/active", "GET /v2/sessions/active"},
		{"GET", "/v2/sessions/feedfacecafe0001", "GET /v2/sessions/{id}"},
		{"PUT", "/v1/machines/machine-99-c2/status", "PUT /v1/machines/{id}/status"},
		{"GET", "/v1/kv/never-seen-key", "GET /v1/kv/{key}"},
		{"GET", "http://staging.example/health?x=1", "GET /health"},
		{"GET", "/health/", "GET /health"},
		{"PATCH", "/v1/sessions/abc", "PATCH /v1/sessions/{id}"},
		{"GET", "/v1/nothing/here", "GET /v1/*"},
		{"GET", "/nothing", Other},
		{"WS", "/v1/updates?ticket=t", "WS /v1/updates"},
		{"bad method", "/health", "OTHER /health"},
	}
	for _, tt := range routeTests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			if got := r.Route(tt.method, tt.target); got != tt.want {
				t.Errorf("Route(%q, %q) = %q, want %q", tt.method, tt.target, got, tt.want)
			}
		})
	}
}

func TestLearnFromSource(t *testing.T) {
	recs := []traffic.Record{
		{Kind: traffic.KindHeader, Header: &traffic.Header{}},
		{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/sessions/0123456789abcdef"}}},
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=x"}}}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{}},
	}
	r, err := Learn(context.Background(), traffic.SliceSource(recs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v1/sessions/{id}", "WS /v1/updates"}
	if got := r.Templates(); !slices.Equal(got, want) {
		t.Errorf("templates = %q, want %q", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Learn(ctx, traffic.SliceSource(recs), Options{}); err == nil {
		t.Error("Learn with a cancelled context: no error")
	}
}

func TestCardinalityRules(t *testing.T) {
	tests := []struct {
		name string
		reqs []req
		want []string
	}{
		{
			name: "two enumerated machines",
			reqs: []req{{"GET", "/m/machine-1"}, {"GET", "/m/machine-2"}},
			want: []string{"GET /m/{id}"},
		},
		{
			name: "one machine stays literal",
			reqs: []req{{"GET", "/m/machine-1"}},
			want: []string{"GET /m/machine-1"},
		},
		{
			name: "versions are never enumerations",
			reqs: []req{{"GET", "/v1/x"}, {"GET", "/v2/x"}, {"GET", "/v3/x"}},
			want: []string{"GET /v1/x", "GET /v2/x", "GET /v3/x"},
		},
		{
			name: "five look-alikes stay, six fold",
			reqs: []req{
				{"GET", "/a/one"}, {"GET", "/a/two"}, {"GET", "/a/three"}, {"GET", "/a/four"}, {"GET", "/a/five"},
				{"GET", "/b/one"}, {"GET", "/b/two"}, {"GET", "/b/three"}, {"GET", "/b/four"}, {"GET", "/b/five"}, {"GET", "/b/six"},
			},
			want: []string{"GET /a/five", "GET /a/four", "GET /a/one", "GET /a/three", "GET /a/two", "GET /b/{id}"},
		},
		{
			name: "different shapes do not look alike",
			reqs: []req{
				{"GET", "/r/a"}, {"POST", "/r/b"}, {"PUT", "/r/c"}, {"DELETE", "/r/d"}, {"GET", "/r/e/x"}, {"GET", "/r/f/y"},
			},
			want: []string{"DELETE /r/d", "GET /r/a", "GET /r/e/x", "GET /r/f/y", "POST /r/b", "PUT /r/c"},
		},
		{
			name: "sixteen distinct literals fold, subtrees merge",
			reqs: func() []req {
				var out []req
				for i := 0; i < 16; i++ {
					name := strings.Repeat(string(rune('a'+i)), 3)
					out = append(out, req{"GET", "/u/" + name + "/profile"})
					if i%2 == 0 {
						out = append(out, req{"POST", "/u/" + name})
					} else {
						out = append(out, req{"PUT", "/u/" + name + "/avatar"})
					}
				}
				return out
			}(),
			want: []string{"GET /u/{id}/profile", "POST /u/{id}", "PUT /u/{id}/avatar"},
		},
		{
			name: "static files",
			reqs: []req{
				{"GET", "/img/logo.png"}, {"GET", "/img/bg.png"}, {"GET", "/img/icon.png"},
				{"GET", "/img/hero.png"}, {"GET", "/img/avatar.png"}, {"GET", "/img/arrow.png"},
			},
			want: []string{"GET /img/{file}"},
		},
		{
			name: "keys after kv",
			reqs: []req{{"GET", "/kv/k-1"}, {"GET", "/kv/k-2"}},
			want: []string{"GET /kv/{key}"},
		},
		{
			name: "root and empty",
			reqs: []req{{"GET", "/"}, {"GET", ""}, {"GET", "?q=1"}},
			want: []string{"GET /"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := learn(tt.reqs, Options{}).Templates()
			if !slices.Equal(got, tt.want) {
				t.Errorf("templates:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDepthCap(t *testing.T) {
	deep := "/" + strings.Repeat("a/", 40) + "end"
	r := learn([]req{{"GET", deep}}, Options{MaxDepth: 4})
	want := []string{"GET /a/a/a/{id}"}
	if got := r.Templates(); !slices.Equal(got, want) {
		t.Errorf("templates = %q, want %q", got, want)
	}
	if got := r.Route("GET", "/a/a/a/a/b/c"); got != want[0] {
		t.Errorf("Route = %q, want %q", got, want[0])
	}
}

func TestEndpointCap(t *testing.T) {
	// 40 look-different endpoints under 5 prefixes, heavier first.
	var reqs []req
	for p := 0; p < 5; p++ {
		for e := 0; e < 8; e++ {
			n := 1 + (40 - (p*8 + e))
			for i := 0; i < n; i++ {
				method := []string{"GET", "POST", "PUT", "DELETE"}[e%4]
				reqs = append(reqs, req{method, fmt.Sprintf("/%c/%c", 'p'+p, 'a'+e/4)})
			}
		}
	}
	r := learn(reqs, Options{MaxEndpoints: 12})
	eps := r.Endpoints()
	if len(eps) > 12 {
		t.Fatalf("%d endpoints over a cap of 12: %v", len(eps), eps)
	}
	var total int64
	for _, e := range eps {
		total += e.Hits
	}
	if total != int64(len(reqs)) {
		t.Errorf("endpoint hits add to %d, want %d", total, len(reqs))
	}
	// the busiest endpoint keeps its template
	if got := r.Route("GET", "/p/a"); got != "GET /p/a" {
		t.Errorf("busiest: Route = %q", got)
	}
	// the lightest is folded
	if got := r.Route("PUT", "/t/b"); got != Other && got != "PUT /t/*" {
		t.Errorf("lightest: Route = %q, want folded", got)
	}
	for _, q := range reqs {
		if got := r.Route(q.method, q.target); !r.Known(got) {
			t.Fatalf("Route(%s %s) = %q, not a known endpoint", q.method, q.target, got)
		}
	}
}

func TestStaticSiteDoesNotExplode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		b := make([]byte, 3+r.IntN(8))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return string(b)
	}
	l := NewLearner(Options{})
	exts := []string{".png", ".css", ".js", ".svg", ".woff2"}
	var all []req
	for i := 0; i < 20000; i++ {
		p := "/" + word() + "/" + word() + "/" + word() + exts[r.IntN(len(exts))]
		if i%3 == 0 {
			p = "/" + word() + exts[r.IntN(len(exts))]
		}
		all = append(all, req{"GET", p})
		l.Add("GET", p)
	}
	rt := l.Router()
	if n := len(rt.Endpoints()); n > DefaultMaxEndpoints {
		t.Fatalf("%d endpoints for a static site, cap %d", n, DefaultMaxEndpoints)
	}
	for _, q := range all[:500] {
		if got := rt.Route(q.method, q.target); !rt.Known(got) {
			t.Fatalf("Route(%s) = %q, not known", q.target, got)
		}
	}
}

func TestDeterministic(t *testing.T) {
	reqs := happyTraffic()
	a := learn(reqs, Options{})
	for seed := uint64(0); seed < 5; seed++ {
		shuffled := slices.Clone(reqs)
		r := rand.New(rand.NewPCG(seed, 9))
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b := learn(shuffled, Options{})
		if !slices.Equal(a.Endpoints(), b.Endpoints()) {
			t.Fatalf("seed %d: endpoints differ:\n%v\n%v", seed, a.Endpoints(), b.Endpoints())
		}
		for _, q := range reqs {
			if x, y := a.Route(q.method, q.target), b.Route(q.method, q.target); x != y {
				t.Fatalf("seed %d: Route(%s %s) = %q and %q", seed, q.method, q.target, x, y)
			}
		}
	}
}

// TestHARCorpora learns the request URLs of real browser and tool HAR
// exports (arbitrary sites, absolute URLs, static files).
func TestHARCorpora(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/har/*.har")
	if len(files) == 0 {
		t.Skip("shared HAR test data not present")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.TrimPrefix(string(data), "\ufeff"))
			var har struct {
				Log struct {
					Entries []struct {
						Request struct {
							Method string `json:"method"`
							URL    string `json:"url"`
						} `json:"request"`
					} `json:"entries"`
				} `json:"log"`
			}
			if err := json.Unmarshal(data, &har); err != nil {
				t.Fatalf("parse: %v", err)
			}
			l := NewLearner(Options{})
			for _, e := range har.Log.Entries {
				l.Add(e.Request.Method, e.Request.URL)
			}
			r := l.Router()
			var hits int64
			for _, e := range r.Endpoints() {
				hits += e.Hits
			}
			if hits != int64(len(har.Log.Entries)) {
				t.Errorf("endpoints count %d requests, HAR has %d", hits, len(har.Log.Entries))
			}
			for _, e := range har.Log.Entries {
				if got := r.Route(e.Request.Method, e.Request.URL); !r.Known(got) {
					t.Errorf("Route(%s %s) = %q, not known", e.Request.Method, e.Request.URL, got)
				}
			}
		})
	}
}

func TestGitHubAssetsFold(t *testing.T) {
	f := "../../../shared/testdata/har/perfcascade_wpt_github.har"
	if _, err := os.Stat(f); err != nil {
		t.Skip("shared HAR test data not present")
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Request struct{ Method, URL string } `json:"request"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &har); err != nil {
		t.Fatal(err)
	}
	l := NewLearner(Options{})
	for _, e := range har.Log.Entries {
		l.Add(e.Request.Method, e.Request.URL)
	}
	r := l.Router()
	// four fingerprinted bundles (two css, two js) are one endpoint
	if !r.Known("GET /assets/{file}") {
		t.Errorf("templates %q lack GET /assets/{file}", r.Templates())
	}
}

func BenchmarkRoute(b *testing.B) {
	reqs := happyTraffic()
	r := learn(reqs, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := reqs[i%len(reqs)]
		r.Route(q.method, q.target)
	}
}
