package happyapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const staticToken = "test-auth-token"

// fixture is a server with one user holding two sessions (one with a
// message), a machine, an artifact and a kv key.
type fixture struct {
	srv              *Server
	base, tok, other string
	sid, sid2        string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	srv, base := newTest(t, Config{Tokens: []string{staticToken}})
	f := fixture{srv: srv, base: base, tok: staticToken, other: login(t, base, "other")}
	for i, dst := range []*string{&f.sid, &f.sid2} {
		r := call(t, base, "POST", "/v1/sessions", f.tok, map[string]any{"tag": fmt.Sprintf("fixture-%d", i), "metadata": "bWV0YQ=="})
		if r.status != 200 {
			t.Fatalf("create session: %d %s", r.status, r.raw)
		}
		*dst = path(r.body, "session.id").(string)
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/sessions/" + f.sid + "/messages", map[string]any{"localId": "l1", "content": map[string]any{"t": "encrypted", "c": "aGk="}}},
		{"POST", "/v1/machines", map[string]any{"id": "m1", "metadata": "bQ=="}},
		{"POST", "/v1/artifacts", map[string]any{"id": "a1", "header": "aA==", "body": "Yg==", "dataEncryptionKey": "aw=="}},
		{"POST", "/v1/kv", map[string]any{"mutations": []any{map[string]any{"key": "k1", "value": "djE=", "version": -1}}}},
	}
	for _, s := range steps {
		if r := call(t, base, s.method, s.path, f.tok, s.body); r.status != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, r.status, r.raw)
		}
	}
	return f
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	type check func(t *testing.T, r reply)
	field := func(p string, want any) check {
		return func(t *testing.T, r reply) {
			t.Helper()
			if got := path(r.body, p); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s = %v, want %v (body %s)", p, got, want, r.raw)
			}
		}
	}
	length := func(p string, want int) check {
		return func(t *testing.T, r reply) {
			t.Helper()
			l, ok := path(r.body, p).([]any)
			if !ok || len(l) != want {
				t.Errorf("%s has %d items (%v), want %d: %s", p, len(l), ok, want, r.raw)
			}
		}
	}
	validation := func(t *testing.T, r reply) {
		t.Helper()
		if r.body["code"] != "VALIDATION_FAILED" || r.body["requestId"] != r.header.Get("X-Request-ID") || r.body["error"] == "" {
			t.Errorf("not a validation error body: %s", r.raw)
		}
		if _, ok := r.body["timestamp"].(float64); !ok {
			t.Errorf("validation timestamp not a number: %s", r.raw)
		}
	}
	cases := []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		checks       []check
	}{
		{"health", "GET", "/health", "", nil, 200, []check{field("status", "healthy")}},
		{"ready", "GET", "/ready", "", nil, 200, []check{field("ready", true)}},
		{"root", "GET", "/", "", nil, 200, nil},
		{"unknown route", "GET", "/v1/nope", "", nil, 404, []check{field("error", "Not found: /v1/nope")}},
		{"unknown method", "PATCH", "/v1/sessions", f.tok, nil, 404, []check{field("error", "Not found: /v1/sessions")}},
		{"no auth", "GET", "/v1/sessions", "", nil, 401, []check{field("error", "Missing Authorization header")}},
		{"bad token", "GET", "/v1/sessions", "nope", nil, 401, []check{field("error", "Invalid or expired token")}},
		{"sessions list", "GET", "/v1/sessions", f.tok, nil, 200, []check{length("sessions", 2), field("sessions.0.id", f.sid2)}},
		{"sessions of another user", "GET", "/v1/sessions", f.other, nil, 200, []check{length("sessions", 0)}},
		{"sessions v2 page", "GET", "/v2/sessions?limit=1", f.tok, nil, 200, []check{length("sessions", 1), field("nextCursor", "cursor_v1_2")}},
		{"sessions v2 last page", "GET", "/v2/sessions?limit=1&cursor=cursor_v1_2", f.tok, nil, 200, []check{field("sessions.0.id", f.sid), field("nextCursor", nil)}},
		{"sessions v2 bad limit", "GET", "/v2/sessions?limit=0", f.tok, nil, 400, []check{validation}},
		{"sessions v2 bad cursor", "GET", "/v2/sessions?cursor=zzz", f.tok, nil, 400, []check{validation}},
		{"sessions active", "GET", "/v2/sessions/active", f.tok, nil, 200, []check{length("sessions", 2)}},
		{"session create no tag", "POST", "/v1/sessions", f.tok, map[string]any{"metadata": "x"}, 400, []check{validation}},
		{"session create bad json", "POST", "/v1/sessions", f.tok, "{", 400, []check{validation}},
		{"session create same tag", "POST", "/v1/sessions", f.tok, map[string]any{"tag": "fixture-0", "metadata": "other"}, 200, []check{field("session.id", f.sid), field("session.metadata", "bWV0YQ==")}},
		{"session get", "GET", "/v1/sessions/" + f.sid, f.tok, nil, 200, []check{field("session.id", f.sid), field("session.active", true), field("session.lastMessage", nil)}},
		{"session get other user", "GET", "/v1/sessions/" + f.sid, f.other, nil, 404, []check{field("error", "Session not found")}},
		{"session get missing", "GET", "/v1/sessions/0123", f.tok, nil, 404, []check{field("error", "Session not found")}},
		{"session delete missing", "DELETE", "/v1/sessions/0123", f.tok, nil, 404, []check{field("error", "Session not found")}},
		{"session state", "GET", "/v1/sessions/" + f.sid + "/state", f.tok, nil, 200, []check{field("sessionId", f.sid), field("state", "active"), field("stoppedAt", nil)}},
		{"session archive bad reason", "POST", "/v1/sessions/" + f.sid2 + "/archive", f.tok, map[string]any{"reason": "bored"}, 400, []check{validation}},
		{"message post", "POST", "/v1/sessions/" + f.sid + "/messages", f.tok, map[string]any{"content": map[string]any{"t": "x"}}, 200, []check{field("message.seq", 2), field("message.content.t", "x"), field("message.localId", nil)}},
		{"message post duplicate localId", "POST", "/v1/sessions/" + f.sid + "/messages", f.tok, map[string]any{"localId": "l1", "content": map[string]any{"t": "y"}}, 200, []check{field("message.seq", 1)}},
		{"message post no content", "POST", "/v1/sessions/" + f.sid + "/messages", f.tok, map[string]any{"localId": "z"}, 400, []check{validation}},
		{"message post missing session", "POST", "/v1/sessions/0123/messages", f.tok, map[string]any{"content": 1}, 404, []check{field("error", "Session not found")}},
		{"messages list", "GET", "/v1/sessions/" + f.sid + "/messages?limit=1", f.tok, nil, 200, []check{length("messages", 1), field("messages.0.content", `{"c":"aGk=","t":"encrypted"}`), field("nextCursor", "cursor_v1_1")}},
		{"messages list bad limit", "GET", "/v1/sessions/" + f.sid + "/messages?limit=x", f.tok, nil, 400, []check{validation}},
		{"machines list", "GET", "/v1/machines", f.tok, nil, 200, []check{length("machines", 1), field("machines.0.id", "m1")}},
		{"machine get", "GET", "/v1/machines/m1", f.tok, nil, 200, []check{field("machine.metadata", "bQ==")}},
		{"machine get missing", "GET", "/v1/machines/zz", f.tok, nil, 404, []check{field("error", "Machine not found")}},
		{"machine register no id", "POST", "/v1/machines", f.tok, map[string]any{"metadata": "x"}, 400, []check{validation}},
		{"machine status", "PUT", "/v1/machines/m1/status", f.tok, map[string]any{"active": false}, 200, []check{field("machine.active", false)}},
		{"machine status empty", "PUT", "/v1/machines/m1/status", f.tok, map[string]any{}, 400, []check{validation}},
		{"machine status missing", "PUT", "/v1/machines/zz/status", f.tok, map[string]any{"active": true}, 404, nil},
		{"artifacts list", "GET", "/v1/artifacts", f.tok, nil, 200, []check{length("artifacts", 1), field("artifacts.0.body", nil)}},
		{"artifact get", "GET", "/v1/artifacts/a1", f.tok, nil, 200, []check{field("artifact.body", "Yg=="), field("artifact.bodyVersion", 1)}},
		{"artifact get missing", "GET", "/v1/artifacts/zz", f.tok, nil, 404, []check{field("error", "Artifact not found")}},
		{"artifact create duplicate", "POST", "/v1/artifacts", f.tok, map[string]any{"id": "a1", "header": "aA==", "body": "Yg==", "dataEncryptionKey": "aw=="}, 409, nil},
		{"artifact create not base64", "POST", "/v1/artifacts", f.tok, map[string]any{"id": "a2", "header": "!!", "body": "Yg==", "dataEncryptionKey": "aw=="}, 400, []check{validation}},
		{"artifact update stale", "POST", "/v1/artifacts/a1", f.tok, map[string]any{"body": "Yw==", "expectedBodyVersion": 7}, 200, []check{field("success", false), field("error", "version-mismatch"), field("currentBodyVersion", 1)}},
		{"artifact delete missing", "DELETE", "/v1/artifacts/zz", f.tok, nil, 404, nil},
		{"account", "GET", "/v1/account", f.tok, nil, 200, []check{field("firstName", nil), length("connectedServices", 0)}},
		{"account bad username", "PUT", "/v1/account", f.tok, map[string]any{"username": "a b"}, 400, []check{validation}},
		{"preferences", "GET", "/v1/account/preferences", f.tok, nil, 200, []check{field("settings", nil), field("settingsVersion", 0)}},
		{"settings alias", "GET", "/v1/account/settings", f.tok, nil, 200, []check{field("settingsVersion", 0)}},
		{"preferences stale", "PUT", "/v1/account/preferences", f.tok, map[string]any{"settings": "x", "expectedVersion": 3}, 200, []check{field("success", false), field("currentVersion", 0)}},
		{"preferences invalid", "PUT", "/v1/account/preferences", f.tok, map[string]any{"settings": 5}, 400, []check{validation}},
		{"kv list", "GET", "/v1/kv?limit=10", f.tok, nil, 200, []check{length("items", 1), field("items.0.version", 1)}},
		{"kv get", "GET", "/v1/kv/k1", f.tok, nil, 200, []check{field("value", "djE="), field("version", 1)}},
		{"kv get missing", "GET", "/v1/kv/zz", f.tok, nil, 404, []check{field("error", "Key not found")}},
		{"kv bulk", "POST", "/v1/kv/bulk", f.tok, map[string]any{"keys": []string{"k1", "zz"}}, 200, []check{length("values", 1)}},
		{"kv mutate empty", "POST", "/v1/kv", f.tok, map[string]any{"mutations": []any{}}, 400, []check{validation}},
		{"feed", "GET", "/v1/feed?limit=1", f.tok, nil, 200, []check{length("items", 1), field("hasMore", true), field("items.0.body.type", "machine-registered")}},
		{"feed bad limit", "GET", "/v1/feed?limit=1000", f.tok, nil, 400, []check{validation}},
		{"version current", "POST", "/v1/version", "", map[string]any{"platform": "ios", "version": "1.4.0", "app_id": "com.ex.happy"}, 200, []check{field("updateUrl", nil)}},
		{"version old", "POST", "/v1/version", "", map[string]any{"platform": "ios", "version": "0.9.1", "app_id": "com.ex.happy"}, 200, []check{field("updateUrl", "https://happy.engineering/update?platform=ios")}},
		{"version missing field", "POST", "/v1/version", "", map[string]any{"platform": "ios"}, 400, []check{validation}},
		{"ticket", "POST", "/v1/websocket/ticket", f.tok, nil, 200, []check{func(t *testing.T, r reply) {
			if s, _ := r.body["ticket"].(string); !strings.Contains(s, ".") {
				t.Errorf("ticket %q", s)
			}
		}}},
		{"ticket no auth", "POST", "/v1/websocket/ticket", "", nil, 401, nil},
		{"ws stats", "GET", "/v1/websocket/stats", f.tok, nil, 200, []check{field("totalConnections", 0), field("byType.session-scoped", 0)}},
		{"ws broadcast", "POST", "/v1/websocket/broadcast", f.tok, map[string]any{"message": map[string]any{"type": "hello", "payload": 1}}, 200, []check{field("success", true), field("delivered", 0)}},
		{"ws broadcast bad filter", "POST", "/v1/websocket/broadcast", f.tok, map[string]any{"message": map[string]any{"type": "x"}, "filter": map[string]any{"type": "session"}}, 400, []check{validation}},
		{"ws broadcast no type", "POST", "/v1/websocket/broadcast", f.tok, map[string]any{"message": map[string]any{}}, 400, []check{validation}},
		{"updates without upgrade", "GET", "/v1/updates", f.tok, nil, 426, []check{field("error", "Expected WebSocket upgrade")}},
		{"websocket without upgrade", "GET", "/v1/websocket", "", nil, 426, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, f.base, c.method, c.path, c.token, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, h := range []string{"X-Request-ID", "X-Response-Time", "Server-Timing"} {
				if r.header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
			for _, chk := range c.checks {
				chk(t, r)
			}
		})
	}
	if !hex32.MatchString(f.sid) {
		t.Errorf("session id %q is not 32 hex digits", f.sid)
	}
	// Every route answered is counted under its pattern.
	st := f.srv.Stats()
	if st.ByRoute["GET /v1/sessions/{id}"] < 3 || st.ByStatus["GET /v1/sessions/{id}"][404] != 2 || st.ByRoute[RouteUnmatched] != 2 {
		t.Errorf("stats: %v / %v", st.ByRoute, st.ByStatus)
	}
}

