//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/report"
	"github.com/reprise/reprise/internal/traffic"
)

// The slow, compressing server of the Node test: every answer compressed
// as the client accepts, a lognormal latency of 50 ms median, 16 requests
// handled at once and the rest queued.
var slowServer = []string{"--any-token", "--latency", "lognormal:median=50ms,sigma=0.5", "--max-concurrent", "16"}

const (
	nodeUsers   = 4  // users the Node client plays, each with its own token
	nodeSeconds = 20 // how long each of them works
	nodeCopies  = 5  // --multiply of the replays
)

// nodeClientDir installs testdata/node (the ws package from npm, pinned by
// package-lock.json) beside the Node client in a temporary directory.
func nodeClientDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "happy-client.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--silent")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return dir
}

// nodeSummary is what happy-client.js prints when it is done.
type nodeSummary struct {
	Requests  int            `json:"requests"`
	Statuses  map[string]int `json:"statuses"`
	Encodings map[string]int `json:"encodings"`
	Created   struct {
		Sessions, Messages, Artifacts, KV int
	} `json:"created"`
	Deleted struct {
		Sessions, Artifacts, KV int
	} `json:"deleted"`
	WebSockets int `json:"websockets"`
	WSSent     int `json:"ws_sent"`
	WSReceived int `json:"ws_received"`
}

// serve starts `replay serve` with args on a free loopback port and
// returns its address.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	background(t, "replay", append([]string{"serve", "--listen", addr}, args...)...)
	waitListening(t, addr)
	return addr
}

// serverState reads what exists in a `replay serve` now.
func serverState(t *testing.T, addr string) happyapi.State {
	t.Helper()
	resp, err := http.Get("http://" + addr + happyapi.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st happyapi.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("state of %s: %v", addr, err)
	}
	return st
}

// leftBehind names what st holds beyond before: sessions, messages,
// artifacts, kv keys, machines; and any WebSocket still open.
func leftBehind(before, st happyapi.State) string {
	var out []string
	for _, c := range []struct {
		what      string
		was, left int
	}{
		{"sessions", before.Sessions, st.Sessions},
		{"messages", before.Messages, st.Messages},
		{"artifacts", before.Artifacts, st.Artifacts},
		{"kv keys", before.KVKeys, st.KVKeys},
		{"machines", before.Machines, st.Machines},
	} {
		if c.left != c.was {
			out = append(out, fmt.Sprintf("%d %s (%d before)", c.left, c.what, c.was))
		}
	}
	if st.WebSockets != 0 {
		out = append(out, fmt.Sprintf("%d WebSockets open", st.WebSockets))
	}
	return strings.Join(out, ", ")
}

