package analysis

import (
	"slices"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func userFlowRecord(flow string, conn uint64, at time.Duration, method, target, reqBody, respBody string, auth string) traffic.Record {
	rec := exchange(method, target, reqBody, 200, respBody)
	x := rec.Exchange
	x.Flow, x.ConnID, x.Start = flow, conn, at
	if auth != "" {
		x.Request.Header = append(x.Request.Header, traffic.Field{Name: "Authorization", Value: "Bearer " + auth})
	}
	return rec
}

func findUsers(recs []traffic.Record) *Users {
	f := NewUserFinder()
	for _, r := range recs {
		f.AddRecord(r)
	}
	return f.Users()
}

// A login on a pooled connection (no credential yet), the requests that
// carry the token it returned, and a WebSocket authenticated by a ticket
// one of them fetched are one user; another user with its own login stays
// apart, and a value two users' responses both return joins nobody.
func TestUsersPutFlowsTogether(t *testing.T) {
	const tokA, tokB = "<redacted:aaaaaaaa>", "<redacted:bbbbbbbb>"
	const ticket = "tkt-9f8e7d6c5b4a39281706"
	const shared = "org-0123456789abcdef0123"
	ms := time.Millisecond
	recs := []traffic.Record{
		userFlowRecord("conn:1", 1, 0, "POST", "/v1/auth", `{"publicKey":"k"}`, `{"token":"`+tokA+`"}`, ""),
		userFlowRecord("auth:a", 1, 10*ms, "GET", "/v1/account", ``, `{"org":"`+shared+`"}`, tokA),
		userFlowRecord("auth:a", 2, 20*ms, "POST", "/v1/websocket/ticket", ``, `{"ticket":"`+ticket+`"}`, tokA),
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "conn:3", ConnID: 3, Start: 30 * ms,
			Upgrade: traffic.Exchange{ConnID: 3, Request: traffic.Request{Method: "GET", URL: "/v1/updates?ticket=" + ticket}, Response: &traffic.Response{Status: 101}}}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "conn:3", ConnID: 3, Start: 40 * ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(`{}`)}},
		userFlowRecord("conn:4", 4, 50*ms, "POST", "/v1/auth", `{"publicKey":"k2"}`, `{"token":"`+tokB+`"}`, ""),
		userFlowRecord("auth:b", 4, 60*ms, "GET", "/v1/account", ``, `{"org":"`+shared+`"}`, tokB),
		// both users send the org id both got back: it joins no one
		userFlowRecord("auth:a", 2, 70*ms, "GET", "/v1/orgs/"+shared, ``, `{}`, tokA),
		userFlowRecord("auth:b", 4, 80*ms, "GET", "/v1/orgs/"+shared, ``, `{}`, tokB),
	}
	u := findUsers(recs)
	if u.Len() != 2 {
		for _, us := range u.List() {
			t.Logf("user %s: %v", us.ID, us.Flows)
		}
		t.Fatalf("%d users, want 2", u.Len())
	}
	a, b := u.Of("auth:a"), u.Of("auth:b")
	if a.ID != "auth:a" || !slices.Equal(a.Flows, []string{"auth:a", "conn:1", "conn:3"}) || a.Events != 6 {
		t.Errorf("user a: %+v", *a)
	}
	if !slices.Equal(a.Sockets, []uint64{3}) || !slices.Contains(a.Conns, 1) || !slices.Contains(a.Conns, 2) {
		t.Errorf("user a connections %v sockets %v", a.Conns, a.Sockets)
	}
	if b.ID != "auth:b" || !slices.Equal(b.Flows, []string{"auth:b", "conn:4"}) || b.Events != 3 {
		t.Errorf("user b: %+v", *b)
	}
	if u.ID("conn:3") != "auth:a" || u.ID("elsewhere") != "elsewhere" {
		t.Errorf("ids: %q %q", u.ID("conn:3"), u.ID("elsewhere"))
	}
	// Users go whole to a shard.
	for n := 2; n <= 3; n++ {
		for _, us := range u.List() {
			for _, f := range us.Flows {
				if u.Shard(f, n) != u.Shard(us.ID, n) {
					t.Errorf("%d shards: flow %s of %s on shard %d, its user on %d", n, f, us.ID, u.Shard(f, n), u.Shard(us.ID, n))
				}
			}
		}
	}
	if u.Shard("auth:a", 2) == u.Shard("auth:b", 2) {
		t.Error("two users of similar weight on one of two shards")
	}
}

// A browser's login whose answer sets a session cookie, and the requests
// that send the cookie back (a flow of their own: a recorder keys flows by
// the cookie), are one user, whose flows go to one shard.
func TestUsersJoinCookieSession(t *testing.T) {
	const sid = "<redacted:5e55104d>"
	ms := time.Millisecond
	login := userFlowRecord("conn:1", 1, 0, "POST", "/login", `{"user":"ada"}`, ``, "")
	login.Exchange.Response.Header = traffic.Fields{{Name: "Set-Cookie", Value: "sid=" + sid + "; Path=/; HttpOnly"}}
	recs := []traffic.Record{login}
	for i, flow := range []string{"cookie:ada", "cookie:ada", "conn:9"} {
		r := userFlowRecord(flow, uint64(2+i), time.Duration(10+i)*ms, "GET", "/me", ``, `{}`, "")
		if flow != "conn:9" {
			r.Exchange.Request.Header = traffic.Fields{{Name: "Cookie", Value: "_ga=GA1.2.792303348.1499639945; sid=" + sid}}
		}
		recs = append(recs, r)
	}
	u := findUsers(recs)
	if a := u.Of("cookie:ada"); a == nil || !slices.Equal(a.Flows, []string{"conn:1", "cookie:ada"}) {
		t.Fatalf("the cookie's user: %+v", a)
	}
	if u.Len() != 2 {
		t.Errorf("%d users, want 2 (the login with its cookie, and conn:9)", u.Len())
	}
}

// A connection two credentialed flows used (a proxy multiplexing users)
// joins none of them to its credential-less requests.
func TestUsersAmbiguousConnectionJoinsNoOne(t *testing.T) {
	recs := []traffic.Record{
		userFlowRecord("auth:a", 7, 0, "GET", "/v1/a", ``, `{}`, "tok-aaaaaaaaaaaa"),
		userFlowRecord("auth:b", 7, 1, "GET", "/v1/b", ``, `{}`, "tok-bbbbbbbbbbbb"),
		userFlowRecord("conn:7", 7, 2, "GET", "/health", ``, `{}`, ""),
	}
	if u := findUsers(recs); u.Len() != 3 {
		t.Fatalf("%d users, want 3", u.Len())
	}
}

// Shards balance events: six users of 10, 9, 8, 3, 2, 1 events on two
// shards make 17 and 16.
func TestShardsBalanceEvents(t *testing.T) {
	var recs []traffic.Record
	for i, n := range []int{10, 9, 8, 3, 2, 1} {
		flow := string(rune('a'+i)) + "-user"
		for k := 0; k < n; k++ {
			recs = append(recs, userFlowRecord(flow, uint64(100+i), time.Duration(k), "GET", "/x", ``, `{}`, "tok-"+flow+"-000000"))
		}
	}
	u := findUsers(recs)
	load := make([]int64, 2)
	for _, us := range u.List() {
		load[u.Shard(us.ID, 2)] += us.Events
	}
	if load[0]+load[1] != 33 || load[0]-load[1] > 1 || load[1]-load[0] > 1 {
		t.Fatalf("shard loads %v", load)
	}
}