func TestSessionLifecycle(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	tok := "anything-goes"
	a := call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "t1", "metadata": "m"})
	b := call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "t1", "metadata": "m"})
	sid := path(a.body, "session.id")
	if sid != path(b.body, "session.id") {
		t.Fatalf("same tag gave two sessions: %v %v", sid, path(b.body, "session.id"))
	}
	if a.header.Get("X-Request-ID") == b.header.Get("X-Request-ID") {
		t.Error("X-Request-ID repeated")
	}
	if other := call(t, base, "POST", "/v1/sessions", "another-token", map[string]any{"tag": "t1", "metadata": "m"}); path(other.body, "session.id") == sid {
		t.Error("a different token reached the same user's session")
	}
	p := "/v1/sessions/" + sid.(string)
	if r := call(t, base, "POST", p+"/archive", tok, nil); r.status != 200 || r.body["sessionId"] != sid {
		t.Fatalf("archive: %d %s", r.status, r.raw)
	}
	if r := call(t, base, "GET", p+"/state", tok, nil); r.body["state"] != "archived" || r.body["stoppedReason"] != "manual" {
		t.Errorf("state after archive: %s", r.raw)
	}
	if r := call(t, base, "DELETE", p, tok, nil); r.status != 200 || r.body["success"] != true {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := call(t, base, "GET", p, tok, nil); r.status != 404 {
		t.Errorf("get after delete: %d", r.status)
	}
	// The tag is free again: a new session, a new id.
	c := call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "t1", "metadata": "m"})
	if path(c.body, "session.id") == sid {
		t.Error("deleted session came back")
	}
}

