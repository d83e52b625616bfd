package correlate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

const loadToken = "load-test-token-0001"

// sessionsCorpus writes the Happy team's sessions script as one recorded
// user: create a session with a tag, post a message with a localId, get
// the session, delete it.
func sessionsCorpus(t *testing.T) string {
	t.Helper()
	const sid = "4b641ccab2e95c7c4301ba755f2128e3"
	const local = "a0da9fac-343f-418c-8855-9cf26f903971"
	auth := traffic.Fields{{Name: "Authorization", Value: "Bearer " + loadToken}, {Name: "Content-Type", Value: "application/json"}}
	x := func(ms int, method, target, body, resp string) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "auth:5e55104a", ConnID: 1, Start: time.Duration(ms) * time.Millisecond,
			Request:  traffic.Request{Method: method, URL: target, Header: auth, Body: traffic.Body{Data: []byte(body), Size: int64(len(body))}},
			Response: &traffic.Response{Status: 200, Body: traffic.Body{Data: []byte(resp), Size: int64(len(resp))}},
			Timing:   traffic.Timing{Total: 2 * time.Millisecond},
		}}
	}
	recs := []traffic.Record{
		x(0, "POST", "/v1/sessions", `{"tag":"sessions-script-7","metadata":"bWV0YWRhdGEgb2YgdGhlIHNlc3Npb24="}`,
			`{"session":{"id":"`+sid+`","seq":0,"createdAt":1795717779166,"active":true,"metadata":"bWV0YWRhdGEgb2YgdGhlIHNlc3Npb24="}}`),
		x(100, "POST", "/v1/sessions/"+sid+"/messages", `{"localId":"`+local+`","content":{"t":"encrypted","c":"aGVsbG8gd29ybGQ="}}`,
			`{"message":{"id":"d1feb0fd4fb6d2bf1a818ac2","sessionId":"`+sid+`","localId":"`+local+`","seq":1}}`),
		x(200, "GET", "/v1/sessions/"+sid, ``, `{"session":{"id":"`+sid+`","seq":1}}`),
		x(300, "DELETE", "/v1/sessions/"+sid, ``, `{"success":true}`),
	}
	path := filepath.Join(t.TempDir(), "sessions.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.invalid:8787"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func happyServer(t *testing.T, tokens ...string) (*happyapi.Server, *url.URL) {
	t.Helper()
	srv, err := happyapi.New(happyapi.Config{Tokens: append([]string{loadToken}, tokens...)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return srv, u
}

// sessionsCreated reads the user's feed: one "session-created" item per
// session the server made.
func sessionsCreated(t *testing.T, base *url.URL, token ...string) map[string]bool {
	t.Helper()
	req, _ := http.NewRequest("GET", base.String()+"/v1/feed?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+append(token, loadToken)[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var feed struct {
		Items []struct {
			Body struct{ Type, SessionID string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&feed); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, it := range feed.Items {
		if it.Body.Type == "session-created" {
			ids[it.Body.SessionID] = true
		}
	}
	return ids
}

// --multiply 5 against a Happy server: five users, each creating,
// using and deleting a session of its own; the server made five sessions.
func TestMultiplySessionsFlow(t *testing.T) {
	path := sessionsCorpus(t)
	srv, target := happyServer(t)
	var plan string
	out, err := replay.Run(context.Background(), replay.Options{
		Corpus:   path,
		Load:     schedule.Load{Multiply: 5},
		Schedule: schedule.Options{Stagger: 100 * time.Millisecond},
		Engine:   engine.Config{Target: target},
		Announce: func(p string) { plan = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := out.Snapshot
	if snap.Overall.Requests != 20 || snap.Overall.Failed != 0 || snap.Overall.Statuses[200] != 20 {
		t.Fatalf("requests %d failed %d statuses %v, want 20 all 200", snap.Overall.Requests, snap.Overall.Failed, snap.Overall.Statuses)
	}
	if snap.Meta.Multiply != 5 || snap.Flows != 5 {
		t.Fatalf("multiply %d, flows %d; want 5 and 5", snap.Meta.Multiply, snap.Flows)
	}
	if created := sessionsCreated(t, target); len(created) != 5 {
		t.Fatalf("server created %d sessions, want 5 (one per copy): %v", len(created), created)
	}
	if n := srv.Stats().ByStatus["DELETE /v1/sessions/{id}"][200]; n != 5 {
		t.Fatalf("%d sessions deleted, want 5", n)
	}
	if out.Identities.Events == 0 || out.Links != 15 {
		t.Fatalf("identity rewrites %+v, links %d (want 3 per copy)", out.Identities, out.Links)
	}
	if plan == "" {
		t.Fatal("no load plan announced")
	}
}

// Without per-copy identities the five copies send one tag: the server
// merges them into one user's session, and all but one delete fail.
func TestMultiplyWithoutIdentitiesMerges(t *testing.T) {
	path := sessionsCorpus(t)
	_, target := happyServer(t)
	r, err := corpus.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sched, err := schedule.New(r, schedule.Options{Multiply: 5, Stagger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	statuses := map[string]int{}
	_, err = engine.Run(context.Background(), engine.Config{Target: target, Correlator: correlate.New(), Results: func(res traffic.Result) {
		mu.Lock()
		statuses[fmt.Sprintf("%s %d", res.Endpoint[:3], res.Status)]++
		mu.Unlock()
	}}, sched)
	if err != nil {
		t.Fatal(err)
	}
	if created := sessionsCreated(t, target); len(created) != 1 {
		t.Fatalf("server created %d sessions, want the 1 the merged copies shared", len(created))
	}
	if statuses["DEL 200"] != 1 || statuses["DEL 404"] != 4 {
		t.Fatalf("statuses %v: want one delete to succeed and four to find nothing", statuses)
	}
}

// With a pool of account tokens (--auth-tokens) every copy is a user of
// its own account on the server.
func TestMultiplyWithAccountTokens(t *testing.T) {
	path := sessionsCorpus(t)
	pool := []string{"account-token-a1", "account-token-b2", "account-token-c3"}
	_, target := happyServer(t, pool...)
	out, err := replay.Run(context.Background(), replay.Options{
		Corpus:     path,
		Load:       schedule.Load{Multiply: 3},
		Schedule:   schedule.Options{Stagger: 100 * time.Millisecond},
		Engine:     engine.Config{Target: target},
		AuthTokens: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Snapshot.Overall.Failed != 0 || out.Snapshot.Overall.Requests != 12 || out.Identities.Accounts != 3 {
		t.Fatalf("failed %d of %d, accounts %d", out.Snapshot.Overall.Failed, out.Snapshot.Overall.Requests, out.Identities.Accounts)
	}
	for _, tok := range pool {
		if n := len(sessionsCreated(t, target, tok)); n != 1 {
			t.Fatalf("account %s made %d sessions, want 1", tok, n)
		}
	}
	if n := len(sessionsCreated(t, target)); n != 0 {
		t.Fatalf("the recorded token's account made %d sessions, want none", n)
	}
}
