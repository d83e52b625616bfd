package workload

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
)

func server(t *testing.T, cfg happyapi.Config) (*happyapi.Server, string) {
	t.Helper()
	srv, err := happyapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

// TestMixAndWebSocket runs four users against the in-process server and
// checks the k6 mix proportions, that every request was answered as
// expected, that the server saw exactly what the workload says it sent,
// and that WebSocket traffic of every kind happened.
func TestMixAndWebSocket(t *testing.T) {
	srv, base := server(t, happyapi.Config{})
	rep, err := Run(context.Background(), Config{
		BaseURL:       base,
		Users:         4,
		OpsPerUser:    150,
		Seed:          1,
		ThinkMin:      4 * time.Millisecond,
		ThinkMax:      12 * time.Millisecond,
		WSActionEvery: 60 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if rep.Errors != 0 || rep.Unexpected != 0 || rep.WSFailed != 0 {
		t.Errorf("errors %d, unexpected %d, ws failed %d; statuses %v", rep.Errors, rep.Unexpected, rep.WSFailed, rep.Statuses)
	}
	total := rep.TotalOps()
	if total != 4*150 {
		t.Fatalf("ran %d operations, want 600", total)
	}
	for name, w := range Weights() {
		p := float64(w) / 100
		got := float64(rep.Ops[name]) / float64(total)
		sigma := math.Sqrt(p * (1 - p) / float64(total))
		if math.Abs(got-p) > 4*sigma {
			t.Errorf("%s: %.1f%% of operations, want %d%% (±%.1f%%)", name, got*100, w, 4*sigma*100)
		}
	}
	// The k6 sessions flow ran: creates, message posts, lists, deletes.
	for _, route := range []string{"POST /v1/auth", "POST /v1/sessions", "POST /v1/sessions/{id}/messages", "GET /v1/sessions/{id}/messages", "DELETE /v1/sessions/{id}", "PUT /v1/machines/{id}/status", "POST /v1/artifacts", "POST /v1/kv", "POST /v1/version", "GET /v1/updates", "POST /v1/websocket/ticket", "POST /v1/websocket/broadcast"} {
		if rep.Requests[route] == 0 {
			t.Errorf("no %s", route)
		}
	}
	// The server counted exactly the requests the workload made, route by
	// route (both use the route templates).
	st := srv.Stats()
	if st.Requests != int64(rep.TotalRequests()) {
		t.Errorf("server saw %d requests, workload sent %d", st.Requests, rep.TotalRequests())
	}
	for route, n := range rep.Requests {
		if st.ByRoute[route] != int64(n) {
			t.Errorf("%s: server %d, workload %d", route, st.ByRoute[route], n)
		}
	}
	for _, ct := range []string{"user-scoped", "session-scoped", "machine-scoped"} {
		if rep.WSConnections[ct] < 4 {
			t.Errorf("%d %s connections, want one per user at least", rep.WSConnections[ct], ct)
		}
	}
	if rep.WSSent == 0 || rep.WSAcked == 0 || rep.WSSent != int(st.WSReceived) {
		t.Errorf("ws sent %d (server received %d), acked %d", rep.WSSent, st.WSReceived, rep.WSAcked)
	}
	for _, typ := range []string{"connected", "update", "pong", "rpc-response", "notice"} {
		if rep.WSReceivedByType[typ] == 0 {
			t.Errorf("no %q received over WebSocket: %v", typ, rep.WSReceivedByType)
		}
	}
	// The server notices the last closes just after the client.
	for deadline := time.Now().Add(3 * time.Second); srv.Stats().WSOpen != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if open := srv.Stats().WSOpen; open != 0 {
		t.Errorf("%d WebSocket connections left open", open)
	}
}

func TestDeterministicSequence(t *testing.T) {
	run := func(seed uint64) [][]string {
		_, base := server(t, happyapi.Config{})
		rep, err := Run(context.Background(), Config{BaseURL: base, Users: 3, OpsPerUser: 40, Seed: seed, ThinkMin: 0, ThinkMax: time.Millisecond, NoWebSocket: true, Trace: true})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Trace
	}
	a, b, c := run(5), run(5), run(6)
	eq := func(x, y [][]string) bool {
		return slices.EqualFunc(x, y, func(p, q []string) bool { return slices.Equal(p, q) })
	}
	if !eq(a, b) {
		t.Errorf("same seed, different sequences:\n%v\n%v", a, b)
	}
	if eq(a, c) {
		t.Error("different seeds, same sequence")
	}
	if len(a) != 3 || len(a[0]) != 40 {
		t.Errorf("trace shape %d x %d", len(a), len(a[0]))
	}
}

func TestBounds(t *testing.T) {
	_, base := server(t, happyapi.Config{})
	t.Run("duration", func(t *testing.T) {
		start := time.Now()
		rep, err := Run(context.Background(), Config{BaseURL: base, Users: 2, Duration: 700 * time.Millisecond, ThinkMin: 5 * time.Millisecond, ThinkMax: 20 * time.Millisecond, WSActionEvery: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 4*time.Second {
			t.Errorf("a 700ms run took %v", el)
		}
		if rep.TotalOps() < 10 {
			t.Errorf("only %d operations", rep.TotalOps())
		}
	})
	t.Run("max ops", func(t *testing.T) {
		rep, err := Run(context.Background(), Config{BaseURL: base, Users: 3, MaxOps: 25, ThinkMin: 0, ThinkMax: time.Millisecond, NoWebSocket: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.TotalOps() != 25 {
			t.Errorf("%d operations, want 25", rep.TotalOps())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		rep, err := Run(ctx, Config{BaseURL: base, Users: 2, Duration: time.Hour})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v", err)
		}
		if time.Since(start) > 4*time.Second || rep.Users != 2 {
			t.Errorf("cancelled run took %v, report %+v", time.Since(start), rep)
		}
	})
}

func TestRunFailures(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(base string) Config
		msg  string
	}{
		{"no base url", func(string) Config { return Config{} }, "want http://host:port"},
		{"ftp url", func(string) Config { return Config{BaseURL: "ftp://x"} }, "want http://host:port"},
		{"bad think", func(b string) Config { return Config{BaseURL: b, ThinkMin: time.Second, ThinkMax: time.Millisecond} }, "min <= max"},
		{"negative users", func(b string) Config { return Config{BaseURL: b, Users: -1} }, "users -1"},
		{"static token refused", func(b string) Config { return Config{BaseURL: b, AuthToken: "wrong", OpsPerUser: 1} }, "create home session: status 401"},
		{"not a happy server", func(string) Config {
			ts := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(ts.Close)
			return Config{BaseURL: ts.URL, Users: 1, OpsPerUser: 1}
		}, "log in: status 404"},
	}
	_, base := server(t, happyapi.Config{Tokens: []string{"right"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), c.cfg(base))
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err %v, want %q", err, c.msg)
			}
		})
	}
	t.Run("static token accepted", func(t *testing.T) {
		rep, err := Run(context.Background(), Config{BaseURL: base, AuthToken: "right", Users: 2, OpsPerUser: 5, ThinkMax: time.Millisecond, NoWebSocket: true})
		if err != nil || rep.Requests["POST /v1/auth"] != 0 || rep.Unexpected != 0 {
			t.Errorf("err %v, report %v", err, rep.Requests)
		}
	})
}
