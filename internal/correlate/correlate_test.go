package correlate_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/webtest"
)

// sessionServer issues fresh ids, like the real API: replaying recorded
// ids verbatim would 404.
type sessionServer struct {
	mu       sync.Mutex
	sessions map[string]bool
	tokens   map[string]bool
	fail     bool
}

func (s *sessionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := func() string { b := make([]byte, 16); rand.Read(b); return hex.EncodeToString(b) }
	switch {
	case r.URL.Path == "/v1/auth":
		tok := "tok" + id()
		s.tokens[tok] = true
		json.NewEncoder(w).Encode(map[string]any{"success": true, "token": tok})
		return
	case !s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]:
		w.WriteHeader(401)
		return
	case r.Method == "POST" && r.URL.Path == "/v1/sessions":
		if s.fail {
			w.WriteHeader(500)
			return
		}
		sid := id()
		s.sessions[sid] = true
		json.NewEncoder(w).Encode(map[string]any{"session": map[string]any{"id": sid, "tag": "t1"}})
	default:
		parts := strings.Split(r.URL.Path, "/")
		if len(parts) >= 4 && s.sessions[parts[3]] {
			w.Write([]byte(`{"ok":true}`))
			return
		}
		w.WriteHeader(404)
	}
}

func ex(at time.Duration, method, path, reqBody, respBody string, auth string) traffic.Record {
	x := &traffic.Exchange{Flow: "user", Start: at,
		Request:  traffic.Request{Method: method, URL: path, Body: traffic.Body{Data: []byte(reqBody)}},
		Response: &traffic.Response{Status: 200, Body: traffic.Body{Data: []byte(respBody)}},
		Timing:   traffic.Timing{Total: time.Millisecond},
	}
	if auth != "" {
		x.Request.Header = traffic.Fields{{Name: "Authorization", Value: "Bearer " + auth}}
	}
	return traffic.Record{Kind: traffic.KindExchange, Exchange: x}
}

func TestSessionsFlowGetsLiveIDs(t *testing.T) {
	const tok = "tok0000recorded0000"
	const sid = "0123456789abcdef0123456789abcdef"
	ms := time.Millisecond
	recs := []traffic.Record{
		ex(0, "POST", "/v1/auth", `{"publicKey":"k"}`, `{"success":true,"token":"`+tok+`"}`, ""),
		ex(10*ms, "POST", "/v1/sessions", `{"tag":"t1"}`, `{"session":{"id":"`+sid+`","tag":"t1"}}`, tok),
		ex(20*ms, "POST", "/v1/sessions/"+sid+"/messages", `{"content":"hi","sid":"`+sid+`"}`, `{}`, tok),
		ex(30*ms, "GET", "/v1/sessions/"+sid+"/messages?cursor="+url.QueryEscape(sid), ``, `{}`, tok),
		ex(40*ms, "DELETE", "/v1/sessions/"+sid, ``, `{"success":true}`, tok),
	}
	for _, tc := range []struct {
		name      string
		fail      bool
		wantOK    int
		wantNotOK int
	}{
		{"live ids substituted", false, 5, 0},
		{"failed producer stops dependents", true, 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&sessionServer{sessions: map[string]bool{}, tokens: map[string]bool{}, fail: tc.fail})
			defer srv.Close()
			target, _ := url.Parse(srv.URL)
			sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
			c := correlate.New()
			var mu sync.Mutex
			var ok, notOK int
			var got []traffic.Result
			_, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: c, Results: func(r traffic.Result) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, r)
				if r.Status == 200 {
					ok++
				} else {
					notOK++
				}
			}}, sched)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || notOK != tc.wantNotOK {
				t.Fatalf("ok %d, failed %d; want %d, %d: %+v", ok, notOK, tc.wantOK, tc.wantNotOK, got)
			}
			if tc.fail {
				deps := 0
				for _, r := range got {
					if r.NotSent == traffic.NotSentDependency {
						deps++
					}
				}
				// The create fails with 500; the three session requests
				// depend on it. The auth succeeded.
				if deps != 3 {
					t.Fatalf("%d not sent for a failed dependency, want 3: %+v", deps, got)
				}
			}
		})
	}
}