// A Node client (Node's own fetch and the ws package, default headers)
// records sessions, artifacts, kv keys and ticket-authenticated
// WebSockets through `record proxy` against a slow, compressing `replay
// serve` with a capacity limit. The corpus replays at --speed 10
// --multiply 5 twice against one fresh server of the same kind: both
// times every create succeeds, no request gets 404 or 409 (or fails at
// all), every WebSocket opens, and the server holds nothing afterwards.
func TestNodeClientAgainstSlowCompressingServer(t *testing.T) {
	dir := nodeClientDir(t)
	work := t.TempDir()
	out := filepath.Join(work, "node.rpz")

	// Record.
	up := serve(t, slowServer...)
	listen := freeAddr(t)
	proxy, plog := background(t, "record", "proxy", "--listen", listen, "--upstream", "http://"+up, "--out", out)
	waitListening(t, listen)
	ctx, cancel := context.WithTimeout(context.Background(), (nodeSeconds+60)*time.Second)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "happy-client.js", "http://"+listen, fmt.Sprint(nodeUsers), fmt.Sprint(nodeSeconds))
	node.Dir = dir
	var nerr strings.Builder
	node.Stderr = &nerr
	nout, err := node.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, nerr.String())
	}
	var sum nodeSummary
	if err := json.Unmarshal(nout, &sum); err != nil {
		t.Fatalf("node client summary: %v\n%s", err, nout)
	}
	t.Logf("node client: %s", nout)
	proxy.Process.Signal(syscall.SIGINT)
	if err := proxy.Wait(); err != nil {
		t.Fatalf("record proxy: %v\n%s", err, plog)
	}
	if sum.Statuses["200"] != sum.Requests || sum.Requests < 100 {
		t.Fatalf("the client's %d requests were answered %v", sum.Requests, sum.Statuses)
	}
	if sum.Encodings["identity"] != 0 {
		t.Fatalf("the server left %d of %d answers uncompressed: %v", sum.Encodings["identity"], sum.Requests, sum.Encodings)
	}
	if want := 2 * nodeUsers; sum.WebSockets != want {
		t.Fatalf("the client opened %d WebSockets, want %d", sum.WebSockets, want)
	}
	if left := leftBehind(happyapi.State{}, serverState(t, up)); left != "" {
		t.Fatalf("the client itself left %s", left)
	}

	// The corpus: every answer compressed with its Content-Encoding, the
	// bodies decode to JSON; each socket opened with a ticket a request
	// fetched.
	r, err := corpus.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	coll := traffic.Collect(recs)
	if len(coll.Exchanges) != sum.Requests {
		t.Fatalf("corpus holds %d exchanges, the client sent %d", len(coll.Exchanges), sum.Requests)
	}
	codings := map[string]int{}
	tickets := 0
	for _, x := range coll.Exchanges {
		if ae := x.Request.Header.Get("Accept-Encoding"); !strings.Contains(ae, "gzip") {
			t.Fatalf("%s %s asked for Accept-Encoding %q, not what Node's fetch sends", x.Request.Method, x.Request.URL, ae)
		}
		ce := x.Response.Header.Get("Content-Encoding")
		codings[ce]++
		res, err := coding.Body(x.Response.Header, x.Response.Body, 0)
		if err != nil || !res.Complete || !json.Valid(res.Data) {
			t.Fatalf("%s %s: recorded %q body does not decode to JSON (%v): %q", x.Request.Method, x.Request.URL, ce, err, res.Data)
		}
		if x.Request.Method == "POST" && x.Request.URL == "/v1/websocket/ticket" {
			tickets++
		}
	}
	if codings[""] != 0 {
		t.Fatalf("recorded Content-Encodings %v: some answers are not compressed", codings)
	}
	ticketed := 0
	for _, c := range coll.WS {
		if strings.HasPrefix(c.Open.Upgrade.Request.URL, "/v1/updates?ticket=") && c.Open.Upgrade.Response != nil && c.Open.Upgrade.Response.Status == 101 {
			ticketed++
		}
	}
	if ticketed != 2*nodeUsers || tickets != 2*nodeUsers {
		t.Fatalf("corpus holds %d ticket requests and %d ticket-authenticated WebSockets, want %d of each", tickets, ticketed, 2*nodeUsers)
	}
	t.Logf("corpus: %d exchanges, Content-Encoding %v, %d WebSockets", len(coll.Exchanges), codings, len(coll.WS))

	// Replay twice at one fresh server.
	target := serve(t, slowServer...)
	creates := map[string]int{
		"POST /v1/sessions":  sum.Created.Sessions,
		"POST /v1/artifacts": sum.Created.Artifacts,
		"POST /v1/kv":        sum.Created.KV + sum.Deleted.KV,
	}
	for run := 1; run <= 2; run++ {
		before := serverState(t, target)
		results := filepath.Join(work, fmt.Sprintf("run%d.json", run))
		start := time.Now()
		stdout, stderr, code := command(t, time.Minute, "replay", "run", out, "--target", "http://"+target,
			"--speed", "10", "--multiply", fmt.Sprint(nodeCopies), "-q", "--out", "json="+results)
		took := time.Since(start)
		if code != 0 {
			t.Fatalf("run %d: replay exit %d\n%s\n%s", run, code, stdout, stderr)
		}
		f, err := os.Open(results)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		checkNodeRun(t, run, snap, creates, stdout)
		after := serverState(t, target)
		if left := leftBehind(before, after); left != "" {
			t.Errorf("run %d left %s on the server\n%s", run, left, stdout)
		}
		if after.PeakActive > 16 {
			t.Errorf("the server handled %d requests at once, over its --max-concurrent 16", after.PeakActive)
		}
		if run == 1 && after.PeakQueued == 0 {
			t.Errorf("no request ever queued: the capacity limit was not reached, the test does not test a slow server")
		}
		o, ws := snap.Overall, &metrics.WS{}
		if e := snap.Endpoint("WS /v1/updates"); e != nil && e.WS != nil {
			ws = e.WS
		}
		if ws.MsgsRecorded > 0 && float64(ws.MsgsReceived) < 0.95*float64(ws.MsgsRecorded) {
			t.Errorf("run %d: the sockets received %d of %d recorded server messages (under 95 %%): they closed before the pushes of their user's requests", run, ws.MsgsReceived, ws.MsgsRecorded)
		}
		t.Logf("run %d: %d requests, %d failed, %d WebSockets opened of %d, %d of %d recorded server messages; replay took %v for %v of corpus at 10x; "+
			"latency p50 %v p95 %v p99 %v, schedule lag p95 %v; server peak %d at once, %d queued, %d connections",
			run, o.Requests, o.Failed, ws.Sessions, ws.Connects, ws.MsgsReceived, ws.MsgsRecorded, took.Round(time.Millisecond), (coll.Exchanges[len(coll.Exchanges)-1].Start - coll.Exchanges[0].Start).Round(time.Second),
			o.Latency.Percentile(50).Round(time.Millisecond), o.Latency.Percentile(95).Round(time.Millisecond), o.Latency.Percentile(99).Round(time.Millisecond),
			o.ScheduleLag.Percentile(95).Round(time.Millisecond), after.PeakActive, after.PeakQueued, after.PeakConns)
	}
}

