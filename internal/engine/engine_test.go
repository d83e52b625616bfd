package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

type collected struct {
	mu  sync.Mutex
	all []traffic.Result
}

func (c *collected) add(r traffic.Result) {
	c.mu.Lock()
	c.all = append(c.all, r)
	c.mu.Unlock()
}

// holdingServer holds every request but those for quick until the test
// ends (or the client gives up).
func holdingServer(t *testing.T, quick string) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if quick != "" && r.URL.Path == quick {
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

func (c *collected) byKind(k traffic.ResultKind) []traffic.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []traffic.Result
	for _, r := range c.all {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

func exchange(flow string, at time.Duration, method, path string, status int) traffic.Record {
	return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
		Flow: flow, Start: at,
		Request:  traffic.Request{Method: method, URL: path, Header: traffic.Fields{{Name: "Authorization", Value: "Bearer recorded"}, {Name: "X-Seq", Value: path}}},
		Response: &traffic.Response{Status: status},
		Timing:   traffic.Timing{Total: time.Millisecond},
	}}
}

func runRecords(t *testing.T, cfg Config, recs []traffic.Record, speed float64) (Stats, *collected) {
	t.Helper()
	s, err := schedule.New(traffic.SliceSource(recs), schedule.Options{Speed: speed})
	if err != nil {
		t.Fatal(err)
	}
	col := &collected{}
	cfg.Results = col.add
	st, err := Run(context.Background(), cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scheduled != st.Results {
		t.Fatalf("accounting: scheduled %d, results %d", st.Scheduled, st.Results)
	}
	return st, col
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// The replay delivers every request, in recorded order per flow, on the
// compressed clock.
func TestReplayOrderAndSpeed(t *testing.T) {
	var mu sync.Mutex
	arrivals := map[string][]string{}
	start := time.Now()
	var last time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		flow := r.URL.Query().Get("flow")
		arrivals[flow] = append(arrivals[flow], r.URL.Query().Get("n"))
		last = time.Since(start)
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer srv.Close()

	var recs []traffic.Record
	for i := 0; i < 300; i++ {
		flow := fmt.Sprintf("f%d", i%6)
		// Flows interleave; within a flow requests are 60 ms apart.
		at := time.Duration(i) * 10 * time.Millisecond
		recs = append(recs, exchange(flow, at, "GET", fmt.Sprintf("/x?flow=%s&n=%03d", flow, i), 200))
	}
	start = time.Now()
	// Every request of a flow waits for its predecessor's answer, as the
	// recording shows: order at the server is then certain, whatever the
	// machine's load.
	st, col := runRecords(t, Config{Target: mustURL(srv.URL), WaitForAnswers: true}, recs, 10)
	if got := len(col.byKind(traffic.ResultHTTP)); got != 300 {
		t.Fatalf("%d results", got)
	}
	total := 0
	for flow, ns := range arrivals {
		total += len(ns)
		if !sort.StringsAreSorted(ns) {
			t.Errorf("flow %s out of order: %v", flow, ns)
		}
	}
	if total != 300 {
		t.Fatalf("server saw %d requests", total)
	}
	// 2.99 s recorded at 10x: the last request is due at 299 ms.
	if last < 290*time.Millisecond || last > 600*time.Millisecond {
		t.Errorf("last request arrived at %v, want about 299ms", last)
	}
	if st.LastIntended != 299*time.Millisecond {
		t.Errorf("last intended %v", st.LastIntended)
	}
	for _, r := range col.byKind(traffic.ResultHTTP) {
		if r.Status != 200 || r.Error != "" || r.Expected != 200 || r.Latency < r.Service {
			t.Fatalf("bad result %+v", r)
		}
	}
}

func TestUnreachableTargetIsCounted(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var recs []traffic.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, exchange("a", time.Duration(i)*time.Millisecond, "GET", "/", 200))
	}
	st, col := runRecords(t, Config{Target: mustURL("http://" + addr)}, recs, 1)
	for _, r := range col.byKind(traffic.ResultHTTP) {
		if r.Error != ErrRefused || !r.Failed() {
			t.Fatalf("result %+v, want refused", r)
		}
	}
	if st.Scheduled != 20 {
		t.Fatalf("scheduled %d", st.Scheduled)
	}
}