// Client-made values are not rewired: a tag the client chose stays.
func TestClientValuesStay(t *testing.T) {
	c := correlate.New()
	recs := []traffic.Record{
		ex(0, "POST", "/v1/machines", `{"id":"machine-0001"}`, `{"machine":{"id":"machine-0001"}}`, ""),
		ex(1, "GET", "/v1/machines/machine-0001", ``, `{}`, ""),
	}
	for i, r := range recs {
		p := c.Plan(schedule.Event{Seq: uint64(i), Record: r})
		if p != nil {
			t.Fatalf("record %d planned a dependency on a client-made id", i)
		}
	}
}

// A login whose signature was redacted is skipped; the requests that used
// its (redacted) token go out with the placeholder as their identity.
func TestRedactedLoginSkippedTokenKept(t *testing.T) {
	const ph = "<redacted:1a2b3c4d>"
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	recs := []traffic.Record{
		ex(0, "POST", "/v1/auth", `{"publicKey":"pk","challenge":"c","signature":"<redacted:99999999>"}`, `{"success":true,"token":"`+ph+`"}`, ""),
		ex(time.Millisecond, "GET", "/v1/sessions", ``, `{}`, ph),
	}
	target, _ := url.Parse(srv.URL)
	sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	st, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: correlate.New()}, sched)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped[correlate.SkipRedacted] != 1 || st.Scheduled != 1 {
		t.Fatalf("skipped %v scheduled %d", st.Skipped, st.Scheduled)
	}
	if len(auths) != 1 || auths[0] != "GET /v1/sessions Bearer "+ph {
		t.Fatalf("server saw %q", auths)
	}
}

func TestStandInForStoredSecrets(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ DataEncryptionKey string }
		json.NewDecoder(r.Body).Decode(&body)
		got <- body.DataEncryptionKey
	}))
	defer srv.Close()
	recs := []traffic.Record{ex(0, "POST", "/v1/sessions", `{"tag":"t","dataEncryptionKey":"<redacted:0badc0de>"}`, `{}`, "")}
	target, _ := url.Parse(srv.URL)
	sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	st, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: correlate.New()}, sched)
	if err != nil || st.Scheduled != 1 {
		t.Fatalf("scheduled %d, err %v", st.Scheduled, err)
	}
	key := <-got
	if _, err := base64.StdEncoding.DecodeString(key); err != nil || strings.Contains(key, "redacted") {
		t.Fatalf("server got key %q, want a base64 stand-in", key)
	}
}

// A client's WebSocket message that names a session its HTTP requests
// created (a session-alive event) carries the live id, and waits for it;
// when the create fails, the message is not sent (dependency failed).
func TestWebSocketMessagesGetLiveIDs(t *testing.T) {
	const tok = "tok0000recorded0000"
	const sid = "0123456789abcdef0123456789abcdef"
	ms := time.Millisecond
	alive := `{"event":"session-alive","data":{"sid":"` + sid + `","time":1700000000000}}`
	recs := []traffic.Record{
		ex(0, "POST", "/v1/auth", `{"publicKey":"k"}`, `{"success":true,"token":"`+tok+`"}`, ""),
		ex(10*ms, "POST", "/v1/sessions", `{"tag":"t1"}`, `{"session":{"id":"`+sid+`","tag":"t1"}}`, tok),
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "user", ConnID: 1, Start: 5 * ms,
			Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/ws"}, Response: &traffic.Response{Status: 101}}}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "user", ConnID: 1, Start: 12 * ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(alive)}},
		{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "user", ConnID: 1, Start: 60 * ms, FromClient: true, Code: 1000}},
	}
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "live id", true: "failed create"}[fail], func(t *testing.T) {
			ss := &sessionServer{sessions: map[string]bool{}, tokens: map[string]bool{}, fail: fail}
			var mu sync.Mutex
			var received []string
			up := websocket.Upgrader{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/ws" {
					ss.ServeHTTP(w, r)
					return
				}
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				for {
					_, msg, err := c.ReadMessage()
					if err != nil {
						return
					}
					mu.Lock()
					received = append(received, string(msg))
					mu.Unlock()
				}
			}))
			defer srv.Close()
			target, _ := url.Parse(srv.URL)
			sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
			var sends []traffic.Result
			_, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: correlate.New(), Results: func(r traffic.Result) {
				if r.Kind == traffic.ResultWSSend {
					mu.Lock()
					sends = append(sends, r)
					mu.Unlock()
				}
			}}, sched)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sends) != 1 {
				t.Fatalf("%d ws-send results: %+v", len(sends), sends)
			}
			if fail {
				if sends[0].NotSent != traffic.NotSentDependency || len(received) != 0 {
					t.Fatalf("create failed, yet the message went out (%+v, server got %q)", sends[0], received)
				}
				return
			}
			if len(received) != 1 {
				t.Fatalf("server got %q (send %+v)", received, sends[0])
			}
			var m struct {
				Data struct{ Sid string } `json:"data"`
			}
			json.Unmarshal([]byte(received[0]), &m)
			ss.mu.Lock()
			live := ss.sessions[m.Data.Sid]
			ss.mu.Unlock()
			if m.Data.Sid == sid || !live {
				t.Fatalf("server got sid %q (recorded %q), not the id it issued", m.Data.Sid, sid)
			}
		})
	}
}

