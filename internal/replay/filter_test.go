package replay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

func TestFilterKeep(t *testing.T) {
	for _, tc := range []struct {
		only, skip []string
		method     string
		endpoint   string
		url        string
		want       bool
	}{
		{nil, nil, "GET", "GET /health", "/health", true},
		{[]string{"GET /health"}, nil, "GET", "GET /health", "/health?x=1", true},
		{[]string{"GET /health"}, nil, "HEAD", "HEAD /health", "/health", false},
		{[]string{"/v1/sessions*"}, nil, "POST", "POST /v1/sessions/{id}/messages", "/v1/sessions/abc/messages", true},
		{[]string{"/v1/sessions*"}, nil, "GET", "GET /v1/machines", "/v1/machines", false},
		{[]string{"/v1/sessions/{id}"}, nil, "get", "GET /v1/sessions/{id}", "/v1/sessions/abc", true},
		{[]string{"/v1/sessions/abc"}, nil, "GET", "GET /v1/sessions/{id}", "/v1/sessions/abc", true},
		{nil, []string{"POST *"}, "POST", "POST /v1/kv", "/v1/kv", false},
		{nil, []string{"POST *"}, "GET", "GET /v1/kv", "/v1/kv", true},
		{[]string{"/v1/*"}, []string{"/v1/kv*"}, "GET", "GET /v1/kv/{key}", "/v1/kv/k1", false},
		{[]string{"WS /v1/updates"}, nil, "WS", "WS /v1/updates", "/v1/updates?token=t", true},
		{[]string{"WS /v1/updates"}, nil, "GET", "GET /v1/updates", "/v1/updates", false},
		{[]string{"*"}, nil, "DELETE", "DELETE /x", "/x", true},
	} {
		f, err := ParseFilter(tc.only, tc.skip)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Keep(tc.method, tc.endpoint, tc.url); got != tc.want {
			t.Errorf("only %q skip %q: %s %s (%s) kept %v, want %v", tc.only, tc.skip, tc.method, tc.url, tc.endpoint, got, tc.want)
		}
	}
	for _, bad := range []string{"", "health", "GET", "GET /a /b", "FETCH /a"} {
		if _, err := ParseFilter([]string{bad}, nil); err == nil || !strings.Contains(err.Error(), "--only") {
			t.Errorf("pattern %q: error %v", bad, err)
		}
	}
}

// A filtered replay sends only what the patterns keep: the requests of
// the kept endpoints, and of WebSocket connections the kept ones with all
// their messages; what is left out is not scheduled and is counted.
func TestRunFiltered(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if websocket.IsWebSocketUpgrade(r) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				if _, m, err := c.ReadMessage(); err != nil {
					return
				} else {
					mu.Lock()
					got = append(got, "MSG "+string(m))
					mu.Unlock()
				}
			}
		}
	}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	path := filepath.Join(t.TempDir(), "c.rpz")
	w, err := corpus.Create(path, traffic.Header{Origin: "http://prod.example"})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	ex := func(at time.Duration, method, u string) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "f", Start: at,
			Request: traffic.Request{Method: method, URL: u}, Response: &traffic.Response{Status: 200}}}
	}
	open := func(at time.Duration, id uint64, u string) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "f", ConnID: id, Start: at,
			Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: u}, Response: &traffic.Response{Status: 101}}}}
	}
	msg := func(at time.Duration, id uint64, s string) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "f", ConnID: id, Start: at, FromClient: true, Opcode: traffic.OpText, Payload: []byte(s)}}
	}
	closeWS := func(at time.Duration, id uint64) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "f", ConnID: id, Start: at, FromClient: true, Code: 1000}}
	}
	for _, r := range []traffic.Record{
		ex(0, "GET", "/health"), ex(1*ms, "GET", "/v1/sessions"), ex(2*ms, "POST", "/v1/sessions"),
		open(3*ms, 1, "/v1/updates?clientType=user-scoped"), open(4*ms, 2, "/v1/other"),
		msg(5*ms, 1, "kept"), msg(6*ms, 2, "left"), ex(7*ms, "GET", "/v1/machines"),
		closeWS(20*ms, 1), closeWS(21*ms, 2),
	} {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilter([]string{"/v1/sessions*", "WS /v1/updates", "/health"}, []string{"POST *"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), Options{Corpus: path, Filter: f, Engine: engine.Config{Target: target}, Schedule: schedule.Options{Speed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sort.Strings(got)
	mu.Unlock()
	want := []string{"GET /health", "GET /v1/sessions", "GET /v1/updates", "MSG kept"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("server got %q, want %q", got, want)
	}
	// Left out: POST /v1/sessions, GET /v1/machines, the /v1/other
	// connection and its message.
	if out.LeftOut != 4 || out.Snapshot.Meta.Scheduled != 4 {
		t.Fatalf("left out %d, scheduled %d; want 4 and 4", out.LeftOut, out.Snapshot.Meta.Scheduled)
	}
	if _, err := out.Snapshot.Accounting(); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseFilter checks the --only/--skip pattern parser: no input
// crashes it, and an accepted pattern without "*" keeps exactly the path
// it names (and leaves it out under --skip).
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"GET /health", "/v1/sessions*", "WS /v1/updates", "POST /v1/sessions/*/messages", "*", "/a(b)[c]+?", "get /x", "GET", "/x /y"} {
		f.Add(s, "/v1/sessions/abc")
	}
	f.Fuzz(func(t *testing.T, pat, path string) {
		only, err := ParseFilter([]string{pat}, nil)
		if err != nil {
			return
		}
		skip, err := ParseFilter(nil, []string{pat})
		if err != nil {
			t.Fatalf("%q parses for --only but not for --skip: %v", pat, err)
		}
		_ = only.Keep("GET", "GET "+path, path)
		fields := strings.Fields(pat)
		lit := fields[len(fields)-1]
		method := "GET"
		if len(fields) == 2 {
			method = fields[0]
		}
		if strings.Contains(lit, "*") || strings.ContainsAny(lit, "?#%") {
			return
		}
		if !only.Keep(method, "", lit) || skip.Keep(method, "", lit) {
			t.Fatalf("pattern %q does not select its own path %q", pat, lit)
		}
	})
}