// A target that holds requests fills the in-flight bound: later requests
// are counted as not sent, and the run still ends on time.
func TestInFlightLimitNotSent(t *testing.T) {
	srv := holdingServer(t, "")
	var recs []traffic.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, exchange(fmt.Sprint("f", i), time.Duration(i)*time.Millisecond, "GET", "/", 200))
	}
	began := time.Now()
	_, col := runRecords(t, Config{Target: mustURL(srv.URL), MaxInFlight: 2, MaxLag: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}, recs, 1)
	if el := time.Since(began); el > 3*time.Second {
		t.Fatalf("run took %v", el)
	}
	var timeouts, notSent int
	for _, r := range col.byKind(traffic.ResultHTTP) {
		switch {
		case r.Error == ErrTimeout:
			timeouts++
		case r.NotSent == traffic.NotSentInFlight:
			notSent++
		default:
			t.Errorf("unexpected %+v", r)
		}
	}
	if timeouts != 2 || notSent != 8 {
		t.Fatalf("timeouts %d, not sent %d; want 2 and 8", timeouts, notSent)
	}
}

func TestRewritesAuthAndHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	cfg := Config{Target: mustURL(srv.URL), AuthToken: "live-token",
		SetHeaders: traffic.Fields{{Name: "X-Env", Value: "staging"}}, DropHeaders: []string{"x-seq"}}
	rec := exchange("a", 0, "GET", "/v1/sessions", 200)
	rec.Exchange.Request.Host = "recorded.example:8787"
	rec.Exchange.Request.Header = append(rec.Exchange.Request.Header,
		traffic.Field{Name: "Origin", Value: "http://recorded.example:8787"},
		traffic.Field{Name: "Referer", Value: "http://recorded.example:8787/app?x=1"})
	runRecords(t, cfg, []traffic.Record{rec}, 1)
	h := <-got
	if h.Get("Authorization") != "Bearer live-token" || h.Get("X-Env") != "staging" || h.Get("X-Seq") != "" {
		t.Fatalf("headers %v", h)
	}
	if h.Get("Origin") != srv.URL || h.Get("Referer") != srv.URL+"/app?x=1" {
		t.Fatalf("origin %q referer %q, want the target's", h.Get("Origin"), h.Get("Referer"))
	}
}