// artifactServer makes creates slow: an artifact exists only once its
// POST answered, and unknown ones are 404, as a real server's are.
type artifactServer struct {
	mu   sync.Mutex
	have map[string]bool
	slow time.Duration
	// readDelay holds every GET before it looks (a slow read path);
	// failReads answers every GET 500.
	readDelay time.Duration
	failReads bool
}

func (s *artifactServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/artifacts/")
	switch r.Method {
	case "POST":
		var body struct{ ID string }
		json.NewDecoder(r.Body).Decode(&body)
		time.Sleep(s.slow)
		s.mu.Lock()
		s.have[body.ID] = true
		s.mu.Unlock()
		w.Write([]byte(`{"success":true}`))
	case "GET", "DELETE":
		if r.Method == "GET" {
			time.Sleep(s.readDelay)
			if s.failReads {
				w.WriteHeader(500)
				return
			}
		}
		s.mu.Lock()
		ok := s.have[id]
		if r.Method == "DELETE" {
			delete(s.have, id)
		}
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(404)
			return
		}
		w.Write([]byte(`{"success":true}`))
	}
}

// Two reads of an artifact whose id the client made wait for the
// create's answer, as the recorded client did, however slower than
// the recording the server is (here 20 times, past --max-lag); copies and
// rounds wait for their own create. Without correlation they overtake it
// and find nothing.
func TestClientMadeValuesWaitForTheirCreate(t *testing.T) {
	const id = "6f1c3a52-9d1e-4c0b-8a5e-0b7f3c2d1e4a"
	ms := time.Millisecond
	var recs []traffic.Record
	for i, r := range []struct {
		at     time.Duration
		method string
		path   string
		body   string
	}{{0, "POST", "/v1/artifacts", `{"id":"` + id + `","header":"aGVhZGVy"}`}, {10 * ms, "GET", "/v1/artifacts/" + id, ""}, {20 * ms, "GET", "/v1/artifacts/" + id + "?v=2", ""}} {
		rec := ex(r.at, r.method, r.path, r.body, `{"success":true}`, "tok-0000000000")
		rec.Exchange.Flow = fmt.Sprintf("conn:%d", i) // pooled connections, no flow order
		recs = append(recs, rec)
	}
	for _, tc := range []struct {
		name      string
		correlate bool
		want404   bool
	}{{"waits for the create", true, false}, {"overtakes without correlation", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&artifactServer{have: map[string]bool{}, slow: 200 * ms})
			defer srv.Close()
			target, _ := url.Parse(srv.URL)
			sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{Multiply: 3, Stagger: 5 * ms})
			cfg := engine.Config{Target: target, MaxLag: 50 * ms, Identities: correlate.NewIdentities()}
			if tc.correlate {
				cfg.Correlator = correlate.New()
			}
			var mu sync.Mutex
			statuses := map[int]int{}
			cfg.Results = func(r traffic.Result) {
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}
			if _, err := engine.Run(context.Background(), cfg, sched); err != nil {
				t.Fatal(err)
			}
			if got := statuses[404] > 0; got != tc.want404 || statuses[200]+statuses[404] != 9 {
				t.Fatalf("statuses %v", statuses)
			}
		})
	}
}

