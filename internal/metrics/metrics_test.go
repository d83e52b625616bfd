package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/reprise/reprise/internal/traffic"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p*float64(len(sorted))/100 - 1e-9))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestPercentilesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tests := []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{"uniform 1..10000µs", func(i int) time.Duration { return time.Duration(i+1) * time.Microsecond }, 10000},
		{"exponential mean 20ms", func(int) time.Duration { return time.Duration(r.ExpFloat64() * float64(20*time.Millisecond)) }, 50000},
		{"lognormal around 150ms", func(int) time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*0.6) * float64(150*time.Millisecond))
		}, 50000},
		{"bimodal with 2% stalls of 2s", func(i int) time.Duration {
			if i%50 == 0 {
				return 2*time.Second + time.Duration(r.IntN(1000))*time.Millisecond
			}
			return 5*time.Millisecond + time.Duration(r.IntN(5000))*time.Microsecond
		}, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDist()
			vals := make([]time.Duration, tt.n)
			for i := range vals {
				vals[i] = tt.gen(i).Truncate(time.Microsecond)
				d.Record(vals[i])
			}
			slices.Sort(vals)
			for _, p := range []float64{50, 90, 95, 99, 99.9} {
				want := exactPercentile(vals, p)
				got := d.Percentile(p)
				// HDR reports the upper end of the bucket: at most 0.1% above
				// the exact value, never below it.
				if got < want || float64(got-want) > float64(want)*0.001+float64(time.Microsecond) {
					t.Errorf("p%v = %v, exact %v", p, got, want)
				}
			}
			if got, want := d.Count(), int64(tt.n); got != want {
				t.Errorf("count = %d, want %d", got, want)
			}
			if d.Min() > vals[0] || d.Max() < vals[len(vals)-1] {
				t.Errorf("min/max %v/%v do not bracket %v/%v", d.Min(), d.Max(), vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestDistClamp(t *testing.T) {
	d := NewDist()
	d.Record(2 * time.Hour)
	d.Record(-time.Second)
	if d.Clamped() != 1 {
		t.Errorf("clamped = %d, want 1", d.Clamped())
	}
	if d.Max() < time.Hour || d.Min() != 0 {
		t.Errorf("min/max = %v/%v", d.Min(), d.Max())
	}
}

func TestCollectorCounts(t *testing.T) {
	c := NewCollector()
	ms := time.Millisecond
	results := []traffic.Result{
		{Kind: traffic.ResultHTTP, Endpoint: "GET /health", Flow: "u1", Intended: 0, Sent: 1 * ms, Latency: 10 * ms, Service: 9 * ms, Status: 200, Expected: 200, BytesSent: 100, BytesReceived: 1000, Connecting: 2 * ms},
		{Kind: traffic.ResultHTTP, Endpoint: "GET /health", Flow: "u1", Intended: 100 * ms, Sent: 100 * ms, Latency: 20 * ms, Service: 20 * ms, Status: 503, Expected: 200, BytesSent: 100, BytesReceived: 50},
		{Kind: traffic.ResultHTTP, Endpoint: "POST /v1/sessions", Flow: "u2", Intended: 200 * ms, Sent: 200 * ms, Latency: 5 * time.Second, Service: 5 * time.Second, Error: "timeout", Expected: 200, BytesSent: 300},
		{Kind: traffic.ResultHTTP, Endpoint: "POST /v1/sessions", Flow: "u2", Intended: 300 * ms, NotSent: traffic.NotSentInFlight, Expected: 200},
		{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions/{id}", Flow: "u2", Intended: 400 * ms, Sent: 400 * ms, Latency: 30 * ms, Service: 30 * ms, Status: 404},
		{Kind: traffic.ResultWSConnect, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u1", Intended: 0, Sent: 0, Latency: 3 * ms, Service: 3 * ms, Status: 101, Expected: 101},
		{Kind: traffic.ResultWSConnect, Endpoint: "WS /v1/updates [session-scoped]", Flow: "u2", Intended: 0, Sent: 0, Latency: 4 * ms, Connecting: 2 * ms, Service: 4 * ms, Status: 101, Expected: 101},
		{Kind: traffic.ResultWSSend, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u1", Intended: 50 * ms, Sent: 51 * ms},
		{Kind: traffic.ResultWSSend, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u1", Intended: 60 * ms, NotSent: traffic.NotSentNoConn},
		{Kind: traffic.ResultWSRoundTrip, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u1", Intended: 50 * ms, Latency: 7 * ms},
		{Kind: traffic.ResultWSPush, Endpoint: "WS /v1/updates [session-scoped]", Flow: "u2", Intended: 210 * ms, Latency: 12 * ms},
		{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u1", Intended: 0, Sent: 0, Latency: 2 * time.Second, Service: 2 * time.Second, MsgsSent: 1, MsgsReceived: 9, MsgsRecorded: 10},
		{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates [session-scoped]", Flow: "u2", Intended: 0, Sent: 0, Latency: 1 * time.Second, Service: 1 * time.Second, MsgsReceived: 4, MsgsRecorded: 4},
	}
	for _, r := range results {
		c.Add(r)
	}
	s := c.Snapshot()
	s.Meta.Scheduled = 9 // 5 http + 2 ws-connect + 2 ws-send
	o := s.Overall

	checks := []struct {
		name      string
		got, want int64
	}{
		{"requests", o.Requests, 4},
		{"failed (503, timeout, not sent, 404)", o.Failed, 4},
		{"checks passed (200, 101, 101)", o.ChecksPassed, 3},
		{"checks failed (503, timeout)", o.ChecksFailed, 2},
		{"2xx", o.StatusClasses["2xx"], 1},
		{"4xx", o.StatusClasses["4xx"], 1},
		{"5xx", o.StatusClasses["5xx"], 1},
		{"upgrades are not HTTP statuses", o.StatusClasses["1xx"], 0},
		{"no status 101", o.Statuses[101], 0},
		{"bytes sent", o.BytesSent, 500},
		{"bytes received", o.BytesReceived, 1050},
		{"latency count", o.Latency.Count(), 4},
		{"connecting count", o.Connecting.Count(), 4},
		{"schedule lag count (4 http + 2 connect + 1 send)", o.ScheduleLag.Count(), 7},
		{"errors timeout", o.Errors()["timeout"], 1},
		{"not sent in-flight", o.NotSent()[traffic.NotSentInFlight], 1},
		{"not sent no conn", o.NotSent()[traffic.NotSentNoConn], 1},
		{"ws connects", o.WS.Connects, 2},
		{"ws sessions", o.WS.Sessions, 2},
		{"ws msgs received", o.WS.MsgsReceived, 13},
		{"ws msgs recorded", o.WS.MsgsRecorded, 14},
		{"ws sends", o.WS.Sends, 1},
		{"ws roundtrips", o.WS.RoundTrip.Count(), 1},
		{"ws pushes", o.WS.Push.Count(), 1},
		{"flows", s.Flows, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if got := o.ErrorRate(); got != 0.8 {
		t.Errorf("error rate = %v, want 0.8 (4 of 5 scheduled)", got)
	}
	if got := o.Latency.Max(); got < 5*time.Second || got > 5005*time.Millisecond {
		t.Errorf("latency max = %v, want ~5s (the timeout counts)", got)
	}
	if got, want := s.EndpointNames(), []string{"GET /health", "GET /v1/sessions/{id}", "POST /v1/sessions", "WS /v1/updates"}; !slices.Equal(got, want) {
		t.Errorf("endpoints = %q, want %q", got, want)
	}
	ws := s.Endpoint("WS /v1/updates")
	if len(ws.ByLabel) != 2 || ws.ByLabel[0].Label != "session-scoped" || ws.ByLabel[1].Label != "user-scoped" {
		t.Fatalf("labels = %+v", ws.ByLabel)
	}
	us := ws.LabelStats("user-scoped")
	if us.WS.MsgsReceived != 9 || us.WS.MsgsRecorded != 10 || us.WS.Sessions != 1 {
		t.Errorf("user-scoped ws = %+v", us.WS)
	}
	if ws.WS.Connecting.Count() != 2 {
		t.Errorf("ws connecting count = %d", ws.WS.Connecting.Count())
	}
	// the session-scoped connect reported Connecting=2ms, the user one only Service=3ms
	if got := ws.LabelStats("session-scoped").WS.Connecting.Max(); got > 2002*time.Microsecond {
		t.Errorf("session-scoped connecting = %v, want 2ms from Result.Connecting", got)
	}
	a, err := s.Accounting()
	if err != nil {
		t.Fatalf("accounting: %v", err)
	}
	if a.Completed != 6 || a.Failed["timeout"] != 1 || a.NotSent[traffic.NotSentInFlight] != 1 || a.NotSent[traffic.NotSentNoConn] != 1 {
		t.Errorf("accounting = %+v", a)
	}
	wantStr := "9 scheduled = 6 completed + 1 failed (timeout 1) + 2 not sent (connection not open 1, in-flight limit 1)"
	if a.String() != wantStr {
		t.Errorf("accounting string:\n got %s\nwant %s", a.String(), wantStr)
	}
}

func TestAccountingInvariant(t *testing.T) {
	c := NewCollector()
	for i := 0; i < 100; i++ {
		r := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Intended: time.Duration(i) * time.Millisecond, Status: 200}
		switch {
		case i%10 == 0:
			r.Error, r.Status = "refused", 0
		case i%25 == 1:
			r.NotSent = traffic.NotSentRunEnded
		}
		c.Add(r)
	}
	c.Add(traffic.Result{Kind: traffic.ResultWSRoundTrip, Endpoint: "WS /u", Error: "no reply"}) // not a scheduled event
	tests := []struct {
		name      string
		scheduled int64
		byKind    map[string]int64
		wantErr   string
	}{
		{"adds up", 100, nil, ""},
		{"adds up by kind", 100, map[string]int64{"http": 100, "ws-connect": 0}, ""},
		{"results missing", 103, nil, "3 missing from the results"},
		{"results beyond schedule", 98, nil, "2 results beyond what was scheduled"},
		{"kind mismatch", 100, map[string]int64{"http": 99, "ws-send": 1}, "for http: 99 scheduled, 100 accounted for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Snapshot()
			s.Meta.Scheduled = tt.scheduled
			s.Meta.ScheduledByKind = tt.byKind
			a, err := s.Accounting()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if a.Completed != 86 || a.Failed["refused"] != 10 || a.NotSent[traffic.NotSentRunEnded] != 4 {
				t.Errorf("breakdown = %s", a)
			}
		})
	}
}

func TestSeriesAndFlows(t *testing.T) {
	c := NewCollector()
	s := time.Second
	// flow a: active seconds 0..2; flow b: 1..1; flow a copy 1: 3..4
	add := func(flow string, cp int, at, lat time.Duration, status int) {
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /", Flow: flow, Copy: cp, Intended: at, Sent: at, Latency: lat, Service: lat, Status: status})
	}
	add("a", 0, 100*time.Millisecond, 10*time.Millisecond, 200)
	add("a", 0, 2*s+100*time.Millisecond, 10*time.Millisecond, 500)
	add("b", 0, 1*s+500*time.Millisecond, 100*time.Millisecond, 200)
	add("a", 1, 3*s+990*time.Millisecond, 20*time.Millisecond, 200) // completes in second 4
	add("a", 1, 3*s, 10*time.Millisecond, 200)
	snap := c.Snapshot()
	type sec struct{ req, failed, flows int64 }
	want := []sec{{1, 0, 1}, {1, 0, 2}, {1, 1, 1}, {1, 0, 1}, {1, 0, 1}}
	if len(snap.Series) != len(want) {
		t.Fatalf("series has %d seconds, want %d", len(snap.Series), len(want))
	}
	for i, w := range want {
		g := snap.Series[i]
		if (sec{g.Requests, g.Failed, g.Flows}) != w {
			t.Errorf("second %d = %+v, want %+v", i, sec{g.Requests, g.Failed, g.Flows}, w)
		}
	}
	med, min, max := snap.FlowsActive()
	if med != 1 || min != 1 || max != 2 {
		t.Errorf("flows active med/min/max = %d/%d/%d, want 1/1/2", med, min, max)
	}
	if snap.Flows != 3 {
		t.Errorf("flows = %d, want 3", snap.Flows)
	}
	if got, want := snap.Span(), 4*s+10*time.Millisecond-100*time.Millisecond; got != want {
		t.Errorf("span = %v, want %v", got, want)
	}
	p := c.Progress(2*s + 500*time.Millisecond)
	if p.SecondIndex != 1 || p.Second.Requests != 1 || p.Requests != 5 || p.Failed != 1 {
		t.Errorf("progress = %+v", p)
	}
}

// genResults makes a deterministic mixed workload over flows.
func genResults(n int, seed uint64) []traffic.Result {
	r := rand.New(rand.NewPCG(seed, 1))
	eps := []string{"GET /health", "GET /v1/sessions", "POST /v1/sessions", "GET /v1/sessions/{id}", "PUT /v1/machines/{id}/status"}
	out := make([]traffic.Result, 0, n)
	for i := 0; i < n; i++ {
		at := time.Duration(i) * 5 * time.Millisecond
		lat := time.Duration(r.ExpFloat64()*float64(30*time.Millisecond)) + time.Millisecond
		res := traffic.Result{
			Kind: traffic.ResultHTTP, Endpoint: eps[r.IntN(len(eps))], Flow: fmt.Sprintf("user-%d", r.IntN(20)),
			Intended: at, Sent: at + time.Duration(r.IntN(500))*time.Microsecond, Latency: lat, Service: lat - 100*time.Microsecond,
			Status: 200, Expected: 200, BytesSent: int64(r.IntN(500)), BytesReceived: int64(r.IntN(5000)),
		}
		switch x := r.IntN(100); {
		case x < 2:
			res.Status, res.Error = 0, "reset"
		case x < 3:
			res.NotSent, res.Latency, res.Service, res.Sent = traffic.NotSentInFlight, 0, 0, 0
		case x < 6:
			res.Status = 500
		}
		if res.Status == 200 && res.Error == "" && res.NotSent == "" {
			// response shapes: mostly as recorded, some differing
			res.ExpectedShape = "{id:str,n:num}"
			res.Shape = res.ExpectedShape
			switch i % 11 {
			case 3:
				res.Shape = "{id:num,n:num}"
			case 7:
				res.Shape = fmt.Sprintf("{id:str,n:num,v%d:str}", i%5)
			case 9:
				res.ExpectedShape = ""
			}
		}
		if i%97 == 0 {
			res = traffic.Result{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates [user-scoped]", Flow: res.Flow, Intended: at, Sent: at, Latency: time.Second, Service: time.Second, MsgsReceived: 3, MsgsRecorded: 4}
		}
		out = append(out, res)
	}
	return out
}

func encode(t testing.TB, s *Snapshot) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMergeIsExact(t *testing.T) {
	results := genResults(20000, 1)
	whole := NewCollector()
	shards := []*Collector{NewCollector(), NewCollector(), NewCollector()}
	for _, r := range results {
		whole.Add(r)
		// shard by flow, as --shard does
		var h int
		for _, c := range r.Flow {
			h += int(c)
		}
		shards[h%3].Add(r)
	}
	meta := Meta{Target: "http://127.0.0.1:1", Duration: 100 * time.Second, Scheduled: 0}
	want := whole.Snapshot()
	want.Meta = meta
	merged := &Snapshot{}
	for _, sh := range shards {
		s := sh.Snapshot()
		s.Meta = meta
		merged.Merge(s)
	}
	if merged.Meta.Shards != 3 {
		t.Errorf("merged %d snapshots, Meta.Shards says %d", len(shards), merged.Meta.Shards)
	}
	merged.Meta.Shards = 0
	// the accounting of merged shards adds up when each shard's does
	acc := &Snapshot{}
	for _, sh := range shards {
		s := sh.Snapshot()
		a, _ := s.Accounting()
		s.Meta.Scheduled = a.Accounted()
		if _, err := s.Accounting(); err != nil {
			t.Fatal(err)
		}
		acc.Merge(s)
	}
	if a, err := acc.Accounting(); err != nil || a.Scheduled == 0 {
		t.Errorf("merged accounting %v: %v", a, err)
	}
	if !bytes.Equal(encode(t, merged), encode(t, want)) {
		t.Errorf("merged shards differ from the whole run:\n%s", firstDiff(encode(t, merged), encode(t, want)))
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}

func TestConcurrentAdd(t *testing.T) {
	results := genResults(8000, 2)
	c := NewCollector()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(results); i += 4 {
				c.Add(results[i])
				if i%1000 == 0 {
					c.Progress(time.Duration(i) * time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	seq := NewCollector()
	for _, r := range results {
		seq.Add(r)
	}
	if !bytes.Equal(encode(t, c.Snapshot()), encode(t, seq.Snapshot())) {
		t.Error("concurrent adds differ from sequential adds")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	c := NewCollector()
	for _, r := range genResults(5000, 3) {
		c.Add(r)
	}
	s := c.Snapshot()
	s.Meta = Meta{
		Tool: "reprise test", Target: "http://127.0.0.1:8080", Corpus: "corpora/happy.rpz", Speed: 10, Multiply: 2,
		Start: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), End: time.Date(2025, 1, 2, 3, 4, 30, 0, time.UTC),
		Duration: 25 * time.Second, Scheduled: 5000 - 52,
	}
	s.Thresholds = []ThresholdResult{{Expr: "p95<500ms", Metric: "http_req_duration p(95)", Op: "<", Limit: 500, Observed: 91.2, Unit: "ms", Pass: true}}
	first := encode(t, s)
	d, err := Decode(bytes.NewReader(first))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	second := encode(t, d)
	if !bytes.Equal(first, second) {
		t.Fatalf("round trip changed the document:\n%s", firstDiff(first, second))
	}
	if d.Overall.Latency.Percentile(99) != s.Overall.Latency.Percentile(99) {
		t.Error("p99 changed over the round trip")
	}
	if _, err := d.Accounting(); err != nil {
		t.Errorf("accounting after round trip: %v", err)
	}
	// decoded documents merge exactly too
	d2, _ := Decode(bytes.NewReader(first))
	d.Merge(d2)
	if got, want := d.Overall.Latency.Count(), 2*s.Overall.Latency.Count(); got != want {
		t.Errorf("merged count = %d, want %d", got, want)
	}
	if !strings.Contains(string(first), `"hist": "HISTF`) {
		t.Error("histograms are not in HdrHistogram's base64 V2 compressed encoding")
	}
}

func TestDecodeErrors(t *testing.T) {
	c := NewCollector()
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /", Latency: time.Millisecond, Status: 200})
	good := string(encode(t, c.Snapshot()))
	other := NewDist()
	other.Record(time.Millisecond)
	tests := []struct {
		name    string
		doc     string
		wantErr string
		is      error
	}{
		{"empty", "", "empty input", ErrFormat},
		{"not json", "hello", "invalid character", nil},
		{"other format", `{"format":"k6","version":1}`, `format "k6"`, ErrFormat},
		{"future version", strings.Replace(good, `"version": 1`, `"version": 2`, 1), "version 2 (this build reads 1)", ErrVersion},
		{"no overall", `{"format":"reprise-results","version":1,"endpoints":[]}`, "no overall stats", nil},
		{"count disagrees", strings.Replace(good, `"count": 1,`, `"count": 2,`, 1), "histogram holds 1 values but count says 2", nil},
		{"bad histogram", strings.Replace(good, `"hist": "HISTF`, `"hist": "XXXX`, 1), "decode histogram", nil},
		{"negative requests", strings.Replace(good, `"requests": 1,`, `"requests": -1,`, 1), "negative count", nil},
		{"duplicate endpoint", strings.Replace(good, `"endpoints": [`, `"endpoints": [{"endpoint":"GET /"},`, 1), `endpoint "GET /" twice`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestDecodeRefusesForeignGeometry(t *testing.T) {
	// a histogram of another geometry would merge inexactly
	h := hdr.New(1, 1000, 2)
	_ = h.RecordValue(5)
	foreign, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeDist(string(foreign)); err == nil || !strings.Contains(err.Error(), "not reprise's") {
		t.Fatalf("error = %v", err)
	}
}

func TestSplitLabel(t *testing.T) {
	tests := []struct{ in, name, label string }{
		{"WS /v1/updates [session-scoped]", "WS /v1/updates", "session-scoped"},
		{"GET /v1/sessions", "GET /v1/sessions", ""},
		{"GET /a[b]", "GET /a[b]", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		n, l := SplitLabel(tt.in)
		if n != tt.name || l != tt.label {
			t.Errorf("SplitLabel(%q) = %q, %q", tt.in, n, l)
		}
		if tt.label != "" && JoinLabel(n, l) != tt.in {
			t.Errorf("JoinLabel(%q, %q) = %q", n, l, JoinLabel(n, l))
		}
	}
}

func BenchmarkCollectorAdd(b *testing.B) {
	results := genResults(1<<14, 4)
	c := NewCollector()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Add(results[i&(1<<14-1)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}

func BenchmarkCollectorAddParallel(b *testing.B) {
	results := genResults(1<<14, 5)
	c := NewCollector()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Add(results[i&(1<<14-1)])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}

func BenchmarkSnapshotMerge(b *testing.B) {
	c1, c2 := NewCollector(), NewCollector()
	for _, r := range genResults(50000, 6) {
		c1.Add(r)
	}
	for _, r := range genResults(50000, 7) {
		c2.Add(r)
	}
	s1, s2 := c1.Snapshot(), c2.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := &Snapshot{}
		m.Merge(s1)
		m.Merge(s2)
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	c := NewCollector()
	for _, r := range genResults(50000, 8) {
		c.Add(r)
	}
	s := c.Snapshot()
	doc := encode(b, s)
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := Encode(&buf, s); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodingMatchesHdrHistogram checks the V2 encoder against the
// library: what it writes decodes, with the library, to the same buckets,
// sparse and dense alike.
func TestEncodingMatchesHdrHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 10, 300, 5000, 100000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := NewDist()
			ref := hdr.New(histLowest, histHighest, histSigFigs)
			for i := 0; i < n; i++ {
				v := time.Duration(math.Exp(r.Float64()*22)) * time.Microsecond
				if i%100 == 0 {
					v = 0
				}
				d.Record(v)
				_ = ref.RecordValue(min(int64(v/time.Microsecond), histHighest))
			}
			enc, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := hdr.Decode([]byte(enc))
			if err != nil {
				t.Fatalf("library cannot decode: %v", err)
			}
			if !back.Equals(ref) {
				t.Errorf("decoded histogram differs from the reference")
			}
			libEnc, _ := ref.Encode(hdr.V2CompressedEncodingCookieBase)
			d2, err := DecodeDist(string(libEnc))
			if err != nil {
				t.Fatal(err)
			}
			if d2.Count() != d.Count() || d2.Percentile(99) != d.Percentile(99) || d2.Max() != d.Max() {
				t.Errorf("library encoding decodes to count %d p99 %v, want %d %v", d2.Count(), d2.Percentile(99), d.Count(), d.Percentile(99))
			}
		})
	}
}

func TestLabelCap(t *testing.T) {
	c := NewCollector()
	for i := 0; i < MaxLabels+10; i++ {
		c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: fmt.Sprintf("WS /u [type-%02d]", i), MsgsReceived: 1})
	}
	ep := c.Snapshot().Endpoint("WS /u")
	if len(ep.ByLabel) != MaxLabels+1 {
		t.Fatalf("%d labels, want %d", len(ep.ByLabel), MaxLabels+1)
	}
	if o := ep.LabelStats(OtherLabel); o == nil || o.WS.Sessions != 10 {
		t.Errorf("other label = %+v", o)
	}
	if ep.WS.Sessions != MaxLabels+10 {
		t.Errorf("endpoint sessions = %d", ep.WS.Sessions)
	}
}

func TestEndpointCap(t *testing.T) {
	c := NewCollector()
	for i := 0; i < MaxEndpoints+5; i++ {
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: fmt.Sprintf("GET /e%d", i), Status: 200})
	}
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Status: 200})
	s := c.Snapshot()
	if len(s.Endpoints) != MaxEndpoints+1 {
		t.Fatalf("%d endpoints, want %d", len(s.Endpoints), MaxEndpoints+1)
	}
	if o := s.Endpoint(OtherEndpoint); o == nil || o.Requests != 6 {
		t.Errorf("OTHER = %+v", o)
	}
}

// A shard an abort threshold stopped makes the merged run say so.
func TestMergeKeepsAborted(t *testing.T) {
	a, b := NewCollector().Snapshot(), NewCollector().Snapshot()
	a.Meta = Meta{Scheduled: 3, Shard: "0/2"}
	b.Meta = Meta{Scheduled: 2, Shard: "1/2", Aborted: "error_rate<10% (http_req_failed=40.00%)"}
	var m Snapshot
	m.Merge(a)
	m.Merge(b)
	if m.Meta.Aborted != b.Meta.Aborted || m.Meta.Scheduled != 5 {
		t.Fatalf("merged meta %+v", m.Meta)
	}
}

// A socket whose handshake failed is an attempt, not a session: the
// engine's not-sent session result for it counts no session, while the
// messages recorded for it still count against what was received.
func TestWSSessionsCountOpenedSockets(t *testing.T) {
	c := NewCollector()
	ms := time.Millisecond
	ep := "WS /v1/updates"
	c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Flow: "a", Latency: 2 * ms, Status: 101, Expected: 101})
	c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: ep, Flow: "a", Service: time.Second, MsgsReceived: 3, MsgsRecorded: 3})
	for _, f := range []string{"b", "c"} {
		c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Flow: f, Latency: ms, Status: 401, Expected: 101, Error: "ws handshake"})
		c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: ep, Flow: f, NotSent: traffic.NotSentNoConn, MsgsRecorded: 5})
	}
	w := c.Snapshot().Overall.WS
	if w.Connects != 3 || w.Sessions != 1 || w.MsgsRecorded != 13 || w.SessionDuration.Count() != 1 {
		t.Fatalf("connects %d sessions %d recorded %d durations %d; want 3 attempts, 1 opened, 13 recorded, 1 duration",
			w.Connects, w.Sessions, w.MsgsRecorded, w.SessionDuration.Count())
	}
}

// Merging keeps what tells runs apart and what made a part of one
// partial: the corpus identity when the parts share it, the earliest
// interruption with the shards it hit; the merge gets no part's run id.
func TestMergeIdentityAndInterruption(t *testing.T) {
	part := func(shard, corpus string, in *Interruption) *Snapshot {
		s := NewCollector().Snapshot()
		s.Meta = Meta{Scheduled: 1, Shard: shard, CorpusID: corpus, RunID: "run-" + shard, Interrupted: in}
		return s
	}
	a := part("0/3", "c1", nil)
	a.Merge(part("1/3", "c1", &Interruption{At: 5 * time.Second, Reason: "interrupt signal received"}))
	a.Merge(part("2/3", "c1", &Interruption{At: 3 * time.Second, Reason: "interrupt signal received"}))
	m := a.Meta
	if m.RunID != "" || m.CorpusID != "c1" {
		t.Errorf("merged run id %q corpus id %q; want none and c1", m.RunID, m.CorpusID)
	}
	if m.Interrupted == nil || m.Interrupted.At != 3*time.Second || !slices.Equal(m.Interrupted.Shards, []string{"1/3", "2/3"}) {
		t.Fatalf("merged interruption %+v, want at 3s in shards 1/3 and 2/3", m.Interrupted)
	}
	what, partial := m.Partial()
	if !partial || what != "shard 1/3, 2/3 interrupted after 3s (interrupt signal received)" {
		t.Errorf("Partial() = %q, %v", what, partial)
	}
	b := part("0/2", "c1", nil)
	b.Merge(part("1/2", "c2", nil))
	if b.Meta.CorpusID != "" || b.Meta.Interrupted != nil {
		t.Errorf("runs of two corpora merged keep corpus id %q, interruption %+v", b.Meta.CorpusID, b.Meta.Interrupted)
	}
	if _, partial := b.Meta.Partial(); partial {
		t.Error("a whole merged run says it is partial")
	}
	// the marks survive the results document
	var buf bytes.Buffer
	if err := Encode(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"interrupted": {`) {
		t.Errorf("document lacks the interrupted member")
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Meta.Interrupted, m.Interrupted) || back.Meta.CorpusID != "c1" {
		t.Errorf("decoded meta %+v", back.Meta)
	}
}

// A target that answers 50 requests a second and times out the rest from
// second 3 on is saturated at about 50/s from t=3s; a run with a few
// scattered errors is not.
func TestSaturation(t *testing.T) {
	c := NewCollector()
	ms := time.Millisecond
	for sec := 0; sec < 8; sec++ {
		offered := 40
		if sec >= 3 {
			offered = 80
		}
		for i := 0; i < offered; i++ {
			at := time.Duration(sec)*time.Second + time.Duration(i)*(900*ms/time.Duration(offered))
			r := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Intended: at, Sent: at, Latency: 20 * ms, Status: 200, Expected: 200}
			if sec >= 3 && i >= 50 {
				r.Status, r.Error = 0, traffic.ErrTimeout
			}
			c.Add(r)
		}
	}
	s := c.Snapshot()
	sat, ok := s.Saturation()
	if !ok || sat.At != 3*time.Second || sat.Rate < 45 || sat.Rate > 55 {
		t.Fatalf("saturation %+v, %v; want at 3s, about 50/s", sat, ok)
	}
	c = NewCollector()
	for i := 0; i < 400; i++ {
		at := time.Duration(i) * 20 * ms
		r := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Intended: at, Sent: at, Latency: 5 * ms, Status: 200, Expected: 200}
		if i%97 == 0 {
			r.Status = 503
		}
		c.Add(r)
	}
	if sat, ok := c.Snapshot().Saturation(); ok {
		t.Fatalf("scattered errors taken for saturation: %+v", sat)
	}
}