func TestWebSocketReplay(t *testing.T) {
	up := websocket.Upgrader{}
	var mu sync.Mutex
	var gotMsgs []string
	var gotToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotToken = r.URL.Query().Get("token")
		mu.Unlock()
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`{"event":"connected"}`))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			mu.Lock()
			gotMsgs = append(gotMsgs, string(msg))
			mu.Unlock()
			if strings.Contains(string(msg), "ackId") {
				c.WriteMessage(websocket.TextMessage, []byte(`{"type":"rpc-response","ackId":"a1"}`))
			}
		}
	}))
	defer srv.Close()
	ms := time.Millisecond
	recs := []traffic.Record{
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 1, Start: 0,
			Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=old&clientType=user-scoped"}, Response: &traffic.Response{Status: 101}}}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 1, Start: 5 * ms, Opcode: traffic.OpText, Payload: []byte(`{"event":"connected"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 1, Start: 20 * ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(`{"event":"ping"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 1, Start: 40 * ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(`{"event":"rpc-call","ackId":"a1"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 1, Start: 45 * ms, Opcode: traffic.OpText, Payload: []byte(`{"ackId":"a1"}`)}},
		{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: 1, Start: 100 * ms, FromClient: true, Code: 1000}},
	}
	st, col := runRecords(t, Config{Target: mustURL(srv.URL), AuthToken: "live", Profile: testProfile{}}, recs, 1)
	if st.Scheduled != 4 {
		t.Fatalf("scheduled %d, want open + 2 sends + close", st.Scheduled)
	}
	sess := col.byKind(traffic.ResultWSSession)
	if len(sess) != 1 {
		t.Fatalf("sessions %v", sess)
	}
	s := sess[0]
	if s.MsgsSent != 2 || s.MsgsReceived != 2 || s.MsgsRecorded != 2 || s.Error != "" {
		t.Fatalf("session %+v", s)
	}
	if rt := col.byKind(traffic.ResultWSRoundTrip); len(rt) != 1 || rt[0].Latency <= 0 {
		t.Fatalf("round trips %+v", rt)
	}
	if c := col.byKind(traffic.ResultWSConnect); len(c) != 1 || c[0].Status != 101 || c[0].Connecting <= 0 {
		t.Fatalf("connect %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotToken != "live" || len(gotMsgs) != 2 {
		t.Fatalf("server saw token %q msgs %v", gotToken, gotMsgs)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Target: mustURL("ftp://x")}, {Target: mustURL("http://x"), Timeout: -1}} {
		if _, err := Run(context.Background(), cfg, nil); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// With WaitForAnswers a request whose predecessor the recorded client
// waited for goes after its answer, however long the target takes (past
// MaxLag): the server never has both at once.
func TestAnsweredOrderHasNoDeadline(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	ms := time.Millisecond
	recs := []traffic.Record{exchange("a", 0, "POST", "/create", 200), exchange("a", 5*ms, "GET", "/read", 200), exchange("a", 10*ms, "GET", "/again", 200)}
	_, col := runRecords(t, Config{Target: mustURL(srv.URL), WaitForAnswers: true, MaxLag: 20 * ms}, recs, 1)
	for _, r := range col.byKind(traffic.ResultHTTP) {
		if r.Status != 200 {
			t.Fatalf("result %+v", r)
		}
	}
	if most != 1 {
		t.Fatalf("the server had %d requests of one sequential client at once", most)
	}
}

// connCounter counts a test server's open connections and their peak.
type connCounter struct {
	mu         sync.Mutex
	open, peak int
}

func (c *connCounter) hook(_ net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateNew:
		c.open++
		c.peak = max(c.peak, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
	}
}

// Connections are bounded as clients bound them: each recorded user of
// each copy keeps at most the connections it opened in the recording, and
// the lane at most MaxConns; a slow target sees requests queue at the
// clients, not a storm of sockets.
func TestConnectionsBounded(t *testing.T) {
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	srv.Config.ConnState = cc.hook
	srv.Start()
	defer srv.Close()
	// Four users, each recorded on two connections, each sending ten
	// requests at once.
	var recs []traffic.Record
	for u := 0; u < 4; u++ {
		for i := 0; i < 10; i++ {
			rec := exchange(fmt.Sprintf("user-%d-req-%d", u, i), time.Duration(i)*time.Microsecond, "GET", "/x", 200)
			rec.Exchange.ConnID = uint64(10*u + i%2 + 1)
			recs = append(recs, rec)
		}
	}
	users := func(flow string) (string, int) { return flow[:6], 2 }
	for _, tc := range []struct {
		name     string
		maxConns int
		want     int
	}{{"per user", 0, 8}, {"lane bound", 3, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			// the connections of the previous case close first
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				cc.mu.Lock()
				open := cc.open
				cc.mu.Unlock()
				if open == 0 {
					break
				}
			}
			cc.mu.Lock()
			cc.peak = 0
			cc.mu.Unlock()
			s, err := schedule.New(traffic.SliceSource(recs), schedule.Options{Analyzer: analysis.NewAnalyzer(analysis.Options{UserOf: users})})
			if err != nil {
				t.Fatal(err)
			}
			col := &collected{}
			st, err := Run(context.Background(), Config{Target: mustURL(srv.URL), MaxConns: tc.maxConns, Results: col.add}, s)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range col.byKind(traffic.ResultHTTP) {
				if r.Status != 200 {
					t.Fatalf("result %+v", r)
				}
			}
			cc.mu.Lock()
			peak := cc.peak
			cc.mu.Unlock()
			// The server learns of a close a moment after the client
			// made it: its count lags.
			if st.PeakConns > int64(tc.want) || peak > 2*tc.want {
				t.Fatalf("lane had %d connections open at once (server saw %d), want at most %d", st.PeakConns, peak, tc.want)
			}
			if peak < 2 {
				t.Fatalf("server saw %d connections: the bound serialised everything", peak)
			}
		})
	}
}