// A client that read an artifact and, once answered, deleted it: both
// wait for the slow create, so on a target slower than the recording they
// are free to go at the same moment. The delete waits for the read's
// answer as the recorded client did (without that, the server handles
// the delete first and the read finds nothing), and for both reads,
// which do not wait for each other. A read that failed does not hold the
// delete back: the artifact is still removed.
func TestDeleteWaitsForTheReadsBeforeIt(t *testing.T) {
	const id = "0b8e4f2c-7a1d-4e6b-9c3f-5d2a1e0f9b7c"
	ms := time.Millisecond
	var recs []traffic.Record
	for _, r := range []struct {
		at     time.Duration
		method string
		path   string
		body   string
	}{
		{0, "POST", "/v1/artifacts", `{"id":"` + id + `","header":"aGVhZGVy"}`},
		{10 * ms, "GET", "/v1/artifacts/" + id, ""},
		{10 * ms, "GET", "/v1/artifacts/" + id + "?fields=header", ""},
		{20 * ms, "DELETE", "/v1/artifacts/" + id, ""},
	} {
		recs = append(recs, ex(r.at, r.method, r.path, r.body, `{"success":true}`, "tok-0000000000"))
	}
	const copies = 3
	for _, tc := range []struct {
		name      string
		failReads bool
		want      map[int]int
	}{
		{"reads answered before the delete", false, map[int]int{200: 4 * copies}},
		{"failed reads do not stop the delete", true, map[int]int{200: 2 * copies, 500: 2 * copies}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &artifactServer{have: map[string]bool{}, slow: 100 * ms, readDelay: 80 * ms, failReads: tc.failReads}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			target, _ := url.Parse(hs.URL)
			sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{Multiply: copies, Stagger: 5 * ms})
			corr := correlate.New()
			cfg := engine.Config{Target: target, MaxLag: 50 * ms, Identities: correlate.NewIdentities(), Correlator: corr}
			var mu sync.Mutex
			statuses := map[int]int{}
			cfg.Results = func(r traffic.Result) {
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}
			if _, err := engine.Run(context.Background(), cfg, sched); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(statuses) != fmt.Sprint(tc.want) {
				t.Fatalf("statuses %v, want %v", statuses, tc.want)
			}
			srv.mu.Lock()
			n := len(srv.have)
			srv.mu.Unlock()
			if n != 0 {
				t.Errorf("%d artifacts left behind", n)
			}
			// Each copy's delete follows its two reads; the reads do not
			// follow each other.
			if got := corr.Stats().Orders.Load(); got != 2*copies {
				t.Errorf("%d requests ordered after an earlier use, want %d", got, 2*copies)
			}
		})
	}
}

