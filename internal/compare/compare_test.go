package compare

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const (
	sessionShape = "{session:{createdAt:num,id:str,seq:num}}"
	retypedShape = "{session:{createdAt:num,id:str,seq:str}}"
)

// releases builds runs A and B of a release comparison: one endpoint
// slower, one failing with 500s, one answering a retyped field, one
// faster, one gone, one new, one with a single new timeout, and the rest
// alike.
func releases() (a, b *metrics.Snapshot) {
	asRecorded := func(int) (string, string) { return sessionShape, sessionShape }
	retyped := func(i int) (string, string) {
		if i%10 < 3 {
			return retypedShape, sessionShape
		}
		return sessionShape, sessionShape
	}
	a = synth(1, time.Minute,
		spec{name: "GET /health", n: 2000, lat: logNormal(2*time.Millisecond, 0.3)},
		spec{name: "GET /v1/sessions", n: 2000, lat: expLatency(40 * time.Millisecond)},
		spec{name: "POST /v1/sessions", n: 1500, lat: expLatency(80 * time.Millisecond)},
		spec{name: "GET /v1/sessions/{id}", n: 1500, lat: logNormal(30*time.Millisecond, 0.5), shape: asRecorded},
		spec{name: "GET /v1/machines", n: 1500, lat: expLatency(60 * time.Millisecond)},
		spec{name: "GET /v1/artifacts", n: 100, lat: expLatency(50 * time.Millisecond)},
		spec{name: "GET /v1/feed", n: 300, lat: expLatency(20 * time.Millisecond)},
	)
	b = synth(2, time.Minute,
		spec{name: "GET /health", n: 2000, lat: logNormal(2*time.Millisecond, 0.3)},
		spec{name: "GET /v1/sessions", n: 2000, lat: scaled(expLatency(40*time.Millisecond), 1.25)},
		spec{name: "POST /v1/sessions", n: 1500, lat: expLatency(80 * time.Millisecond), status5xx: 0.03},
		spec{name: "GET /v1/sessions/{id}", n: 1500, lat: logNormal(30*time.Millisecond, 0.5), shape: retyped},
		spec{name: "GET /v1/machines", n: 1500, lat: scaled(expLatency(60*time.Millisecond), 0.7)},
		spec{name: "GET /v1/artifacts", n: 100, lat: expLatency(50 * time.Millisecond), errRate: 0.01},
		spec{name: "GET /v1/kv", n: 300, lat: expLatency(20 * time.Millisecond)},
	)
	b.Meta.Target = "http://127.0.0.1:8788"
	return a, b
}

