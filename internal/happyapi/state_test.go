package happyapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStateCountsWhatExists(t *testing.T) {
	srv, base := newTest(t, Config{AnyToken: true})
	if st := srv.State(); st != (State{}) {
		t.Fatalf("fresh server state %+v", st)
	}
	must := func(r reply) reply {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		return r
	}
	var ids []string
	for _, tag := range []string{"a", "b", "c"} {
		r := must(call(t, base, "POST", "/v1/sessions", "alice", map[string]any{"tag": tag, "metadata": "bWV0YQ=="}))
		ids = append(ids, path(r.body, "session.id").(string))
	}
	must(call(t, base, "POST", "/v1/sessions/"+ids[0]+"/messages", "alice", map[string]any{"content": map[string]any{"t": "x"}}))
	must(call(t, base, "POST", "/v1/sessions", "bob", map[string]any{"tag": "a", "metadata": "bWV0YQ=="}))
	must(call(t, base, "POST", "/v1/machines", "bob", map[string]any{"id": "m1", "metadata": "bWV0YQ=="}))
	for _, id := range []string{"art1", "art2"} {
		must(call(t, base, "POST", "/v1/artifacts", "alice", map[string]any{"id": id, "header": "aA==", "body": "Yg==", "dataEncryptionKey": "ZA=="}))
	}
	must(call(t, base, "POST", "/v1/kv", "alice", map[string]any{"mutations": []any{
		map[string]any{"key": "k1", "value": "MQ==", "version": -1},
		map[string]any{"key": "k2", "value": "Mg==", "version": -1},
	}}))
	c := mustDial(t, base, "/v1/updates?token=alice")

	want := State{Users: 2, Sessions: 4, Messages: 1, Machines: 1, Artifacts: 2, KVKeys: 2, WebSockets: 1}
	got := srv.State()
	got.PeakActive = 0 // load figures are checked elsewhere
	if got != want {
		t.Errorf("after creates: %+v\nwant %+v", got, want)
	}

	// Deletes take things away again.
	must(call(t, base, "DELETE", "/v1/sessions/"+ids[1], "alice", nil))
	must(call(t, base, "DELETE", "/v1/artifacts/art1", "alice", nil))
	must(call(t, base, "POST", "/v1/kv", "alice", map[string]any{"mutations": []any{map[string]any{"key": "k1", "value": nil, "version": 1}}}))
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for srv.State().WebSockets != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	want = State{Users: 2, Sessions: 3, Messages: 1, Machines: 1, Artifacts: 1, KVKeys: 1}
	got = srv.State()
	got.PeakActive = 0
	if got != want {
		t.Errorf("after deletes: %+v\nwant %+v", got, want)
	}
}

func TestStatePathAndConnections(t *testing.T) {
	srv, err := New(Config{AnyToken: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-srv.Done() }()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	base := srv.URL()

	// Three clients, one keep-alive connection each, all open at once.
	var clients []*http.Client
	for range 3 {
		c := &http.Client{Transport: &http.Transport{}}
		clients = append(clients, c)
		resp, err := c.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	call(t, base, "POST", "/v1/sessions", "alice", map[string]any{"tag": "a", "metadata": "bWV0YQ=="})
	before := srv.Stats().Requests

	resp, err := http.Get(base + StatePath)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" || st.Sessions != 1 || st.Users != 1 {
		t.Errorf("state answer %v: %+v", resp.Header, st)
	}
	// Three kept-alive clients, the default client's own connection and
	// the one the state request used (the same, when kept alive).
	if st.Conns < 4 || st.PeakConns < st.Conns {
		t.Errorf("conns %d peak %d, want at least 4 open", st.Conns, st.PeakConns)
	}
	if srv.Stats().Requests != before {
		t.Error("the state request was counted as API traffic")
	}

	for _, c := range clients {
		c.CloseIdleConnections()
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for srv.State().Conns != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := srv.State(); st.Conns != 0 || st.PeakConns < 4 {
		t.Errorf("after the clients closed: %d open, peak %d", st.Conns, st.PeakConns)
	}
}

func TestStatePathLoopbackOnly(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		remote, method string
		status         int
	}{
		{"127.0.0.1:5000", "GET", 200},
		{"[::1]:5000", "GET", 200},
		{"192.0.2.7:5000", "GET", 404},
		{"10.0.0.1:5000", "GET", 404},
		{"127.0.0.1:5000", "POST", 405},
	} {
		req := httptest.NewRequest(tt.method, StatePath, nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s %s from %s: %d, want %d", tt.method, StatePath, tt.remote, rec.Code, tt.status)
		}
	}
}