// A server that compresses its answers with whatever the client accepts:
// correlation reads the live body through its coding, for each coding, and
// the recorded body through its own.
func TestCorrelationReadsEveryCoding(t *testing.T) {
	for _, ce := range []string{"gzip", "deflate", "br", "zstd", "gzip, br"} {
		t.Run(ce, func(t *testing.T) {
			ss := &sessionServer{sessions: map[string]bool{}, tokens: map[string]bool{}}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				ss.ServeHTTP(rec, r)
				body, err := coding.Encode(ce, rec.Body.Bytes())
				if err != nil {
					t.Error(err)
				}
				w.Header().Set("Content-Encoding", ce)
				w.WriteHeader(rec.Code)
				w.Write(body)
			}))
			defer srv.Close()
			const tok = "tok0000recorded0000"
			const sid = "0123456789abcdef0123456789abcdef"
			compressed := func(rec traffic.Record) traffic.Record {
				x := rec.Exchange
				x.Request.Header = append(x.Request.Header, traffic.Field{Name: "Accept-Encoding", Value: ce})
				b, _ := coding.Encode(ce, x.Response.Body.Data)
				x.Response.Header = traffic.Fields{{Name: "Content-Encoding", Value: ce}}
				x.Response.Body = traffic.Body{Data: b, Size: int64(len(b))}
				return rec
			}
			recs := []traffic.Record{
				compressed(ex(0, "POST", "/v1/auth", `{"publicKey":"k"}`, `{"success":true,"token":"`+tok+`"}`, "")),
				compressed(ex(10*time.Millisecond, "POST", "/v1/sessions", `{"tag":"t1"}`, `{"session":{"id":"`+sid+`","tag":"t1"}}`, tok)),
				compressed(ex(20*time.Millisecond, "GET", "/v1/sessions/"+sid, ``, `{}`, tok)),
			}
			target, _ := url.Parse(srv.URL)
			sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
			c := correlate.New()
			var mu sync.Mutex
			statuses := map[int]int{}
			if _, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: c, Results: func(r traffic.Result) {
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}}, sched); err != nil {
				t.Fatal(err)
			}
			if statuses[200] != 3 || c.Stats().Links.Load() < 2 || c.Stats().Misses.Load() != 0 {
				t.Fatalf("statuses %v, links %d, misses %d", statuses, c.Stats().Links.Load(), c.Stats().Misses.Load())
			}
		})
	}
}

// A session used now and then stays linked in a flow whose answers bring
// more values than a flow remembers (maxPerFlow): the values forgotten are
// those nobody used since.
func TestValuesInUseOutliveTheFlowBound(t *testing.T) {
	// 100 feeds of 100 ids each: 10,000 values in one flow.
	recs, uses := sessionBetweenFeeds(100, func(i int) string {
		var items []string
		for j := 0; j < 100; j++ {
			items = append(items, fmt.Sprintf(`"%032x"`, 1<<40+i*100+j))
		}
		return `{"items":[` + strings.Join(items, ",") + `]}`
	})
	checkSessionUses(t, recs, uses, nil)
}

// Values a flow keeps using stay linked however much newer producers
// hold: a login's token and a session created at the start of a long
// recording, used now and then, are not forgotten when what producers
// hold passes the memory bound, while producers nobody used since are.
func TestValuesInUseOutliveTheMemoryBound(t *testing.T) {
	// 160 feeds of 256 KB each returning an id of their own: past the
	// 32 MB the correlator keeps.
	pad := strings.Repeat("x", 256<<10)
	recs, uses := sessionBetweenFeeds(160, func(i int) string {
		return fmt.Sprintf(`{"items":["%032x"],"pad":"%s"}`, 1<<40+i, pad)
	})
	checkSessionUses(t, recs, uses, func(st *correlate.Stats) {
		if st.Forgotten.Load() == 0 {
			t.Fatal("no producer forgotten: the test does not reach the memory bound")
		}
	})
}

// sessionBetweenFeeds is one user's recording: a login, a session created,
// then feeds GET /v1/feed/i answered feed(i), with a use of the session
// after every tenth; uses counts those.
func sessionBetweenFeeds(feeds int, feed func(i int) string) (recs []traffic.Record, uses int) {
	const tok = "tok0000recorded0000"
	const sid = "0123456789abcdef0123456789abcdef"
	ms := time.Millisecond
	recs = []traffic.Record{
		ex(0, "POST", "/v1/auth", `{"publicKey":"k"}`, `{"success":true,"token":"`+tok+`"}`, ""),
		ex(ms, "POST", "/v1/sessions", `{"tag":"t1"}`, `{"session":{"id":"`+sid+`","tag":"t1"}}`, tok),
	}
	at := 2 * ms
	for i := 0; i < feeds; i++ {
		recs = append(recs, ex(at, "GET", fmt.Sprint("/v1/feed/", i), ``, feed(i), tok))
		at += ms
		if i%10 == 9 {
			recs = append(recs, ex(at, "GET", "/v1/sessions/"+sid+"/messages", ``, `{"messages":[]}`, tok))
			at += ms
			uses++
		}
	}
	return recs, uses
}

