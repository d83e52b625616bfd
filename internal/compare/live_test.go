package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// release says how a simulated release answers.
type release struct {
	// slow is added to the latency and service time of slowEndpoint;
	// queued to the latency of queuedEndpoint only (time waiting to be
	// sent behind slow requests of the same flows).
	slow, queued                 time.Duration
	slowEndpoint, queuedEndpoint string
	// state is the "state" member of GET /v1/items answers.
	state string
	// drop leaves out the WebSocket messages of type "update".
	drop bool
	// token is the "token" member of POST /v1/auth answers.
	token string
	// workers: GET /health answers name the worker that served them,
	// one of three at random.
	workers bool
}

var baseline = release{state: "active", token: "tok-same"}

// liveRun simulates a live comparison: every event answered by each
// release (lane) with a latency made of a moment's load shared by the
// twins, a release's own noise, and a burst now and then that slows one
// release alone for a while; answers carry ids and timestamps of their
// own. It returns the report and each lane's results.
func liveRun(t *testing.T, seed uint64, n int, releases ...release) *Report {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	lanes := len(releases)
	now := time.Unix(0, 0)
	live := NewLive(LiveOptions{Lanes: lanes, Now: func() time.Time { return now }})
	cols := make([]*metrics.Collector, lanes)
	for i := range cols {
		cols[i] = metrics.NewCollector()
	}
	endpoints := []string{"GET /health", "GET /v1/items", "POST /v1/auth"}
	const step = 10 * time.Millisecond
	// bursts: per lane, windows in which that release is 20 ms slower
	burst := make([]map[int64]bool, lanes)
	for l := range burst {
		burst[l] = map[int64]bool{}
		for range n / 200 {
			burst[l][int64(r.IntN(n*int(step)/int(Window)))] = true
		}
	}
	for i := range n {
		seq := uint64(i)
		at := time.Duration(i) * step
		now = time.Unix(0, 0).Add(at)
		ep := endpoints[i%len(endpoints)]
		load := time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		for l, rel := range releases {
			lat := time.Millisecond + load + time.Duration(r.ExpFloat64()*float64(300*time.Microsecond))
			if burst[l][int64(at/Window)] {
				lat += 20 * time.Millisecond
			}
			if ep == rel.slowEndpoint {
				lat += rel.slow
			}
			svc := lat - 100*time.Microsecond
			if ep == rel.queuedEndpoint {
				lat += rel.queued
			}
			res := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: ep, Seq: seq, Intended: at, Sent: at,
				Latency: lat, Service: svc, Status: 200, Expected: 200, Flow: "u1"}
			cols[l].Add(res)
			live.Result(l, res)
			live.Observe(l, Answer{Seq: seq, Endpoint: ep, Status: 200,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: body(r, ep, at, rel)})
		}
	}
	// WebSocket connections: a "connected" message, then updates
	for c := range 30 {
		seq := uint64(n + c)
		now = time.Unix(0, 0).Add(time.Duration(c) * 300 * time.Millisecond)
		for l, rel := range releases {
			live.Observe(l, Answer{Seq: seq, WS: true, Endpoint: "WS /v1/updates", Text: true,
				Body: fmt.Appendf(nil, `{"event":"connected","data":{"connectionId":"%016x"}}`, r.Uint64())})
			if !rel.drop {
				for k := range 3 {
					live.Observe(l, Answer{Seq: seq, WS: true, Endpoint: "WS /v1/updates", Text: true,
						Body: fmt.Appendf(nil, `{"type":"update","payload":{"body":{"t":"new-message","n":%d}}}`, k)})
				}
			}
			live.Result(l, traffic.Result{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates", Seq: seq, Intended: time.Duration(c) * 300 * time.Millisecond})
		}
	}
	snaps := make([]*metrics.Snapshot, lanes)
	for l := range snaps {
		snaps[l] = cols[l].Snapshot()
		snaps[l].SetMeta(metrics.Meta{Tool: "reprise test", Target: fmt.Sprintf("http://127.0.0.1:%d", 8000+l), Corpus: "synthetic.rpz",
			Speed: 1, Duration: time.Duration(n) * step, Scheduled: int64(n)})
	}
	var a2 *metrics.Snapshot
	if lanes > 2 {
		a2 = snaps[2]
	}
	rep, err := live.Compare(snaps[0], snaps[1], a2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// body is one release's answer to an event: ids, timestamps and request
// ids of its own, the rest from the release.
func body(r *rand.Rand, ep string, at time.Duration, rel release) []byte {
	epoch := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).Add(at + time.Duration(r.IntN(3))*time.Millisecond)
	switch ep {
	case "GET /health":
		worker := ""
		if rel.workers {
			worker = fmt.Sprintf(`,"worker":"w%d"`, r.IntN(3))
		}
		return fmt.Appendf(nil, `{"status":"healthy","timestamp":%q,"requestId":"req-%d"%s}`, epoch.Format(time.RFC3339Nano), r.Uint32(), worker)
	case "GET /v1/items":
		return fmt.Appendf(nil, `{"items":[{"id":"%x","state":%q,"createdAt":%d},{"id":"%x","state":"archived","createdAt":%d}],"total":2}`,
			r.Uint64(), rel.state, epoch.UnixMilli(), r.Uint64(), epoch.UnixMilli())
	}
	return fmt.Appendf(nil, `{"token":%q,"user":"u%d"}`, rel.token, 7)
}

// classes lists the non-unchanged comparisons: "endpoint metric class".
func classes(rep *Report) []string {
	var out []string
	for _, c := range rep.all() {
		if c.Class != Unchanged {
			name := c.Endpoint
			if name == "" {
				name = overallName
			}
			out = append(out, name+" "+c.Metric+" "+c.Class.String())
		}
	}
	return out
}

func TestLiveSameRelease(t *testing.T) {
	for seed := range uint64(5) {
		rep := liveRun(t, seed, 3000, baseline, baseline)
		if rep.Verdict() != Unchanged {
			var text bytes.Buffer
			rep.WriteText(&text, TextOptions{})
			t.Errorf("seed %d: verdict %s for one release against itself: %q\n%s", seed, rep.Verdict(), classes(rep), text.String())
		}
		if rep.Live.Pairs != 3000 || rep.Live.Compared != 3000 || rep.Live.Connections != 30 || rep.Live.NoiseFields == 0 {
			t.Errorf("seed %d: live counts %+v", seed, rep.Live)
		}
	}
}

// B is slower on GET /v1/items, and one field of its answers changed;
// GET /health's requests wait behind it (their latency grows, their
// service time does not): only GET /v1/items is flagged.
func TestLiveSlowerAndChanged(t *testing.T) {
	b := baseline
	b.slow, b.slowEndpoint, b.state = 15*time.Millisecond, "GET /v1/items", "ACTIVE"
	b.queued, b.queuedEndpoint = 10*time.Millisecond, "GET /health"
	rep := liveRun(t, 7, 3000, baseline, b)
	if rep.Verdict() != Regression {
		t.Fatalf("verdict %s, want regression", rep.Verdict())
	}
	for _, c := range rep.Regressions() {
		if c.Endpoint != "GET /v1/items" && c.Endpoint != "" {
			t.Errorf("regression on %s %s: only GET /v1/items (and the whole run) changed", c.Endpoint, c.Metric)
		}
		if c.Kind == KindField && c.Field.Field != "items[].state" {
			t.Errorf("field %s flagged: only items[].state changed", c.Field.Field)
		}
	}
	var items *Endpoint
	for _, e := range rep.Endpoints {
		if e.Endpoint == "GET /v1/items" {
			items = e
		}
	}
	var health *Endpoint
	for _, e := range rep.Endpoints {
		if e.Endpoint == "GET /health" {
			health = e
		}
	}
	if q := health.metric("latency paired shift"); q == nil || q.Class != Unchanged || !strings.Contains(q.Note, "waiting to be sent") || math.Abs(q.Delta-10) > 0.5 {
		t.Errorf("GET /health, queued 10ms behind: %+v", q)
	}
	shift, state := items.metric("latency paired shift"), items.metric("field items[].state")
	if shift == nil || shift.Class != Regression || math.Abs(shift.Delta-15) > 0.5 || *shift.CILow > 15 || *shift.CIHigh < 15 {
		t.Errorf("paired shift %+v: want a regression of 15ms inside its interval", shift)
	}
	if state == nil || state.Class != Regression || state.Field.ExampleA != `"active"` || state.Field.ExampleB != `"ACTIVE"` || !state.Field.Consistent {
		t.Errorf("field items[].state: %+v", state)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"verdict: REGRESSION", "field items[].state", `"active"`, `"ACTIVE"`, "differs in 1000 of 1000",
		"latency paired shift", "95% interval of the change", "paired: 3000 events"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// With A2, noise is what differs as often between A and A2: the worker
// that served an answer (one of three, neither an id nor a time, and no
// more varied than a state) is noise, and a change of B is found.
// Without A2 the heuristic takes the worker for a change.
func TestLiveNoiseFromA2(t *testing.T) {
	a := baseline
	a.workers = true
	b := a
	b.state = "ACTIVE"
	rep := liveRun(t, 11, 3000, a, b, a)
	if rep.Live.Noise != "a2" || rep.A2 == nil {
		t.Fatalf("noise %q, A2 %v", rep.Live.Noise, rep.A2)
	}
	var got []string
	for _, c := range rep.Regressions() {
		got = append(got, c.Endpoint+" "+c.Metric)
	}
	if strings.Join(got, ";") != "GET /v1/items field items[].state" {
		t.Errorf("regressions %q, want only GET /v1/items field items[].state", got)
	}
	var health *Endpoint
	for _, e := range rep.Endpoints {
		if e.Endpoint == "GET /health" {
			health = e
		}
	}
	w := health.metric("field worker")
	if w == nil || w.Class != Unchanged || w.Field.NoiseDiffer < 500 || w.Field.Noise == "" || w.Field.ExampleA2 == "" {
		t.Errorf("worker with A2: %+v, want noise learnt from A2", w)
	}
	if id := health.metric("field requestId"); id == nil || id.Class != Unchanged {
		t.Errorf("requestId with A2: %+v", id)
	}
	rep = liveRun(t, 11, 3000, a, b)
	got = nil
	for _, c := range rep.Regressions() {
		got = append(got, c.Endpoint+" "+c.Metric)
	}
	if strings.Join(got, ";") != "GET /health field worker;GET /v1/items field items[].state" {
		t.Errorf("regressions without A2 %q: want the worker taken for a change", got)
	}
}

func TestLiveWebSocketAndSecrets(t *testing.T) {
	b := baseline
	b.drop, b.token = true, "tok-other-secret"
	rep := liveRun(t, 13, 600, baseline, b)
	var got []string
	for _, c := range rep.Regressions() {
		got = append(got, c.Endpoint+" "+c.Metric)
		if c.Field != nil && c.Field.Field == "token" && (strings.Contains(c.Field.ExampleB, "other-secret") || !strings.Contains(c.Field.ExampleB, "<redacted:")) {
			t.Errorf("the token's example is not redacted: %s", c.Field.ExampleB)
		}
	}
	want := "POST /v1/auth field token;WS /v1/updates field count(message[update/new-message])"
	if strings.Join(got, ";") != want {
		t.Errorf("regressions %q, want %q", got, want)
	}
}

func TestLiveReservoir(t *testing.T) {
	live := NewLive(LiveOptions{MaxPairs: 100})
	for i := range 1000 {
		for l := range 2 {
			live.Result(l, traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Seq: uint64(i), Intended: time.Duration(i) * 10 * time.Millisecond,
				Latency: time.Millisecond, Service: time.Millisecond, Status: 200})
		}
	}
	acc := live.eps["GET /x"]
	if len(acc.sample) != 100 || acc.answered != 1000 || acc.diff[0].n != 1000 {
		t.Errorf("sample %d of %d answered pairs, mean over %d: want 100 of 1000, mean over all", len(acc.sample), acc.answered, acc.diff[0].n)
	}
	// unpaired results are counted, not kept forever
	live.Result(0, traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Seq: 5000, Status: 200})
	live.Observe(0, Answer{Seq: 5000, Endpoint: "GET /x", Status: 200})
	s := metrics.NewCollector().Snapshot()
	rep, err := live.Compare(s, s, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Live.Unpaired != 1 || rep.Live.Uncompared != 1 || rep.Live.Sampled != 1 {
		t.Errorf("counts %+v: want 1 unpaired, 1 uncompared, 1 endpoint sampled", rep.Live.LiveCounts)
	}
}

func TestLiveDocument(t *testing.T) {
	b := baseline
	b.state = "ACTIVE"
	rep := liveRun(t, 17, 600, baseline, b)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict string                     `json:"verdict"`
		Live    *LiveInfo                  `json:"live"`
		Results map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "regression" || doc.Live == nil || doc.Live.Pairs != 600 {
		t.Errorf("verdict %q, live %+v", doc.Verdict, doc.Live)
	}
	for _, name := range []string{"a", "b"} {
		s, err := metrics.Decode(bytes.NewReader(doc.Results[name]))
		if err != nil {
			t.Fatalf("results of %s: %v", name, err)
		}
		if s.Overall.Requests != 600 {
			t.Errorf("results of %s: %d requests, want 600", name, s.Overall.Requests)
		}
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"field": "items[].state"`)) || !bytes.Contains(buf.Bytes(), []byte(`"ci_low"`)) {
		t.Error("the document lacks the field difference or the intervals")
	}
}

func TestLiveHTML(t *testing.T) {
	b := baseline
	b.slow, b.slowEndpoint, b.state = 15*time.Millisecond, "GET /v1/items", "ACTIVE"
	rep := liveRun(t, 19, 1500, baseline, b)
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	h := buf.String()
	verdict := strings.Index(h, `class="verdict regression"`)
	latency := strings.Index(h, `id="latency"`)
	fields := strings.Index(h, `id="fields"`)
	if verdict < 0 || latency < verdict || fields < latency {
		t.Errorf("sections out of order: verdict %d, latency %d, fields %d", verdict, latency, fields)
	}
	for _, want := range []string{"GET /v1/items · field items[].state", "&#34;ACTIVE&#34;", "<svg", "latency-table"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, external := range []string{"<script", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(h, external) {
			t.Errorf("HTML is not self-contained: %q", external)
		}
	}
}