func TestSessionsPagination(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	want := map[string]bool{}
	for i := range 7 {
		r := call(t, base, "POST", "/v1/sessions", "u", map[string]any{"tag": fmt.Sprint(i), "metadata": ""})
		want[path(r.body, "session.id").(string)] = true
	}
	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		q := "/v2/sessions?limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := call(t, base, "GET", q, "u", nil)
		pages++
		for _, s := range r.body["sessions"].([]any) {
			id := s.(map[string]any)["id"].(string)
			if got[id] {
				t.Fatalf("session %s on two pages", id)
			}
			got[id] = true
		}
		next, _ := r.body["nextCursor"].(string)
		if next == "" || pages > 10 {
			break
		}
		cursor = next
	}
	if pages != 3 || len(got) != len(want) {
		t.Errorf("%d pages, %d of %d sessions", pages, len(got), len(want))
	}
}

func TestKVVersions(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	mut := func(key string, value any, version int) map[string]any {
		return map[string]any{"mutations": []any{map[string]any{"key": key, "value": value, "version": version}}}
	}
	steps := []struct {
		name    string
		body    any
		status  int
		version any // results.0.version or errors.0.version
	}{
		{"create", mut("a", "MQ==", -1), 200, 1},
		{"create again conflicts", mut("a", "Mg==", -1), 409, 1},
		{"update at current", mut("a", "Mg==", 1), 200, 2},
		{"update stale", mut("a", "Mw==", 1), 409, 2},
		{"update unknown key at 0", mut("b", "Mw==", 0), 200, 1},
		{"delete", mut("a", nil, 2), 200, 3},
		{"recreate deleted", mut("a", "NA==", -1), 200, 4},
		{"not base64", mut("c", "***", -1), 400, nil},
		{"batch with one conflict applies nothing", map[string]any{"mutations": []any{
			map[string]any{"key": "new", "value": "MQ==", "version": -1},
			map[string]any{"key": "b", "value": "MQ==", "version": 9},
		}}, 409, nil},
	}
	for _, s := range steps {
		r := call(t, base, "POST", "/v1/kv", "u", s.body)
		if r.status != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, r.status, s.status, r.raw)
		}
		if s.version == nil {
			continue
		}
		got := path(r.body, "results.0.version")
		if r.status == 409 {
			got = path(r.body, "errors.0.version")
			if path(r.body, "errors.0.error") != "version-mismatch" || r.body["success"] != false {
				t.Errorf("%s: conflict body %s", s.name, r.raw)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(s.version) {
			t.Errorf("%s: version %v, want %v (%s)", s.name, got, s.version, r.raw)
		}
	}
	if r := call(t, base, "GET", "/v1/kv/new", "u", nil); r.status != 404 {
		t.Errorf("a rejected batch wrote a key: %d", r.status)
	}
	if r := call(t, base, "GET", "/v1/kv/a", "u", nil); r.body["value"] != "NA==" || fmt.Sprint(r.body["version"]) != "4" {
		t.Errorf("kv a = %s", r.raw)
	}
}