// checkSessionUses replays recs against a sessionServer with a correlator:
// every use of the session must be answered 200 and no request 401 (the
// login's token forgotten); check, if set, looks at the correlator's stats.
func checkSessionUses(t *testing.T, recs []traffic.Record, uses int, check func(*correlate.Stats)) {
	t.Helper()
	srv := httptest.NewServer(&sessionServer{sessions: map[string]bool{}, tokens: map[string]bool{}})
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	sched, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	c := correlate.New()
	var mu sync.Mutex
	var sessionOK, unauthorized int
	_, err := engine.Run(context.Background(), engine.Config{Target: target, Correlator: c, Results: func(r traffic.Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Status == 401 {
			unauthorized++
		}
		if strings.HasPrefix(r.Endpoint, "GET /v1/sessions/") && r.Status == 200 {
			sessionOK++
		}
	}}, sched)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	t.Logf("session uses answered 200: %d of %d; 401: %d; producers forgotten %d, misses %d", sessionOK, uses, unauthorized, st.Forgotten.Load(), st.Misses.Load())
	if check != nil {
		check(st)
	}
	if sessionOK != uses || unauthorized != 0 {
		t.Errorf("session uses answered 200: %d of %d, and %d requests 401: values still in use were forgotten", sessionOK, uses, unauthorized)
	}
}

// A session kept in a cookie, as browsers keep it: the login's answer
// sets it, the later requests send it back among other cookies. The
// replay sends the cookie the live login set, waiting for that answer as
// the recorded browser did, whether the recording kept the cookie's value
// or a redaction placeholder of it, and though the requests with the
// cookie are another flow than the login's (a recorder keys flows by
// credential).
func TestCookieSessionGetsLiveCookie(t *testing.T) {
	for _, recorded := range []string{"0123456789abcdef0123456789abcdef", "<redacted:1a2b3c4d>"} {
		t.Run(recorded, func(t *testing.T) {
			srv := httptest.NewServer(webtest.CookieApp(50 * time.Millisecond))
			defer srv.Close()
			ms := time.Millisecond
			login := ex(0, "POST", "/login", `{"user":"ada"}`, `{"ok":true}`, "")
			login.Exchange.Response.Header = traffic.Fields{
				{Name: "Set-Cookie", Value: "sid=" + recorded + "; Path=/; HttpOnly"},
				{Name: "Set-Cookie", Value: "theme=dark"},
			}
			recs := []traffic.Record{login}
			for i := 0; i < 5; i++ {
				me := ex(time.Duration(2+i)*ms, "GET", "/me", ``, `{"name":"ada"}`, "")
				me.Exchange.Request.Header = traffic.Fields{{Name: "Cookie", Value: `theme=dark; sid=` + recorded + `; _ga=GA1.2.792303348.1499639945`}}
				// a recorder keys a flow by its credential: the cookie
				me.Exchange.Flow = "cookie:5f3a"
				recs = append(recs, me)
			}
			got := answered(t, srv.URL, recs, schedule.Options{})
			want := []string{"GET /me 200", "GET /me 200", "GET /me 200", "GET /me 200", "GET /me 200", "POST /login 200"}
			if !slices.Equal(got, want) {
				t.Errorf("answered %v, want %v", got, want)
			}
		})
	}
}