// checkNodeRun checks one replay's results: the accounting adds up and
// nothing failed or was left unsent; every create was sent copies times
// its recorded count and succeeded; no endpoint got 404 or 409; every
// WebSocket opened.
func checkNodeRun(t *testing.T, run int, snap *metrics.Snapshot, creates map[string]int, stdout string) {
	t.Helper()
	a, err := snap.Accounting()
	if err != nil {
		t.Errorf("run %d: %v", run, err)
	}
	if len(a.Failed) > 0 || len(a.NotSent) > 0 {
		t.Errorf("run %d: %s", run, a)
	}
	for _, name := range slices.Sorted(maps.Keys(creates)) {
		e := snap.Endpoint(name)
		want := int64(nodeCopies * creates[name])
		if e == nil || e.Requests != want || e.Statuses[200] != want {
			var got any = "none"
			if e != nil {
				got = fmt.Sprintf("%d requests, statuses %v", e.Requests, e.Statuses)
			}
			t.Errorf("run %d: %s: %v, want %d answered 200", run, name, got, want)
		}
	}
	for _, e := range snap.Endpoints {
		if e.Statuses[404] > 0 || e.Statuses[409] > 0 || e.Failed > 0 {
			t.Errorf("run %d: %s: %d failed, statuses %v (failed %v)", run, e.Endpoint, e.Failed, e.Statuses, e.FailedStatuses)
		}
	}
	ws := snap.Endpoint("WS /v1/updates")
	if want := int64(nodeCopies * 2 * nodeUsers); ws == nil || ws.WS == nil || ws.WS.Connects != want || ws.WS.Sessions != want {
		t.Errorf("run %d: WebSockets: %+v, want %d attempted and opened", run, ws, want)
	}
	if t.Failed() {
		t.Logf("run %d summary:\n%s", run, stdout)
	}
}
