package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// shapesRun is a small run whose responses partly changed shape: a field
// retyped on one endpoint, an error page on another, ids and timestamps
// (values) different everywhere, which shapes never show.
func shapesRun() *metrics.Snapshot {
	c := metrics.NewCollector()
	const (
		session = "{session:{createdAt:num,id:str,seq:num,tags:[str]}}"
		retyped = "{session:{createdAt:num,id:str,seq:str,tags:[str]}}"
		dropped = "{session:{createdAt:num,id:str}}"
		list    = "{sessions:[{id:str,updatedAt:num}]}"
	)
	add := func(ep, got, want string, n int) {
		for i := 0; i < n; i++ {
			at := time.Duration(c.Snapshot().Overall.Requests) * 10 * time.Millisecond
			c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: ep, Flow: "u", Intended: at, Sent: at,
				Latency: 12 * time.Millisecond, Service: 12 * time.Millisecond, Status: 200, Expected: 200, Shape: got, ExpectedShape: want})
		}
	}
	add("GET /v1/sessions/{id}", session, session, 40)
	add("GET /v1/sessions/{id}", retyped, session, 8)
	add("GET /v1/sessions/{id}", dropped, session, 2)
	add("GET /v1/sessions", list, list, 30)
	add("POST /v1/sessions", "", session, 5) // not JSON any more
	add("POST /v1/sessions", session, session, 15)
	add("GET /health", "", "", 10)
	s := c.Snapshot()
	s.Meta = metrics.Meta{Target: "http://127.0.0.1:8787", Duration: 2 * time.Second, Scheduled: 110}
	return s
}

func TestSummaryShapes(t *testing.T) {
	s := shapesRun()
	var b bytes.Buffer
	opts := SummaryOptions{Verdicts: Evaluate(s, mustParse(t, "shape_checks>=99%", "GET /v1/sessions: shape_checks==100%"))}
	if err := Summary(&b, s, opts); err != nil {
		t.Fatal(err)
	}
	golden(t, b.Bytes())
	out := b.String()
	for _, want := range []string{
		"shape_checks...................: 85.00%  ✓ 85  ✗ 15",
		"GET /v1/sessions/{id}  10 of 50 differ (20.00%)",
		"8×  -session.seq: num  +session.seq: str",
		"2×  -session.seq: num  -session.tags[]: str",
		"POST /v1/sessions  5 of 20 differ (25.00%)",
		"5×  not JSON",
		"✗ shape_checks>=99%",
		"✓ GET /v1/sessions: shape_checks==100%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	section := out[strings.Index(out, "response shapes differing"):]
	if strings.Contains(section, "GET /v1/sessions  ") || strings.Contains(section, "GET /health") {
		t.Error("an endpoint answering as recorded is listed among the differing ones")
	}
}

func TestShapeDiff(t *testing.T) {
	for _, tc := range []struct {
		name, rec, got string
		max            int
		want           []string
	}{
		{"retyped", "{a:num}", "{a:str}", 0, []string{"-a: num", "+a: str"}},
		{"capped", "{a:num,b:num,c:num}", "{}", 2, []string{"-a: num", "-b: num", "… 2 more"}},
		{"not json", "{a:num}", "", 0, []string{"not JSON (recorded: JSON)"}},
		{"same paths", "[{a:num}|{b:num}]", "[{b:num}|{a:num}]", 0, []string{"same fields, arranged differently"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ShapeDiff(tc.rec, tc.got, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("ShapeDiff = %q, want %q", got, tc.want)
			}
		})
	}
}