func TestCompareReleases(t *testing.T) {
	a, b := releases()
	for _, tc := range []struct {
		name string
		opts Options
		text TextOptions
	}{
		{"defaults", Options{}, TextOptions{}},
		{"rules", Options{Rules: mustRules(t, "p95>+40%", "GET /v1/machines: p50>+1ms", "error_rate>+5pp")}, TextOptions{}},
		{"all", Options{}, TextOptions{All: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compare(a, b, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			rep.A.File, rep.B.File = "a.json", "b.json"
			var buf bytes.Buffer
			if err := rep.WriteText(&buf, tc.text); err != nil {
				t.Fatal(err)
			}
			golden(t, buf.Bytes())
		})
	}
}

func mustRules(t *testing.T, exprs ...string) []Rule {
	t.Helper()
	rs, err := ParseRules(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// find returns the comparison of metric on endpoint.
func find(r *Report, endpoint, metric string) *Comparison {
	for _, c := range r.all() {
		if c.Endpoint == endpoint && c.Metric == metric {
			return c
		}
	}
	return nil
}

func TestCompareFindings(t *testing.T) {
	a, b := releases()
	rep, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		endpoint, metric string
		want             Class
	}{
		{"GET /v1/sessions", "latency p50", Regression},
		{"GET /v1/sessions", "latency p95", Regression},
		{"GET /v1/sessions", "latency mean", Regression},
		{"GET /v1/sessions", "latency distribution", Regression},
		{"POST /v1/sessions", "status 500", Regression},
		{"POST /v1/sessions", "error_rate", Regression},
		{"GET /v1/sessions/{id}", "shape", Regression},
		{"GET /v1/sessions/{id}", "shape_checks", Regression},
		{"GET /v1/machines", "latency p50", Improvement},
		{"GET /v1/machines", "latency distribution", Improvement},
		{"GET /v1/kv", "endpoint", Change},
		{"GET /v1/feed", "endpoint", Change},
		{"GET /v1/artifacts", "error timeout", Change},
		{"GET /v1/artifacts", "latency p50", Unchanged},
		{"GET /health", "latency p50", Unchanged},
		{"GET /health", "latency p99", Unchanged},
		{"GET /health", "error_rate", Unchanged},
	} {
		c := find(rep, tc.endpoint, tc.metric)
		if c == nil {
			t.Errorf("%s %s: not compared", tc.endpoint, tc.metric)
			continue
		}
		if c.Class != tc.want {
			t.Errorf("%s %s: %s (A %v, B %v, p adj %v), want %s", tc.endpoint, tc.metric, c.Class, c.A, c.B, deref(c.PAdjusted), tc.want)
		}
	}
	shape := find(rep, "GET /v1/sessions/{id}", "shape")
	if want := []string{"-session.seq: num", "+session.seq: str"}; shape == nil || strings.Join(shape.Diff, "|") != strings.Join(want, "|") || shape.Closest != sessionShape {
		t.Errorf("shape finding %+v, want diff %q from %q", shape, want, sessionShape)
	}
	if rep.Verdict() != Regression {
		t.Errorf("verdict %s", rep.Verdict())
	}
	if e := rep.Endpoints[0]; e.Endpoint != "GET /health" || e.Class != Unchanged {
		t.Errorf("first endpoint %s is %s", e.Endpoint, e.Class)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestCompareJSON(t *testing.T) {
	a, b := releases()
	rep, err := Compare(a, b, Options{Rules: mustRules(t, "p95>+10%")})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format    string         `json:"format"`
		Version   int            `json:"version"`
		Verdict   string         `json:"verdict"`
		Counts    map[string]int `json:"counts"`
		Tests     int            `json:"tests"`
		Options   map[string]any `json:"options"`
		Endpoints []struct {
			Endpoint    string `json:"endpoint"`
			Presence    string `json:"presence"`
			Class       string `json:"class"`
			Comparisons []struct {
				Metric      string   `json:"metric"`
				Class       string   `json:"class"`
				P           *float64 `json:"p"`
				PAdjusted   *float64 `json:"p_adjusted"`
				Significant bool     `json:"significant"`
				Rule        string   `json:"rule"`
				Diff        []string `json:"diff"`
			} `json:"comparisons"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.Format != DocFormat || doc.Version != 1 || doc.Verdict != "regression" || doc.Counts["regression"] != rep.Count(Regression) || doc.Tests != rep.Tests {
		t.Errorf("header: %+v", doc)
	}
	if doc.Options["alpha"] != 0.01 || doc.Options["min_latency_change_ms"] != 1.0 {
		t.Errorf("options %v", doc.Options)
	}
	classes := map[string]string{}
	rules := map[string]string{}
	for _, e := range doc.Endpoints {
		classes[e.Endpoint] = e.Presence + " " + e.Class
		for _, c := range e.Comparisons {
			if c.P != nil && (c.PAdjusted == nil || *c.PAdjusted < *c.P) {
				t.Errorf("%s %s: adjusted p %v below raw %v", e.Endpoint, c.Metric, c.PAdjusted, *c.P)
			}
			if c.Rule != "" {
				rules[e.Endpoint+" "+c.Metric] = c.Rule
			}
		}
	}
	want := map[string]string{
		"GET /health": "both unchanged", "GET /v1/sessions": "both regression", "GET /v1/kv": "new change",
		"GET /v1/feed": "vanished change", "GET /v1/machines": "both improvement",
	}
	for ep, w := range want {
		if classes[ep] != w {
			t.Errorf("%s: %q, want %q", ep, classes[ep], w)
		}
	}
	if rules["GET /v1/sessions latency p95"] != "p95>+10%" {
		t.Errorf("rule decisions %v", rules)
	}
}

// Two runs drawn from the same distributions compare as unchanged: over
// many pairs, the share with anything significant stays near (below)
// alpha, and a single test's p-values fall under alpha about alpha of
// the time.
func TestSameDistributionNoChange(t *testing.T) {
	specs := []spec{
		{name: "GET /a", n: 600, lat: expLatency(30 * time.Millisecond), errRate: 0.01},
		{name: "GET /b", n: 600, lat: logNormal(20*time.Millisecond, 0.6), status5xx: 0.02},
		{name: "POST /c", n: 300, lat: expLatency(80 * time.Millisecond)},
	}
	const trials, alpha = 150, 0.05
	anySignificant, flagged := 0, 0
	single := map[string]int{}
	for i := 0; i < trials; i++ {
		a := synth(uint64(1000+2*i), time.Minute, specs...)
		b := synth(uint64(1001+2*i), time.Minute, specs...)
		rep, err := Compare(a, b, Options{Alpha: alpha})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.all() {
			if c.Significant {
				anySignificant++
				break
			}
		}
		if v := rep.Verdict(); v == Regression || v == Improvement {
			flagged++
		}
		for _, m := range []string{"latency distribution", "latency p50", "latency p95", "latency mean", "error_rate"} {
			if c := find(rep, "GET /a", m); c != nil && c.P != nil && *c.P < alpha {
				single[m]++
			}
		}
	}
	// the family-wise rate is at most alpha (7.5 of 150): allow sampling noise
	if anySignificant > 2*trials*alpha {
		t.Errorf("%d of %d same-distribution pairs had a significant difference, %d flagged (alpha %v)", anySignificant, trials, flagged, alpha)
	}
	// a single test is calibrated: about alpha*trials (7.5) rejections;
	// binomial 99.9% bounds are 1..17
	for m, n := range single {
		if n > 17 {
			t.Errorf("%s: p < %v in %d of %d pairs", m, alpha, n, trials)
		}
	}
	total := 0
	for _, n := range single {
		total += n
	}
	if total == 0 {
		t.Errorf("no single test ever rejected over %d pairs: the tests are not calibrated", trials)
	}
	t.Logf("any significant %d/%d, flagged %d, single-test rejections %v", anySignificant, trials, flagged, single)
}

// A 20% slower release is found, every time, with 2000 requests.
func TestShiftDetected(t *testing.T) {
	for seed := uint64(0); seed < 10; seed++ {
		base := []spec{
			{name: "GET /a", n: 2000, lat: expLatency(30 * time.Millisecond)},
			{name: "GET /b", n: 2000, lat: logNormal(20*time.Millisecond, 0.6)},
		}
		slow := []spec{base[0], {name: "GET /b", n: 2000, lat: scaled(logNormal(20*time.Millisecond, 0.6), 1.2)}}
		rep, err := Compare(synth(100+2*seed, time.Minute, base...), synth(101+2*seed, time.Minute, slow...), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"latency p50", "latency mean", "latency distribution"} {
			if c := find(rep, "GET /b", m); c == nil || c.Class != Regression {
				t.Errorf("seed %d: GET /b %s not a regression: %+v", seed, m, c)
			}
		}
		if c := find(rep, "GET /b", "latency p50"); c != nil && (*c.Relative < 0.1 || *c.Relative > 0.3) {
			t.Errorf("seed %d: p50 change %.3f, want about +20%%", seed, *c.Relative)
		}
		for _, c := range rep.all() {
			if c.Endpoint == "GET /a" && c.Class != Unchanged {
				t.Errorf("seed %d: unchanged endpoint flagged: %s %s", seed, c.Metric, c.Class)
			}
		}
	}
}

// A rule replaces the practical threshold: a 25% slower p95 is within
// "p95>+40%", and beyond "p95>+10%".
func TestRulesDecide(t *testing.T) {
	a, b := releases()
	for _, tc := range []struct {
		rule string
		want Class
	}{
		{"p95>+40%", Unchanged},
		{"p95>+10%", Regression},
		{"GET /v1/sessions: p95>+5ms", Regression},
		{"GET /v1/sessions: p95>+1s", Unchanged},
		{"GET /health: p95>+1%", Regression}, // another endpoint's rule leaves the default
	} {
		t.Run(tc.rule, func(t *testing.T) {
			rep, err := Compare(a, b, Options{Rules: mustRules(t, tc.rule)})
			if err != nil {
				t.Fatal(err)
			}
			c := find(rep, "GET /v1/sessions", "latency p95")
			if c.Class != tc.want {
				t.Fatalf("latency p95 %s (%+.1f%%), want %s", c.Class, *c.Relative*100, tc.want)
			}
			if tc.want == Regression && strings.HasPrefix(tc.rule, "p95") && c.Rule != tc.rule {
				t.Errorf("rule %q not recorded: %q", tc.rule, c.Rule)
			}
		})
	}
}

func TestCompareNotes(t *testing.T) {
	a, b := releases()
	b.Meta.Corpus, b.Meta.Speed, b.Meta.Shard = "other.rpz", 5, "1/4"
	a.Meta.Aborted = "error_rate<10% (http_req_failed=30.00%)"
	rep, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"different corpora", "different loads", "B is shard 1/4", "replay merge"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	if p := strings.Join(rep.Partial, "\n"); !strings.Contains(p, "A stopped early by an abort threshold: error_rate<10%") {
		t.Errorf("partial runs %q do not name A's abort", p)
	}
	if _, err := Compare(a, b, Options{Alpha: 2}); err == nil {
		t.Error("alpha 2 accepted")
	}
}

// Runs of different virtual users are different loads, even at one
// speed and without copies.
func TestCompareNotesVUs(t *testing.T) {
	a, b := releases()
	a.Meta.VUsMax, b.Meta.VUsMax = 10, 20
	rep, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if joined := strings.Join(rep.Notes, "\n"); !strings.Contains(joined, "different loads") || !strings.Contains(joined, "10 VUs") || !strings.Contains(joined, "20 VUs") {
		t.Errorf("notes do not say the VUs differ:\n%s", joined)
	}
	b.Meta.VUsMax = 10
	if rep, _ := Compare(a, b, Options{}); strings.Contains(strings.Join(rep.Notes, "\n"), "different loads") {
		t.Errorf("same VUs called different loads: %v", rep.Notes)
	}
}

func TestCompareEmpty(t *testing.T) {
	empty := metrics.NewCollector().Snapshot()
	rep, err := Compare(empty, empty, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict() != Unchanged || !strings.Contains(buf.String(), "verdict: UNCHANGED") {
		t.Errorf("empty runs:\n%s", buf.String())
	}
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
}

// Latency that grew while service time did not is time spent waiting to
// be sent, and the report says so.
func TestQueueingNotServer(t *testing.T) {
	mk := func(seed uint64, wait time.Duration) *metrics.Snapshot {
		r := rand.New(rand.NewPCG(seed, 1))
		c := metrics.NewCollector()
		for i := 0; i < 1500; i++ {
			svc := time.Millisecond + time.Duration(r.ExpFloat64()*float64(20*time.Millisecond))
			at := time.Duration(i) * 40 * time.Millisecond
			c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/machines", Flow: "u", Intended: at, Sent: at + wait,
				Latency: svc + wait, Service: svc, Status: 200, Expected: 200})
		}
		s := c.Snapshot()
		s.Meta.Duration = time.Minute
		return s
	}
	rep, err := Compare(mk(1, 0), mk(2, 15*time.Millisecond), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := find(rep, "GET /v1/machines", "latency p50"); c == nil || c.Class != Regression {
		t.Fatalf("latency p50: %+v", c)
	}
	if c := find(rep, "GET /v1/machines", "service p50"); c == nil || c.Class != Unchanged {
		t.Fatalf("service p50: %+v", c)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "service time (from the actual send) did not change") {
		t.Errorf("no word on queueing:\n%s", buf.String())
	}
}

func BenchmarkCompare(b *testing.B) {
	a, bb := releases()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compare(a, bb, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

var pColumn = regexp.MustCompile(`(<0\.0001|[01]\.\d{4}|  -)$`)

// The count of a section is the number of rows it shows, service-time
// rows that repeat their latency row included in neither.
func TestCompareCountEqualsRows(t *testing.T) {
	a, b := releases()
	rep, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, section := 0, false
	for _, l := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "regressions"):
			section = true
		case strings.TrimSpace(l) == "":
			section = false
		case section && pColumn.MatchString(l) && !strings.HasPrefix(strings.TrimSpace(l), "endpoint "):
			rows++ // a row ends with its adjusted p-value; detail lines do not
		}
	}
	if rows == 0 {
		t.Fatalf("no regression rows:\n%s", buf.String())
	}
	n := len(rep.Rows(Regression))
	if n != rows || !strings.Contains(buf.String(), fmt.Sprintf("regressions (%d)", rows)) {
		t.Errorf("Rows(Regression) = %d, the text shows %d rows:\n%s", n, rows, buf.String())
	}
	if len(rep.Regressions()) <= n {
		t.Errorf("the synthetic releases should have service-time regressions the text folds into latency rows")
	}
}

// A run that covers only part of its corpus is named in a warning and
// in the verdict: an UNCHANGED verdict never passes for a whole one.
func TestComparePartialRun(t *testing.T) {
	a, _ := releases()
	b, _ := releases()
	b.Meta.Interrupted = &metrics.Interruption{At: 5 * time.Second, Reason: "interrupt signal received"}
	rep, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict() != Unchanged {
		t.Fatalf("verdict %s, want unchanged (same runs)", rep.Verdict())
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"warning: partial run: B interrupted after 5s (interrupt signal received)",
		"verdict: UNCHANGED (PARTIAL: B interrupted after 5s (interrupt signal received))",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
	var doc struct {
		Partial []string `json:"partial"`
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Partial) != 1 {
		t.Errorf("JSON partial %v (%v)", doc.Partial, err)
	}
	// whole runs say nothing of the kind
	b.Meta.Interrupted = nil
	if rep, _ := Compare(a, b, Options{}); len(rep.Partial) != 0 {
		t.Errorf("whole runs called partial: %v", rep.Partial)
	}
}

// Corpus identities decide whether two runs replayed one corpus, not
// the files' names.
func TestCompareCorpusIdentity(t *testing.T) {
	a, b := releases()
	a.Meta.Corpus, b.Meta.Corpus = "/data/dev.rpz", "./dev.rpz"
	a.Meta.CorpusID, b.Meta.CorpusID = "sha256:1111", "sha256:1111"
	rep, _ := Compare(a, b, Options{})
	if joined := strings.Join(rep.Notes, "\n"); strings.Contains(joined, "different corpora") {
		t.Errorf("one corpus under two names called different: %s", joined)
	}
	b.Meta.Corpus, b.Meta.CorpusID = a.Meta.Corpus, "sha256:2222"
	rep, _ = Compare(a, b, Options{})
	if joined := strings.Join(rep.Notes, "\n"); !strings.Contains(joined, "different corpora") || !strings.Contains(joined, "sha256:2222") {
		t.Errorf("two corpora under one name not told apart: %s", joined)
	}
}