func TestArtifactAndPreferenceVersions(t *testing.T) {
	_, base := newTest(t, Config{AnyToken: true})
	call(t, base, "POST", "/v1/artifacts", "u", map[string]any{"id": "a", "header": "aA==", "body": "Yg==", "dataEncryptionKey": "aw=="})
	r := call(t, base, "POST", "/v1/artifacts/a", "u", map[string]any{"header": "aDI=", "expectedHeaderVersion": 1, "body": "YjI=", "expectedBodyVersion": 1})
	if r.body["success"] != true || fmt.Sprint(r.body["headerVersion"], r.body["bodyVersion"]) != "2 2" {
		t.Fatalf("update: %s", r.raw)
	}
	if r := call(t, base, "GET", "/v1/artifacts/a", "u", nil); path(r.body, "artifact.body") != "YjI=" {
		t.Errorf("after update: %s", r.raw)
	}
	if r := call(t, base, "DELETE", "/v1/artifacts/a", "u", nil); r.status != 200 {
		t.Errorf("delete: %d", r.status)
	}
	if r := call(t, base, "GET", "/v1/artifacts", "u", nil); len(r.body["artifacts"].([]any)) != 0 {
		t.Errorf("list after delete: %s", r.raw)
	}
	for i, want := range []any{true, false} {
		r := call(t, base, "PUT", "/v1/account/preferences", "u", map[string]any{"settings": "s", "expectedVersion": 0})
		if r.body["success"] != want {
			t.Errorf("preferences put %d: %s", i, r.raw)
		}
	}
	if r := call(t, base, "PUT", "/v1/account", "u", map[string]any{"username": "alice"}); path(r.body, "profile.username") != "alice" {
		t.Errorf("username: %s", r.raw)
	}
	if r := call(t, base, "PUT", "/v1/account", "v", map[string]any{"username": "Alice"}); r.status != 409 || r.body["error"] != "username-taken" {
		t.Errorf("taken username: %d %s", r.status, r.raw)
	}
}

