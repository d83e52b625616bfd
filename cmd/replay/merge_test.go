package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// shardCorpus writes a corpus of 12 clients, each with 20 requests over
// one second to five endpoints, with the JSON responses recorded. With
// listFlows, each client's GET /v1/sessions requests form a flow of their
// own (so a slow answer there delays no other request).
func shardCorpus(t *testing.T, dir string, listFlows bool) string {
	t.Helper()
	path := filepath.Join(dir, "clients.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.example:8787"})
	if err != nil {
		t.Fatal(err)
	}
	json200 := func(body string) *traffic.Response {
		return &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body: traffic.Body{Data: []byte(body), Size: int64(len(body))}}
	}
	var recs []traffic.Record
	for u := 0; u < 12; u++ {
		flow := fmt.Sprintf("client-%d", u)
		for i := 0; i < 20; i++ {
			var req traffic.Request
			var resp *traffic.Response
			id := fmt.Sprintf("%032x", u*100+i)
			switch i % 5 {
			case 0:
				req, resp = traffic.Request{Method: "GET", URL: "/health"}, json200(`{"status":"ok"}`)
			case 1:
				req, resp = traffic.Request{Method: "GET", URL: "/v1/sessions"}, json200(`{"sessions":[{"id":"a","updatedAt":1}]}`)
			case 2:
				req = traffic.Request{Method: "POST", URL: "/v1/sessions", Body: traffic.Body{Data: []byte(`{"tag":"t"}`), Size: 11}}
				resp = json200(`{"session":{"id":"` + id + `","seq":0}}`)
			case 3:
				req, resp = traffic.Request{Method: "GET", URL: "/v1/sessions/" + id}, json200(`{"session":{"id":"`+id+`","seq":1}}`)
			case 4:
				req, resp = traffic.Request{Method: "GET", URL: fmt.Sprintf("/v1/machines?owner=u%d", u)}, json200(`{"machines":[]}`)
			}
			req.Host, req.Scheme, req.Proto = "recorded.example:8787", "http", "HTTP/1.1"
			f, conn := flow, uint64(u+1)
			if listFlows && i%5 == 1 {
				f, conn = flow+"-list", uint64(u+100)
			}
			recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
				Flow: f, ConnID: conn, Start: time.Duration(i)*50*time.Millisecond + time.Duration(u)*time.Millisecond,
				Request: req, Response: resp}})
		}
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

