package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// encode writes cfg's corpus to memory.
func encode(t *testing.T, cfg config) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := corpus.NewWriter(&buf, traffic.Header{Created: clockOrigin, Source: "gencorpus"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generate(context.Background(), cfg, func(r traffic.Record) error { return w.Write(context.Background(), r) }); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func records(t *testing.T, data []byte) []traffic.Record {
	t.Helper()
	r, err := corpus.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []traffic.Record
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	cfg := defaults
	cfg.Requests, cfg.Users, cfg.WSShare = 3000, 20, 0.5
	a, b := encode(t, cfg), encode(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two corpora of the same seed differ")
	}
	cfg.Seed = 2
	if bytes.Equal(a, encode(t, cfg)) {
		t.Fatal("corpora of seeds 1 and 2 are the same")
	}
}

var idInPath = regexp.MustCompile(`^/v1/sessions/([0-9a-f]{32})(/messages)?$`)

// The corpus is what the flags ask for, in start order, and its requests
// send back what earlier responses of their user returned: server-made
// session ids in paths and keep-alives, kv versions in mutations.
func TestCorpusKeepsItsPromises(t *testing.T) {
	cfg := defaults
	cfg.Requests, cfg.Users, cfg.Rate, cfg.WSShare, cfg.Body = 5000, 40, 2500, 0.5, 100
	recs := records(t, encode(t, cfg))

	var exchanges, opens, closes, msgs, reused int
	var last time.Duration
	returned := map[string]map[string]bool{} // flow -> session ids its responses returned
	kvVersion := map[string]int64{}          // flow+key -> version returned
	open := map[uint64]string{}              // open WebSocket -> flow
	endpoints := map[string]bool{}
	for i, r := range recs {
		if r.Start() < last {
			t.Fatalf("record %d starts at %v, before the previous one at %v", i, r.Start(), last)
		}
		last = r.Start()
		switch r.Kind {
		case traffic.KindExchange:
			x := r.Exchange
			if want := time.Duration(float64(exchanges) * float64(time.Second) / cfg.Rate); x.Start != want {
				t.Fatalf("request %d starts at %v, want %v (evenly at %g/s)", exchanges, x.Start, want, cfg.Rate)
			}
			exchanges++
			path := x.Request.Path()
			endpoints[x.Request.Method+" "+regexp.MustCompile(`[0-9a-f]{32}|settings\.[0-9a-f]+`).ReplaceAllString(path, "{id}")] = true
			if x.Response == nil || x.Response.Status != 200 || !json.Valid(x.Response.Body.Data) {
				t.Fatalf("%s %s: want a 200 with a JSON body, got %+v", x.Request.Method, x.Request.URL, x.Response)
			}
			if len(x.Request.Body.Data) > 0 && !json.Valid(x.Request.Body.Data) {
				t.Fatalf("%s %s: request body is not JSON: %s", x.Request.Method, x.Request.URL, x.Request.Body.Data)
			}
			tok, authed := traffic.Bearer(x.Request.Header.Get("Authorization"))
			if (path == "/health") == authed || authed && !strings.HasPrefix(x.Flow, "auth:") || authed && strings.Count(tok, ".") != 2 {
				t.Fatalf("%s %s in flow %s: health checks go without a token, every other request with its user's JWT", x.Request.Method, path, x.Flow)
			}
			if m := idInPath.FindStringSubmatch(path); m != nil {
				if !returned[x.Flow][m[1]] {
					t.Fatalf("%s %s: session id not returned by an earlier response of flow %s", x.Request.Method, path, x.Flow)
				}
				reused++
			}
			var body struct {
				Session  *struct{ ID string }
				Sessions []struct{ ID string }
				Results  []struct {
					Key     string
					Version int64
				}
			}
			json.Unmarshal(x.Response.Body.Data, &body)
			if returned[x.Flow] == nil {
				returned[x.Flow] = map[string]bool{}
			}
			if body.Session != nil && x.Request.Method == "POST" {
				returned[x.Flow][body.Session.ID] = true
			}
			if x.Request.Method == "POST" && path == "/v1/kv" {
				var req struct {
					Mutations []struct {
						Key     string
						Version int64
					}
				}
				if err := json.Unmarshal(x.Request.Body.Data, &req); err != nil || len(req.Mutations) != 1 {
					t.Fatalf("POST /v1/kv body %s: %v", x.Request.Body.Data, err)
				}
				m := req.Mutations[0]
				prev, ok := kvVersion[x.Flow+m.Key]
				if !ok && m.Version != -1 || ok && m.Version != prev {
					t.Fatalf("POST /v1/kv of %s sends version %d; the key's last returned version is %d (known: %v)", m.Key, m.Version, prev, ok)
				}
				kvVersion[x.Flow+m.Key] = body.Results[0].Version
			}
		case traffic.KindWSOpen:
			opens++
			open[r.WSOpen.ConnID] = r.WSOpen.Flow
			if r.WSOpen.Upgrade.Response.Status != 101 {
				t.Fatalf("upgrade answered %d", r.WSOpen.Upgrade.Response.Status)
			}
		case traffic.KindWSMessage:
			msgs++
			m := r.WSMessage
			if open[m.ConnID] != m.Flow {
				t.Fatalf("message on connection %d of flow %s, which is not open in that flow", m.ConnID, m.Flow)
			}
			if !json.Valid(m.Payload) {
				t.Fatalf("message is not JSON: %s", m.Payload)
			}
			if m.FromClient && bytes.Contains(m.Payload, []byte("session-alive")) {
				var alive struct{ Data struct{ Sid string } }
				json.Unmarshal(m.Payload, &alive)
				if !returned[m.Flow][alive.Data.Sid] {
					t.Fatalf("session-alive for %q, a session its user was never given", alive.Data.Sid)
				}
				reused++
			}
		case traffic.KindWSClose:
			closes++
			delete(open, r.WSClose.ConnID)
		}
	}
	if exchanges != int(cfg.Requests) {
		t.Errorf("%d requests, want %d", exchanges, cfg.Requests)
	}
	if opens == 0 || opens != closes || len(open) != 0 {
		t.Errorf("%d WebSocket connections opened, %d closed, %d left open: want some, every one closed", opens, closes, len(open))
	}
	// Half of 40 users keep a socket: 20 expected, the draw decides.
	if opens < 10 || opens > 30 {
		t.Errorf("%d WebSocket connections for 40 users at -ws 0.5", opens)
	}
	if msgs < exchanges/10 {
		t.Errorf("only %d WebSocket messages for %d requests", msgs, exchanges)
	}
	if reused < exchanges/5 {
		t.Errorf("only %d requests and keep-alives send back a server-made id, of %d requests", reused, exchanges)
	}
	for _, e := range []string{"GET /health", "GET /v1/sessions", "POST /v1/sessions", "GET /v1/sessions/{id}", "DELETE /v1/sessions/{id}",
		"POST /v1/sessions/{id}/messages", "GET /v1/kv", "GET /v1/kv/{id}", "POST /v1/kv"} {
		if !endpoints[e] {
			t.Errorf("no %s in the corpus (have %v)", e, endpoints)
		}
	}
}

// Payload sizes follow -body.
func TestBodySize(t *testing.T) {
	for _, body := range []int{64, 2048} {
		cfg := defaults
		cfg.Requests, cfg.Body, cfg.WSShare = 2000, body, 0
		var n, sum int
		for _, r := range records(t, encode(t, cfg)) {
			if x := r.Exchange; x != nil && x.Request.Method == "POST" && strings.HasSuffix(x.Request.URL, "/messages") {
				n++
				sum += len(x.Request.Body.Data)
			}
		}
		mean := sum / n
		// The body is the payload plus about 80 bytes of JSON and a localId.
		if mean < body || mean > body+150 {
			t.Errorf("-body %d: messages average %d bytes", body, mean)
		}
	}
}

// Replayed against the built-in Happy server, with correlation carrying
// the live session ids, every request of the synthetic corpus succeeds:
// its requests are ones the real API accepts, in an order it accepts.
func TestReplaysCleanlyAgainstHappyServer(t *testing.T) {
	srv, err := happyapi.New(happyapi.Config{AnyToken: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "syn.rpz")
	var out bytes.Buffer
	if code := run(ctx, []string{"-out", path, "-requests", "400", "-users", "20", "-rate", "100", "-ws", "0.5"}, &out, io.Discard); code != 0 {
		t.Fatalf("gencorpus exit %d", code)
	}
	target, _ := url.Parse(srv.URL())
	res, err := replay.Run(ctx, replay.Options{
		Corpus:   path,
		Schedule: schedule.Options{Speed: 4},
		Engine:   engine.Config{Target: target, WaitForAnswers: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Snapshot.Overall
	if o.Requests != 400 || o.StatusClasses["2xx"] != 400 {
		t.Errorf("%d requests, statuses %v: want 400, all 2xx", o.Requests, o.StatusClasses)
	}
	if res.Links == 0 || res.Misses != 0 {
		t.Errorf("correlation carried %d values (%d missing from live responses): want some, none missing", res.Links, res.Misses)
	}
	if o.WS == nil || o.WS.Sessions == 0 || o.WS.MsgsSent == 0 {
		t.Errorf("WebSocket: %+v, want sessions that sent messages", o.WS)
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "there.rpz")
	os.WriteFile(existing, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{"-requests", "10"}, exitUsage, "-out is required"},
		{"zero requests", []string{"-out", filepath.Join(dir, "a.rpz"), "-requests", "0"}, exitUsage, "-requests 0: want 1 to"},
		{"negative rate", []string{"-out", filepath.Join(dir, "a.rpz"), "-rate", "-5"}, exitUsage, "-rate -5"},
		{"share over one", []string{"-out", filepath.Join(dir, "a.rpz"), "-ws", "1.5"}, exitUsage, "-ws 1.5: want a share"},
		{"tiny body", []string{"-out", filepath.Join(dir, "a.rpz"), "-body", "3"}, exitUsage, "-body 3"},
		{"origin without scheme", []string{"-out", filepath.Join(dir, "a.rpz"), "-origin", "localhost:8787"}, exitUsage, `-origin "localhost:8787": want`},
		{"unknown flag", []string{"-out", filepath.Join(dir, "a.rpz"), "-speed", "3"}, exitUsage, "flag provided but not defined: -speed"},
		{"stray argument", []string{"-out", filepath.Join(dir, "a.rpz"), "big.rpz"}, exitUsage, `unexpected argument "big.rpz"`},
		{"existing output", []string{"-out", existing, "-requests", "10"}, exitError, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, io.Discard, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q: want exit %d and one line with %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.rpz")); err == nil {
		t.Error("a refused run left a corpus behind")
	}
}

// An interrupted generation leaves no file, partial or whole.
func TestInterruptLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.rpz")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	if code := run(ctx, []string{"-out", path, "-requests", "100000"}, io.Discard, &stderr); code != exitError || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d, %q", code, stderr.String())
	}
	for _, p := range []string{path, path + corpus.PartialSuffix} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}