// REST in headers: a form's answer carries a CSRF token in a header that
// the create sends back; the create answers 201 with the new resource's
// URL in Location and no body; a read answers its version in ETag, which
// the update sends in If-Match. Each live value is carried in, and every
// request succeeds; sent as recorded, the create is refused (403), the
// read does not find the resource and the update fails its precondition.
func TestHeaderValuesGetLiveValues(t *testing.T) {
	var mu sync.Mutex
	tokens, etags := map[string]bool{}, map[string]string{}
	rnd := func() string { b := make([]byte, 12); rand.Read(b); return hex.EncodeToString(b) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := strings.TrimPrefix(r.URL.Path, "/items/")
		switch {
		case r.URL.Path == "/form":
			tok := rnd()
			tokens[tok] = true
			w.Header().Set("X-CSRF-Token", tok)
		case r.Method == "POST" && r.URL.Path == "/items":
			if !tokens[r.Header.Get("X-CSRF-Token")] {
				w.WriteHeader(403)
				return
			}
			id := "item" + rnd()
			etags[id] = rnd()
			w.Header().Set("Location", "/items/"+id+"?rev=1")
			w.WriteHeader(201)
		case etags[id] == "":
			w.WriteHeader(404)
		case r.Method == "GET":
			w.Header().Set("ETag", `W/"`+etags[id]+`"`)
			w.Write([]byte(`{"name":"a"}`))
		case r.Method == "PUT":
			if r.Header.Get("If-Match") != `W/"`+etags[id]+`"` {
				w.WriteHeader(412)
				return
			}
			etags[id] = rnd()
			w.WriteHeader(204)
		}
	}))
	defer srv.Close()
	const tok, id, etag = "f00dfeed0123456789abcdef", "item0123456789abcdef01234567", "e7a90123456789abcdef0123"
	ms := time.Millisecond
	rec := func(at time.Duration, method, path string, reqHeader, respHeader traffic.Fields, status int) traffic.Record {
		r := ex(at, method, path, ``, ``, "")
		r.Exchange.Request.Header = reqHeader
		r.Exchange.Response.Header, r.Exchange.Response.Status = respHeader, status
		return r
	}
	recs := []traffic.Record{
		rec(0, "GET", "/form", nil, traffic.Fields{{Name: "X-CSRF-Token", Value: tok}}, 200),
		rec(2*ms, "POST", "/items", traffic.Fields{{Name: "X-CSRF-Token", Value: tok}}, traffic.Fields{{Name: "Location", Value: "/items/" + id + "?rev=1"}}, 201),
		rec(4*ms, "GET", "/items/"+id, nil, traffic.Fields{{Name: "Etag", Value: `W/"` + etag + `"`}}, 200),
		rec(6*ms, "PUT", "/items/"+id, traffic.Fields{{Name: "If-Match", Value: `W/"` + etag + `"`}}, nil, 204),
	}
	got := answered(t, srv.URL, recs, schedule.Options{})
	want := []string{"GET /form 200", "GET /items/" + id + " 200", "POST /items 201", "PUT /items/" + id + " 204"}
	if !slices.Equal(got, want) {
		t.Errorf("answered %v, want %v", got, want)
	}
}

// OAuth's refresh: the token endpoint answers a refresh token in JSON, and
// a later form POST sends it back URL-encoded (a token with + / = in it).
// The live refresh token is carried in, encoded as the form encodes it.
func TestFormBodyGetsLiveValue(t *testing.T) {
	var mu sync.Mutex
	issued := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(400)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "password":
		case "refresh_token":
			if !issued[r.PostForm.Get("refresh_token")] {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
		default:
			w.WriteHeader(400)
			return
		}
		b := make([]byte, 24)
		rand.Read(b)
		rt := base64.StdEncoding.EncodeToString(b) // + / = likely
		issued[rt] = true
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at" + hex.EncodeToString(b[:8]), "refresh_token": rt})
	}))
	defer srv.Close()
	const rt = "q+9Zr/0aB1c2D3e4F5g6H7i8J9k0L1m="
	form := func(at time.Duration, body, resp string) traffic.Record {
		r := ex(at, "POST", "/oauth/token", body, resp, "")
		r.Exchange.Request.Header = traffic.Fields{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
		return r
	}
	recs := []traffic.Record{
		form(0, "grant_type=password&username=ada", `{"access_token":"at0123456789","refresh_token":"`+rt+`"}`),
		form(2*time.Millisecond, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), `{"access_token":"at9876543210","refresh_token":"r2"}`),
	}
	got := answered(t, srv.URL, recs, schedule.Options{})
	if want := []string{"POST /oauth/token 200", "POST /oauth/token 200"}; !slices.Equal(got, want) {
		t.Errorf("token requests answered %v, want %v", got, want)
	}
}

