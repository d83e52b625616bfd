package report

import (
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

func summaryOf(t *testing.T, s *metrics.Snapshot) string {
	t.Helper()
	var b strings.Builder
	if err := Summary(&b, s, SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func firstLine(out string) string {
	return strings.TrimSpace(strings.SplitN(strings.TrimLeft(out, "\n"), "\n", 2)[0])
}

// An interrupted run says so on the summary's first line, with when and
// why; a merged run names the shards that were.
func TestSummaryInterruptedFirstLine(t *testing.T) {
	s := happyRun()
	s.Meta.Interrupted = &metrics.Interruption{At: 5200 * time.Millisecond, Reason: "interrupt signal received"}
	want := "INTERRUPTED after 5.2s (interrupt signal received): partial results, for what was sent before; the rest of the corpus was not replayed"
	if got := firstLine(summaryOf(t, s)); got != want {
		t.Errorf("first line\n got %s\nwant %s", got, want)
	}
	s.Meta.Interrupted.Shards = []string{"1/3"}
	if got := firstLine(summaryOf(t, s)); !strings.HasPrefix(got, "INTERRUPTED (shard 1/3) after 5.2s") {
		t.Errorf("merged run's first line: %s", got)
	}
	s.Meta.Interrupted = nil
	if got := firstLine(summaryOf(t, s)); !strings.HasPrefix(got, "corpus: ") {
		t.Errorf("a whole run's first line: %s", got)
	}
	s.Meta.Aborted = "error_rate<1%"
	if got := firstLine(summaryOf(t, s)); got != "STOPPED EARLY by an abort threshold: error_rate<1%" {
		t.Errorf("an aborted run's first line: %s", got)
	}
}

// Sockets that never opened are attempts, not sessions: the summary and
// the websocket table count them apart.
func TestSummaryWSAttemptsApartFromSessions(t *testing.T) {
	c := metrics.NewCollector()
	ep := "WS /v1/updates"
	for i := 0; i < 61; i++ {
		c.Add(traffic.Result{Kind: traffic.ResultWSConnect, Endpoint: ep, Status: 401, Expected: 101, Error: "ws handshake"})
		c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: ep, NotSent: traffic.NotSentNoConn, MsgsRecorded: 2})
	}
	s := c.Snapshot()
	s.Meta.Duration, s.Meta.Scheduled = 10*time.Second, 61
	out := summaryOf(t, s)
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "ws_sessions....................: 0 0.00/s opened, of 61 attempted") {
		t.Errorf("ws_sessions does not tell opened from attempted:\n%s", out)
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), ep) {
			row = strings.Join(strings.Fields(l), " ")
		}
	}
	if !strings.HasPrefix(row, "WS /v1/updates 61 0 61 0 0 122 0.00%") {
		t.Errorf("websocket row %q, want 61 attempts, 0 opened, 61 failed", row)
	}
}

// An endpoint whose requests were all left unsent has no error rate or
// latency: its row shows — rather than 100.00% errors and 0s.
func TestSummaryEndpointThatSentNothing(t *testing.T) {
	c := metrics.NewCollector()
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /ok", Intended: 0, Sent: 0, Latency: time.Millisecond, Status: 200, Expected: 200})
	for i := 0; i < 4; i++ {
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "DELETE /v1/sessions/{id}", NotSent: traffic.NotSentDependency})
	}
	s := c.Snapshot()
	s.Meta.Scheduled, s.Meta.Duration = 5, time.Second
	out := summaryOf(t, s)
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "DELETE" {
			if got := strings.Join(f[2:], " "); got != "0 0.00/s — — — — — not sent×4" {
				t.Errorf("row of an endpoint that sent nothing: %q", got)
			}
			return
		}
	}
	t.Fatalf("no row for the endpoint:\n%s", out)
}
