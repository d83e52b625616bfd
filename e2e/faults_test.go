//go:build integration

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/faultproxy"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// faultUpstream is a healthy server behind the fault proxy: every plain
// request gets a small JSON body, /ws/ paths are WebSocket echo servers.
type faultUpstream struct {
	srv      *httptest.Server
	url      *url.URL
	requests atomic.Int64
}

func startFaultUpstream(t *testing.T) *faultUpstream {
	t.Helper()
	u := &faultUpstream{}
	upgrader := websocket.Upgrader{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			c, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				op, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if c.WriteMessage(op, msg) != nil {
					return
				}
			}
		}
		u.requests.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"ok":true,"padding":"0123456789012345678901234567890123456789"}`, r.URL.Path)
	}))
	t.Cleanup(u.srv.Close)
	u.url, _ = url.Parse(u.srv.URL)
	return u
}

// startFaultProxy starts a fault proxy in front of up; the plan's clock
// starts at the first request, the replay's time zero.
func startFaultProxy(t *testing.T, up *url.URL, plan faultproxy.Plan) *faultproxy.Proxy {
	t.Helper()
	plan.StartOnFirstRequest = true
	p, err := faultproxy.New(faultproxy.Config{Upstream: up, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// faultReq is one recorded request of a synthetic corpus.
type faultReq struct {
	at     time.Duration
	method string
	path   string
}

// writeFaultCorpus writes reqs as exchanges of flows users-0..9 (the i-th
// request in flow i%10), each recorded with a 200.
func writeFaultCorpus(t *testing.T, reqs []faultReq, extra ...traffic.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "faults.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	recs := append([]traffic.Record(nil), extra...)
	for i, q := range reqs {
		x := &traffic.Exchange{
			Flow: fmt.Sprintf("user-%d", i%10), Start: q.at,
			Request:  traffic.Request{Method: q.method, URL: q.path, Header: traffic.Fields{{Name: "Accept", Value: "application/json"}}},
			Response: &traffic.Response{Status: 200},
		}
		if q.method == http.MethodPost {
			x.Request.Header = append(x.Request.Header, traffic.Field{Name: "Content-Type", Value: "application/json"})
			x.Request.Body = traffic.Body{Data: []byte(`{"text":"posted during a fault test"}`), Size: 36}
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Start() < recs[j].Start() })
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

// faultReplay replays path against target at recorded speed and checks
// what every scenario must give: the run ends within the corpus span plus
// the timeout (and a margin for a loaded machine), and the accounting
// adds up.
func faultReplay(t *testing.T, path, target string, timeout, span time.Duration) *replay.Outcome {
	t.Helper()
	u, _ := url.Parse(target)
	start := time.Now()
	out, err := replay.Run(context.Background(), replay.Options{
		Corpus:   path,
		Schedule: schedule.Options{Speed: 1},
		Engine:   engine.Config{Target: u, Timeout: timeout},
	})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	bound := span + timeout + 2*time.Second
	if took > bound || out.Engine.Elapsed > bound {
		t.Errorf("replay took %v (engine %v): more than the span %v + timeout %v + 2s", took, out.Engine.Elapsed, span, timeout)
	}
	a, err := out.Snapshot.Accounting()
	if err != nil {
		t.Errorf("accounting: %v", err)
	}
	t.Logf("%v in %v: %s", target, out.Engine.Elapsed.Round(time.Millisecond), a)
	return out
}

// resetResent checks a run whose requests to endpoint the proxy reset
// before any byte of the answer: the transport sends such a request again
// when it went out on a reused connection, whatever its method, as a
// browser does, so each strike ends as a reset failure or as one more
// request the proxy reads, and the rest complete.
func resetResent(t *testing.T, snap *metrics.Snapshot, endpoint string, proxy faultproxy.Stats, reqs []faultReq) {
	t.Helper()
	o := httpOutcome(snap, endpoint)
	struck := proxy.Faults[faultproxy.ResetRequest]
	failed := o.Failed[engine.ErrReset]
	resent := proxy.Requests - int64(len(reqs))
	if struck == 0 || len(o.Failed) > 1 || failed+resent != struck || o.Completed+failed != countPrefix(reqs, "/api/hit") {
		t.Errorf("proxy reset %d, read %d requests for %d scheduled: got %+v", struck, proxy.Requests, len(reqs), o)
	}
}

// outcome returns the HTTP outcome of endpoint (zero when absent).
func httpOutcome(s *metrics.Snapshot, endpoint string) metrics.Outcome {
	st := s.Endpoint(endpoint)
	if st == nil || st.Outcomes["http"] == nil {
		return metrics.Outcome{}
	}
	return *st.Outcomes["http"]
}

// knownKinds are the error kinds the engine reports; "other" is not among
// them on purpose: every failure in this suite must be classified.
var knownKinds = map[string]bool{
	engine.ErrRefused: true, engine.ErrReset: true, engine.ErrTimeout: true, engine.ErrEOF: true,
	engine.ErrProtocol: true, engine.ErrHandshake: true, engine.ErrAbnormal: true, engine.ErrWSProto: true,
}

func checkClassified(t *testing.T, s *metrics.Snapshot) {
	t.Helper()
	for kind, o := range s.Overall.Outcomes {
		for e, n := range o.Failed {
			if !knownKinds[e] {
				t.Errorf("%d %s results failed with the unclassified error %q", n, kind, e)
			}
		}
	}
}

// alternating is n requests spaced by gap, alternating between /api/hit/i
// (the paths a fault rule strikes) and /api/safe/i.
func alternating(n int, gap time.Duration, method string) []faultReq {
	var reqs []faultReq
	for i := 0; i < n; i++ {
		p := "/api/safe/"
		if i%2 == 0 {
			p = "/api/hit/"
		}
		reqs = append(reqs, faultReq{at: time.Duration(i) * gap, method: method, path: fmt.Sprint(p, i)})
	}
	return reqs
}

// phased is requests every gap in three phases, [0, d1) as /api/before/i,
// [d1+margin, d2-margin) as /api/during/i and [d2+margin, end) as
// /api/after/i, nothing within margin of a boundary.
func phased(gap, d1, d2, end, margin time.Duration) []faultReq {
	var reqs []faultReq
	for at := time.Duration(0); at < end; at += gap {
		var phase string
		switch {
		case at < d1-margin:
			phase = "before"
		case at >= d1+margin && at < d2-margin:
			phase = "during"
		case at >= d2+margin:
			phase = "after"
		default:
			continue
		}
		reqs = append(reqs, faultReq{at: at, method: http.MethodGet, path: fmt.Sprintf("/api/%s/%d", phase, at/time.Millisecond)})
	}
	return reqs
}

func countPrefix(reqs []faultReq, prefix string) int64 {
	var n int64
	for _, q := range reqs {
		if strings.HasPrefix(q.path, prefix) {
			n++
		}
	}
	return n
}

// The fault suite: for each way a target can misbehave, a replay through
// the fault proxy goes on, finishes on time, classifies every failure with
// the right kind, accounts for every scheduled request, and the requests
// the fault does not touch still succeed.
func TestFaultSuiteHTTP(t *testing.T) {
	const (
		hit     = "GET /api/hit/{id}"
		safe    = "GET /api/safe/{id}"
		hitPost = "POST /api/hit/{id}"
		gap     = 25 * time.Millisecond
		n       = 60
	)
	safeEndpoint := func(method string) string { return method + " /api/safe/{id}" }
	type run struct {
		t     *testing.T
		reqs  []faultReq
		out   *replay.Outcome
		snap  *metrics.Snapshot
		proxy faultproxy.Stats
		up    int64 // requests the upstream answered
	}
	tests := []struct {
		name    string
		method  string
		rule    faultproxy.Rule // strikes /api/hit when Fault is set
		plan    faultproxy.Plan // used as it is when rule is unset
		reqs    []faultReq      // default: alternating(n, gap, method)
		timeout time.Duration
		check   func(r run)
	}{
		{name: "target down", check: func(r run) {
			if o := r.snap.Overall.Outcomes["http"]; o.Failed[engine.ErrRefused] != n {
				r.t.Errorf("want all %d refused, got %+v", n, o)
			}
		}},
		{name: "reset mid-request", method: http.MethodPost, rule: faultproxy.Rule{Fault: faultproxy.ResetRequest, Fraction: 0.5}, check: func(r run) {
			resetResent(r.t, r.snap, hitPost, r.proxy, r.reqs)
		}},
		{name: "reset mid-request, retried GET", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.ResetRequest, Fraction: 0.5}, check: func(r run) {
			resetResent(r.t, r.snap, hit, r.proxy, r.reqs)
		}},
		{name: "reset mid-response", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.ResetResponse, Fraction: 0.5}, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.ResetResponse]
			if struck == 0 || o.Failed[engine.ErrReset] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy reset %d: got %+v", struck, o)
			}
			if r.up != int64(len(r.reqs)) {
				r.t.Errorf("upstream answered %d of %d", r.up, len(r.reqs))
			}
		}},
		{name: "upstream never answers", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.Hang, Fraction: 0.3}, timeout: 400 * time.Millisecond, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.Hang]
			if struck == 0 || o.Failed[engine.ErrTimeout] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy hung %d: got %+v", struck, o)
			}
			if p := r.snap.Endpoint(hit).Latency.Max(); p < 400*time.Millisecond {
				r.t.Errorf("slowest hit took %v, want the 400ms timeout", p)
			}
		}},
		{name: "trickle slower than the timeout", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.Trickle, Fraction: 0.3, Interval: 50 * time.Millisecond, Chunk: 4}, timeout: 400 * time.Millisecond, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.Trickle]
			if struck == 0 || o.Failed[engine.ErrTimeout] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy trickled %d: got %+v", struck, o)
			}
		}},
		{name: "slow trickle within the timeout", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.Trickle, Interval: 20 * time.Millisecond, Chunk: 16}, timeout: 3 * time.Second, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			if o.Completed != countPrefix(r.reqs, "/api/hit") || len(o.Failed) > 0 {
				r.t.Errorf("want every slow answer completed, got %+v", o)
			}
			// About 200 bytes, 16 every 20ms: at least 12 pauses.
			slow, fast := r.snap.Endpoint(hit).Latency.Percentile(50), r.snap.Endpoint(safe).Latency.Percentile(50)
			if slow < 180*time.Millisecond || fast > slow/2 {
				r.t.Errorf("median latency %v trickled, %v healthy: the trickle does not show", slow, fast)
			}
		}},
		{name: "garbage status line", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.GarbageStatus, Fraction: 0.5}, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.GarbageStatus]
			if struck == 0 || o.Failed[engine.ErrProtocol] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy sent %d garbage lines: got %+v", struck, o)
			}
		}},
		{name: "header without colon", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.BadHeader, Fraction: 0.5}, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.BadHeader]
			if struck == 0 || o.Failed[engine.ErrProtocol] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy sent %d bad headers: got %+v", struck, o)
			}
		}},
		{name: "content-length over the body", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.ShortBody, Fraction: 0.5}, check: func(r run) {
			o := httpOutcome(r.snap, hit)
			struck := r.proxy.Faults[faultproxy.ShortBody]
			if struck == 0 || o.Failed[engine.ErrEOF] != struck || o.Completed != countPrefix(r.reqs, "/api/hit")-struck {
				r.t.Errorf("proxy cut %d bodies: got %+v", struck, o)
			}
		}},
		{name: "body over the content-length", method: http.MethodGet, rule: faultproxy.Rule{Fault: faultproxy.LongBody, Fraction: 0.5}, check: func(r run) {
			// The client reads what was declared and cannot tell.
			o := httpOutcome(r.snap, hit)
			if r.proxy.Faults[faultproxy.LongBody] == 0 || o.Completed != countPrefix(r.reqs, "/api/hit") || r.snap.Endpoint(hit).Statuses[200] != o.Completed {
				r.t.Errorf("want every request completed with 200, got %+v", o)
			}
		}},
		{name: "5xx burst", plan: faultproxy.Plan{Rules: []faultproxy.Rule{{Fault: faultproxy.Status, Status: 503, From: 500 * time.Millisecond, Until: time.Second}}},
			reqs: phased(gap, 500*time.Millisecond, time.Second, 1500*time.Millisecond, 150*time.Millisecond), check: func(r run) {
				during := r.snap.Endpoint("GET /api/during/{id}")
				n := countPrefix(r.reqs, "/api/during")
				if during.Statuses[503] != n || during.Failed != n || r.proxy.Faults[faultproxy.Status] != n || httpOutcome(r.snap, "GET /api/during/{id}").Completed != n {
					r.t.Errorf("want all %d requests of the burst answered 503 (completed, counted failed), got statuses %v, failed %d, proxy %v", n, during.Statuses, during.Failed, r.proxy.Faults)
				}
				for _, ep := range []string{"GET /api/before/{id}", "GET /api/after/{id}"} {
					if s := r.snap.Endpoint(ep); s.Statuses[200] != s.Requests || s.Failed != 0 {
						r.t.Errorf("%s: statuses %v, failed %d", ep, s.Statuses, s.Failed)
					}
				}
			}},
		{name: "target stops and restarts", plan: faultproxy.Plan{Outages: []faultproxy.Outage{{At: 500 * time.Millisecond, For: 500 * time.Millisecond}}},
			reqs: phased(gap, 500*time.Millisecond, time.Second, 1500*time.Millisecond, 150*time.Millisecond), check: func(r run) {
				n := countPrefix(r.reqs, "/api/during")
				if o := httpOutcome(r.snap, "GET /api/during/{id}"); o.Failed[engine.ErrRefused] != n || o.Completed != 0 {
					r.t.Errorf("want all %d requests of the outage refused, got %+v", n, o)
				}
				for _, phase := range []string{"before", "after"} {
					ep := "GET /api/" + phase + "/{id}"
					if o := httpOutcome(r.snap, ep); o.Completed != countPrefix(r.reqs, "/api/"+phase) || len(o.Failed) > 0 {
						r.t.Errorf("%s: %+v", ep, o)
					}
				}
				if r.proxy.Outages != 1 || r.proxy.Restarts != 1 {
					r.t.Errorf("proxy: %+v", r.proxy)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs := tt.reqs
			if reqs == nil {
				reqs = alternating(n, gap, tt.method)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			path := writeFaultCorpus(t, reqs)
			up := startFaultUpstream(t)
			var target string
			var proxy *faultproxy.Proxy
			if tt.name == "target down" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				target = "http://" + ln.Addr().String()
				ln.Close()
			} else {
				plan := tt.plan
				if tt.rule.Fault != "" {
					tt.rule.Path = "/api/hit"
					plan = faultproxy.Plan{Seed: 42, Rules: []faultproxy.Rule{tt.rule}}
				}
				proxy = startFaultProxy(t, up.url, plan)
				target = proxy.URL()
			}
			lastAt := reqs[len(reqs)-1].at
			out := faultReplay(t, path, target, timeout, lastAt)
			r := run{t: t, reqs: reqs, out: out, snap: out.Snapshot, up: up.requests.Load()}
			if proxy != nil {
				r.proxy = proxy.Stats()
				t.Logf("proxy: %+v", r.proxy)
			}
			if out.Snapshot.Meta.Scheduled != int64(len(reqs)) {
				t.Errorf("scheduled %d, corpus has %d", out.Snapshot.Meta.Scheduled, len(reqs))
			}
			checkClassified(t, out.Snapshot)
			if s := out.Snapshot.Endpoint(safeEndpoint(tt.method)); s != nil {
				o := httpOutcome(out.Snapshot, safeEndpoint(tt.method))
				if tt.name != "target down" && (o.Completed != countPrefix(reqs, "/api/safe") || s.Statuses[200] != o.Completed) {
					t.Errorf("requests the fault does not strike: %+v, statuses %v", o, s.Statuses)
				}
			}
			tt.check(r)
		})
	}
}

// lockedBuffer collects a process's output for a test that reads it while
// the process runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A disk that fills while recording: the proxy keeps proxying (every
// client still gets its answer), warns once, exits non-zero naming the
// problem, and the corpus it leaves reads back to its last whole block.
func TestRecordProxyDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	// Incompressible answers, so the corpus grows as fast as the traffic.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 8<<10)
		rng := rand.New(rand.NewPCG(uint64(len(r.URL.Path)), uint64(time.Now().UnixNano())))
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}))
	defer upstream.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	out := filepath.Join(mnt, "full.rpz")
	var log lockedBuffer
	cmd := exec.Command(filepath.Join(bin, "record"), "proxy", "--listen", listen, "--upstream", upstream.URL, "--out", out, "--flush-interval", "100ms")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("record proxy did not start: %s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	get := func(i int) {
		t.Helper()
		resp, err := client.Get(fmt.Sprintf("http://%s/blob/%d", listen, i))
		if err != nil {
			t.Fatalf("request %d through the proxy: %v", i, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != 8<<10 {
			t.Fatalf("request %d through the proxy: status %d, %d bytes, %v", i, resp.StatusCode, n, err)
		}
	}
	// Fill the disk: bounded in count and time.
	full := -1
	stop := time.Now().Add(30 * time.Second)
	for i := 0; i < 2000 && time.Now().Before(stop); i++ {
		get(i)
		if strings.Contains(log.String(), "no space left on device") {
			full = i
			break
		}
		if i%20 == 19 {
			time.Sleep(150 * time.Millisecond) // let a flush reach the disk
		}
	}
	if full < 0 {
		t.Fatalf("the disk never filled; proxy said: %s", log.String())
	}
	// Recording has failed; proxying goes on.
	for i := full + 1; i < full+50; i++ {
		get(i)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	text := log.String()
	t.Logf("record proxy said:\n%s", text)
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	if n := strings.Count(text, "recording failed"); n != 1 {
		t.Errorf("%d warnings that recording failed, want one", n)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "record: ") || !strings.Contains(last, "no space left on device") {
		t.Errorf("last line %q does not name the problem", last)
	}

	// What was written reads back, up to the last whole block.
	path := out
	if _, err := os.Stat(path); err != nil {
		path = out + corpus.PartialSuffix
	}
	r, err := corpus.Open(path)
	if err != nil {
		t.Fatalf("partial corpus: %v", err)
	}
	defer r.Close()
	recs, err := traffic.ReadAll(context.Background(), r)
	if err != nil {
		t.Fatalf("partial corpus reads with an error: %v", err)
	}
	xs := traffic.Collect(recs).Exchanges
	t.Logf("partial corpus: %d exchanges of %d sent, truncated %v", len(xs), full+50, r.Stats().Truncated)
	if len(xs) == 0 || len(xs) >= full+50 {
		t.Errorf("partial corpus holds %d exchanges of %d sent", len(xs), full+50)
	}
	for _, x := range xs {
		if x.Response == nil || x.Response.Status != 200 || !strings.HasPrefix(x.Request.URL, "/blob/") {
			t.Fatalf("damaged exchange in the partial corpus: %+v", x.Request)
		}
	}
}

// An --out the recorder may not write to: one clear line, exit 1, before
// any traffic.
func TestRecordProxyPermissionDenied(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	recordBin := filepath.Join(bin, "record")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// Root writes anywhere: run the recorder as nobody, from a copy it
		// may execute.
		pub, err := os.MkdirTemp("", "reprise-bin-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(pub)
		os.Chmod(pub, 0o755)
		data, err := os.ReadFile(recordBin)
		if err != nil {
			t.Fatal(err)
		}
		recordBin = filepath.Join(pub, "record")
		if err := os.WriteFile(recordBin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	} else if err := os.Chmod(locked, 0o555); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(locked, "c.rpz")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, recordBin, "proxy", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9", "--out", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("record proxy kept running with an unwritable --out")
	}
	msg := strings.TrimSpace(stderr.String())
	t.Logf("exit %v: %s", err, msg)
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", cmd.ProcessState.ExitCode())
	}
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "permission denied") || !strings.Contains(msg, out) {
		t.Errorf("want one line naming %s and the denied permission, got %q", out, msg)
	}
	if _, err := os.Stat(out + corpus.PartialSuffix); err == nil {
		t.Error("a corpus was created")
	}
}

// The report a user reads after a replay against a misbehaving target
// names every failure kind and shows the accounting adding up.
func TestFaultReport(t *testing.T) {
	up := startFaultUpstream(t)
	// The struck requests come first, hung ones over before the outage
	// (an outage would cut them); each rule takes a quarter of them.
	proxy := startFaultProxy(t, up.url, faultproxy.Plan{Seed: 3, Rules: []faultproxy.Rule{
		{Fault: faultproxy.ResetResponse, Path: "/api/hit", Fraction: 0.25},
		{Fault: faultproxy.Hang, Path: "/api/hit", Fraction: 1.0 / 3},
		{Fault: faultproxy.GarbageStatus, Path: "/api/hit", Fraction: 0.5},
		{Fault: faultproxy.ShortBody, Path: "/api/hit"},
		{Fault: faultproxy.Status, Status: 503, From: 1000 * time.Millisecond, Until: 1300 * time.Millisecond},
	}, Outages: []faultproxy.Outage{{At: 1700 * time.Millisecond, For: 300 * time.Millisecond}}})
	reqs := alternating(40, 20*time.Millisecond, http.MethodGet)
	for i := 40; i < 120; i++ {
		reqs = append(reqs, faultReq{at: time.Duration(i) * 20 * time.Millisecond, method: http.MethodGet, path: fmt.Sprint("/api/safe/", i)})
	}
	path := writeFaultCorpus(t, reqs)
	results := filepath.Join(t.TempDir(), "results.json")
	stdout, stderr, code := command(t, time.Minute, "replay", "run", path, "--target", proxy.URL(), "--timeout", "500ms", "--quiet", "--out", "json="+results)
	t.Logf("replay run (exit %d):\n%s\n%s", code, stdout, stderr)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"reset", "timeout", "protocol", "eof", "refused", fmt.Sprint(len(reqs), " scheduled")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary does not mention %q", want)
		}
	}
	if strings.Contains(stdout, "MISMATCH") {
		t.Error("summary shows an accounting mismatch")
	}
	// The results document carries the same accounting.
	f, err := os.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap, err := metrics.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	a, err := snap.Accounting()
	if err != nil || a.Scheduled != int64(len(reqs)) || a.Failed[engine.ErrRefused] == 0 {
		t.Errorf("results document: %s, %v", a, err)
	}
	st := proxy.Stats()
	struck := st.Faults[faultproxy.ResetResponse] + st.Faults[faultproxy.Hang] + st.Faults[faultproxy.GarbageStatus] + st.Faults[faultproxy.ShortBody]
	if got := a.Failed[engine.ErrReset] + a.Failed[engine.ErrTimeout] + a.Failed[engine.ErrProtocol] + a.Failed[engine.ErrEOF]; got != struck {
		t.Errorf("%d failed as reset, timeout, protocol or eof; the proxy struck %d (%v)", got, struck, st.Faults)
	}
}