func TestAuth(t *testing.T) {
	var skew atomic.Int64 // added to the fixed clock
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(skew.Load())) }
	srv, base := newTest(t, Config{Now: now, SigningKey: []byte("k1")})
	good := authBody(key("alice"), "c1")
	bad := authBody(key("alice"), "c1")
	bad["signature"] = authBody(key("alice"), "c2")["signature"]
	short := authBody(key("alice"), "c1")
	short["publicKey"] = "AAAA"

	cases := []struct {
		name   string
		body   any
		status int
		err    string
	}{
		{"valid", good, 200, ""},
		{"signature of another challenge", bad, 401, "Invalid signature"},
		{"short key", short, 400, "publicKey must be a 32-byte Ed25519 key"},
		{"missing fields", map[string]any{"publicKey": "x"}, 400, "publicKey, challenge and signature are required"},
		{"not base64", map[string]any{"publicKey": "!", "challenge": "!", "signature": "!"}, 400, "publicKey, challenge and signature must be base64"},
	}
	var tok string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, base, "POST", "/v1/auth", "", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.raw)
			}
			if c.err != "" && r.body["error"] != c.err {
				t.Errorf("error %v, want %q", r.body["error"], c.err)
			}
			if c.status == 200 {
				tok = r.body["token"].(string)
				if r.body["success"] != true || strings.Count(tok, ".") != 2 {
					t.Errorf("auth body %s", r.raw)
				}
			}
		})
	}
	if r := call(t, base, "GET", "/v1/account", tok, nil); r.status != 200 {
		t.Fatalf("issued token refused: %d %s", r.status, r.raw)
	}
	// The same key is the same account.
	tok2 := call(t, base, "POST", "/v1/auth", "", authBody(key("alice"), "c9")).body["token"].(string)
	a1 := call(t, base, "GET", "/v1/account", tok, nil).body["id"]
	if a2 := call(t, base, "GET", "/v1/account", tok2, nil).body["id"]; a1 != a2 {
		t.Errorf("one key, two accounts: %v %v", a1, a2)
	}

	t.Run("rate limit per key", func(t *testing.T) {
		// Three attempts so far for alice (valid, bad signature, second
		// login); malformed bodies are refused before they count.
		var last reply
		for range 3 {
			last = call(t, base, "POST", "/v1/auth", "", good)
		}
		if last.status != 429 || last.header.Get("Retry-After") == "" || last.body["error"] != "Rate limit exceeded" {
			t.Errorf("sixth login: %d %s", last.status, last.raw)
		}
		if r := call(t, base, "POST", "/v1/auth", "", authBody(key("bob"), "c")); r.status != 200 {
			t.Errorf("another key limited too: %d", r.status)
		}
	})

	t.Run("token from another server key", func(t *testing.T) {
		_, base2 := newTest(t, Config{SigningKey: []byte("k2"), Now: now})
		if r := call(t, base2, "GET", "/v1/account", tok, nil); r.status != 401 || r.body["error"] != "Invalid or expired token" {
			t.Errorf("foreign token: %d %s", r.status, r.raw)
		}
		_, base3 := newTest(t, Config{SigningKey: []byte("k1"), Now: now})
		if r := call(t, base3, "GET", "/v1/account", tok, nil); r.status != 200 || r.body["id"] != a1 {
			t.Errorf("same key, same user: %d %s", r.status, r.raw)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		skew.Store(int64(31 * 24 * time.Hour))
		defer skew.Store(0)
		if r := call(t, base, "GET", "/v1/account", tok, nil); r.status != 401 {
			t.Errorf("expired token: %d", r.status)
		}
	})
	_ = srv
}