// A server-rendered app's CSRF tokens: its page carries one in
// <meta name="csrf-token"> (sent back in an X-CSRF-Token header by the
// page's scripts) and one in a hidden <input name="authenticity_token">
// (posted back, URL-encoded, in the form). Both are carried in from the
// live page; sent as recorded, the server refused both posts (422).
func TestHTMLValuesGetLiveValues(t *testing.T) {
	var mu sync.Mutex
	issued := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		token := func() string {
			b := make([]byte, 24)
			rand.Read(b)
			tok := base64.StdEncoding.EncodeToString(b)
			issued[tok] = true
			return tok
		}
		time.Sleep(20 * time.Millisecond) // slow, one request at a time
		switch {
		case r.Method == "GET":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			var out io.Writer = w
			if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				w.Header().Set("Content-Encoding", "gzip")
				gz := gzip.NewWriter(w)
				defer gz.Close()
				out = gz
			}
			fmt.Fprintf(out, `<!doctype html><html><head><meta name="csrf-token" content="%s"></head><body>
<form method="post" action="/items"><input type="hidden" name="authenticity_token" value="%s" autocomplete="off"><input name="name"></form></body></html>`, token(), token())
		case r.Header.Get("X-CSRF-Token") != "":
			if !issued[r.Header.Get("X-CSRF-Token")] {
				w.WriteHeader(422)
				return
			}
			w.WriteHeader(201)
		default:
			r.ParseForm()
			if !issued[r.PostForm.Get("authenticity_token")] {
				w.WriteHeader(422)
				return
			}
			w.WriteHeader(201)
		}
	}))
	defer srv.Close()
	const meta, hidden = "Zm9vYmFyMTIz+/mV0YXRva2VuMDAw", "aGlkZGVuMDEyMzQ1Njc4OQ+/=="
	page := `<!doctype html><html><head><meta name="csrf-token" content="` + meta + `"></head><body>
<form method="post" action="/items"><input type="hidden" name="authenticity_token" value="` + hidden + `" autocomplete="off"><input name="name"></form></body></html>`
	// a browser's page load: asked and answered compressed
	var zpage bytes.Buffer
	gz := gzip.NewWriter(&zpage)
	gz.Write([]byte(page))
	gz.Close()
	get := ex(0, "GET", "/items/new", ``, zpage.String(), "")
	get.Exchange.Request.Header = traffic.Fields{{Name: "Accept-Encoding", Value: "gzip, deflate, br"}}
	get.Exchange.Response.Header = traffic.Fields{{Name: "Content-Type", Value: "text/html; charset=utf-8"}, {Name: "Content-Encoding", Value: "gzip"}}
	post := ex(2*time.Millisecond, "POST", "/items", "authenticity_token="+url.QueryEscape(hidden)+"&name=x", ``, "")
	post.Exchange.Request.Header = traffic.Fields{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	post.Exchange.Response.Status = 201
	xhr := ex(3*time.Millisecond, "POST", "/api/items", `{"name":"y"}`, ``, "")
	xhr.Exchange.Request.Header = traffic.Fields{{Name: "X-CSRF-Token", Value: meta}, {Name: "Content-Type", Value: "application/json"}}
	xhr.Exchange.Response.Status = 201
	// three copies, each with its own page and tokens
	got := answered(t, srv.URL, []traffic.Record{get, post, xhr}, schedule.Options{Multiply: 3})
	var want []string
	for _, w := range []string{"GET /items/new 200", "POST /api/items 201", "POST /items 201"} {
		want = append(want, w, w, w)
	}
	if !slices.Equal(got, want) {
		t.Errorf("answered %v, want %v", got, want)
	}
}

// answered replays recs against target with correlation and returns the
// results as "ENDPOINT STATUS", sorted.
func answered(t *testing.T, target string, recs []traffic.Record, opts schedule.Options) []string {
	t.Helper()
	u, _ := url.Parse(target)
	sched, err := schedule.New(traffic.SliceSource(recs), opts)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	_, err = engine.Run(context.Background(), engine.Config{Target: u, Correlator: correlate.New(), Results: func(r traffic.Result) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprint(r.Endpoint, " ", r.Status))
	}}, sched)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}