// shardServer answers as recorded, except: machines of client 5 fail with
// 500, sessions with ids ending in 3 have a string seq, and GET
// /v1/sessions sleeps slow before answering.
func shardServer(t *testing.T, slow time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/health":
			fmt.Fprint(w, `{"status":"ok"}`)
		case r.URL.Path == "/v1/sessions" && r.Method == "GET":
			time.Sleep(slow)
			fmt.Fprint(w, `{"sessions":[{"id":"b","updatedAt":2}]}`)
		case r.URL.Path == "/v1/sessions":
			fmt.Fprint(w, `{"session":{"id":"new","seq":0}}`)
		case strings.HasPrefix(r.URL.Path, "/v1/sessions/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/sessions/")
			if strings.HasSuffix(id, "3") {
				fmt.Fprintf(w, `{"session":{"id":%q,"seq":"1"}}`, id)
				return
			}
			fmt.Fprintf(w, `{"session":{"id":%q,"seq":1}}`, id)
		case r.URL.Path == "/v1/machines":
			if r.URL.Query().Get("owner") == "u5" {
				w.WriteHeader(500)
				fmt.Fprint(w, `{"error":"boom"}`)
				return
			}
			fmt.Fprint(w, `{"machines":[]}`)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func readResultsT(t *testing.T, path string) *metrics.Snapshot {
	t.Helper()
	s, err := readResults(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A run split into shards by flow and merged counts exactly what the
// whole run counts: requests, statuses, checks, errors, response shapes,
// bytes, histogram counts, flows and the accounting.
func TestMergeShardsEqualsWholeRun(t *testing.T) {
	dir := t.TempDir()
	c := shardCorpus(t, dir, false)
	target := shardServer(t, 0)
	replay := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"run", c, "--target", target, "--speed", "10", "--no-correlate", "-q", "--out", "json=" + out}, extra...)
		if code, stdout, stderr := runReplay(t, args...); code != exitOK {
			t.Fatalf("replay %v: exit %d\n%s%s", extra, code, stdout, stderr)
		}
	}
	whole := filepath.Join(dir, "whole.json")
	replay(whole)
	var shards []string
	for i := 0; i < 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		replay(p, "--shard", fmt.Sprintf("%d/3", i))
		shards = append(shards, p)
	}
	merged := filepath.Join(dir, "merged.json")
	code, stdout, stderr := runReplay(t, append([]string{"merge"}, append(shards, "--out", "json="+merged)...)...)
	if code != exitOK {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"shards merged: 3", "http_reqs......................: 240", "shape_checks", "GET /v1/sessions/{id}"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("merged summary lacks %q:\n%s", want, stdout)
		}
	}

	w, m := readResultsT(t, whole), readResultsT(t, merged)
	nonEmpty := 0
	for _, p := range shards {
		s := readResultsT(t, p)
		if s.Overall.Requests > 0 {
			nonEmpty++
		}
		if s.Overall.Requests >= w.Overall.Requests {
			t.Errorf("%s holds all %d requests: the run was not split", p, s.Overall.Requests)
		}
	}
	if nonEmpty < 2 {
		t.Fatalf("only %d shards had requests", nonEmpty)
	}
	if w.Overall.Requests != 240 || m.Meta.Shards != 3 {
		t.Fatalf("whole run %d requests, merged %d shards", w.Overall.Requests, m.Meta.Shards)
	}
	if m.Meta.Scheduled != w.Meta.Scheduled || !reflect.DeepEqual(m.Meta.ScheduledByKind, w.Meta.ScheduledByKind) || m.Flows != w.Flows {
		t.Errorf("scheduled %d %v flows %d; whole run %d %v flows %d", m.Meta.Scheduled, m.Meta.ScheduledByKind, m.Flows, w.Meta.Scheduled, w.Meta.ScheduledByKind, w.Flows)
	}
	if _, err := m.Accounting(); err != nil {
		t.Errorf("merged accounting: %v", err)
	}
	if !reflect.DeepEqual(m.EndpointNames(), w.EndpointNames()) {
		t.Fatalf("endpoints %v, whole run %v", m.EndpointNames(), w.EndpointNames())
	}
	counts := func(s *metrics.Stats) string {
		return fmt.Sprintf("reqs=%d failed=%d outcomes=%v statuses=%v classes=%v checks=%d/%d bytes=%d/%d latency=%d service=%d shapes=%+v",
			s.Requests, s.Failed, outcomes(s), s.Statuses, s.StatusClasses, s.ChecksPassed, s.ChecksFailed,
			s.BytesSent, s.BytesReceived, s.Latency.Count(), s.Service.Count(), s.Shapes)
	}
	if got, want := counts(m.Overall), counts(w.Overall); got != want {
		t.Errorf("overall:\nmerged %s\nwhole  %s", got, want)
	}
	for _, name := range w.EndpointNames() {
		if got, want := counts(m.Endpoint(name)), counts(w.Endpoint(name)); got != want {
			t.Errorf("%s:\nmerged %s\nwhole  %s", name, got, want)
		}
	}
	var sumM, sumW int64
	for _, s := range m.Series {
		sumM += s.Requests
	}
	for _, s := range w.Series {
		sumW += s.Requests
	}
	if sumM != sumW {
		t.Errorf("series hold %d requests merged, %d whole", sumM, sumW)
	}
	// what the corpus and server make sure is there to compare
	if e := w.Endpoint("GET /v1/machines"); e.Statuses[500] != 4 {
		t.Errorf("GET /v1/machines statuses %v, want four 500s", e.Statuses)
	}
	if sh := w.Endpoint("GET /v1/sessions/{id}").Shapes; sh == nil || sh.ChecksFailed == 0 || sh.ChecksPassed == 0 {
		t.Errorf("shapes %+v, want some checks failed", sh)
	}

	// thresholds judge the merged run: the 500s breach an error rate of 1%
	code, stdout, stderr = runReplay(t, append([]string{"merge"}, append(shards, "--threshold", "error_rate<1%", "--threshold", "p95<10s")...)...)
	if code != exitBreach || !strings.Contains(stdout, "✗ error_rate<1%") || !strings.Contains(stdout, "✓ p95<10s") {
		t.Errorf("merge with thresholds: exit %d\n%s%s", code, stdout, stderr)
	}
	oneLine(t, stderr, "breached")
	// a missing shard is said
	code, stdout, _ = runReplay(t, "merge", shards[0], shards[2])
	if code != exitOK || !strings.Contains(stdout, "merged 2 of 3 shards: 1/3 missing") {
		t.Errorf("missing shard: exit %d\n%s", code, stdout)
	}
}