func TestNotFoundBodyIsJSON(t *testing.T) {
	_, base := newTest(t, Config{})
	r := call(t, base, "GET", "/v1/does/not/exist?x=1", "", nil)
	var v map[string]string
	if err := json.Unmarshal(r.raw, &v); err != nil || v["error"] != "Not found: /v1/does/not/exist" || r.status != http.StatusNotFound {
		t.Errorf("%d %s", r.status, r.raw)
	}
}

// TestAnyTokenKeepsRecordedUsers: a permissive server maps tokens and
// tickets issued by another server to the users they name, so a recorded
// user's HTTP requests and WebSocket connections meet on replay.
func TestAnyTokenKeepsRecordedUsers(t *testing.T) {
	_, recBase := newTest(t, Config{})
	tok := login(t, recBase, "alice")
	ticket := call(t, recBase, "POST", "/v1/websocket/ticket", tok, nil).body["ticket"].(string)
	userID := call(t, recBase, "GET", "/v1/account", tok, nil).body["id"]

	_, base := newTest(t, Config{AnyToken: true, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if id := call(t, base, "GET", "/v1/account", tok, nil).body["id"]; id != userID {
		t.Errorf("recorded JWT maps to %v, want %v", id, userID)
	}
	c := mustDial(t, base, "/v1/updates?ticket="+url.QueryEscape(ticket))
	call(t, base, "POST", "/v1/sessions", tok, map[string]any{"tag": "x", "metadata": ""})
	if m := next(t, c); path(m, "payload.body.t") != "new-session" {
		t.Errorf("socket opened with the recorded ticket got %v", m)
	}
	if id := call(t, base, "GET", "/v1/account", "plain", nil).body["id"]; id == userID || id == nil {
		t.Errorf("plain token user %v", id)
	}
}