func outcomes(s *metrics.Stats) string {
	var parts []string
	for _, k := range []string{"http", "ws-connect", "ws-send"} {
		if o := s.Outcomes[k]; o != nil {
			parts = append(parts, fmt.Sprintf("%s:%d/%v/%v", k, o.Completed, o.Failed, o.NotSent))
		}
	}
	return strings.Join(parts, " ")
}

func TestMergeBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	col := metrics.NewCollector()
	col.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Flow: "f", Latency: time.Millisecond, Status: 200})
	shard := func(name, sh string) string {
		s := col.Snapshot()
		s.Meta.Shard, s.Meta.Scheduled = sh, 1
		var b strings.Builder
		if err := metrics.Encode(&b, s); err != nil {
			t.Fatal(err)
		}
		return write(name, b.String())
	}
	s0, s0again, other := shard("s0.json", "0/2"), shard("s0b.json", "0/2"), shard("o.json", "1/3")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no files", []string{"merge"}, exitUsage, []string{"merge takes"}},
		{"missing file", []string{"merge", filepath.Join(dir, "nope.json")}, exitError, []string{"nope.json", "no such file"}},
		{"not results", []string{"merge", write("x.json", `{"format":"k6"}`)}, exitError, []string{"x.json", "not a reprise results document", "replay run --out"}},
		{"not json", []string{"merge", write("y.json", `hello`)}, exitError, []string{"y.json"}},
		{"shard twice", []string{"merge", s0, s0again}, exitError, []string{"shard 0/2 is in both", "s0.json", "s0b.json"}},
		{"other sharding", []string{"merge", s0, other}, exitError, []string{"shards of 2"}},
		{"bad threshold", []string{"merge", s0, "--threshold", "p95<<1"}, exitUsage, []string{"--threshold"}},
		{"unknown endpoint", []string{"merge", s0, "--threshold", "GET /nope: p95<1s"}, exitUsage, []string{"GET /nope", "known: GET /x"}},
		{"bad out", []string{"merge", s0, "--out", "csv=x"}, exitUsage, []string{"--out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReplay(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			oneLine(t, stderr, tc.want...)
		})
	}
}

// --only and --skip pick endpoints from the command line; a filter that
// leaves nothing is one error line.
func TestRunOnlySkip(t *testing.T) {
	dir := t.TempDir()
	path := shardCorpus(t, dir, false)
	target := shardServer(t, 0)
	results := filepath.Join(dir, "r.json")
	code, stdout, stderr := runReplay(t, "run", path, "--target", target, "-q", "--speed", "10",
		"--only", "/v1/sessions*", "--skip", "POST *", "--out", "json="+results)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	snap := readResultsT(t, results)
	// Per client: 4 GET /v1/sessions and 4 GET /v1/sessions/{id}, of 20.
	if snap.Meta.Scheduled != 96 || len(snap.Endpoints) != 2 {
		t.Fatalf("scheduled %d on %v, want 96 on the two GET session endpoints", snap.Meta.Scheduled, snap.EndpointNames())
	}
	if !strings.Contains(stdout, "144 events left out by --only/--skip") {
		t.Errorf("no note of what was left out:\n%s", stdout)
	}
	// A threshold on an endpoint the corpus has but the filter left out
	// has nothing to measure: skipped, not an error after the run.
	code, stdout, stderr = runReplay(t, "run", path, "--target", target, "-q", "--speed", "10",
		"--skip", "GET /health", "--threshold", "GET /health: p95<50ms")
	if code != exitOK || !strings.Contains(stdout, "GET /health: p95<50ms") {
		t.Fatalf("exit %d, stderr %q; the skipped endpoint's threshold should show as skipped:\n%s", code, stderr, stdout)
	}
	code, _, stderr = runReplay(t, "run", path, "--target", target, "-q", "--only", "/nothing/here")
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	oneLine(t, stderr, "--only/--skip left none", "240 events")
	code, _, stderr = runReplay(t, "run", path, "--target", target, "--only", "sessions")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	oneLine(t, stderr, "--only", "start with /")
}
