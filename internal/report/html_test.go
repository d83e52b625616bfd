package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

func TestWriteHTML(t *testing.T) {
	c := metrics.NewCollector()
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		ep := "GET /v1/sessions"
		if i%3 == 0 {
			ep = `GET /<script>alert(1)</script>`
		}
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: ep, Flow: "f", Intended: at, Sent: at,
			Latency: time.Duration(1+i%50) * time.Millisecond, Status: 200, Expected: 200})
	}
	s := c.Snapshot()
	s.SetMeta(metrics.Meta{Target: "http://127.0.0.1:1", Corpus: "c.rpz", Speed: 10, Duration: 3 * time.Second, Start: time.Unix(0, 0)})
	ths, err := ParseThresholds([]string{"p95<10ms", "GET /v1/sessions: p99<1s"})
	if err != nil {
		t.Fatal(err)
	}
	vs := Evaluate(s, ths)
	var b bytes.Buffer
	if err := WriteHTML(&b, s, vs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			counts[n.Data]++
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if counts["svg"] != 3 || counts["polyline"] != 6 {
		t.Errorf("charts: %d svg, %d lines; want 3 and 6", counts["svg"], counts["polyline"])
	}
	if counts["script"] != 0 || strings.Contains(out, "<script>alert") {
		t.Fatal("an endpoint name was not escaped")
	}
	for _, want := range []string{"GET /v1/sessions", `class="fail">✗ p95&lt;10ms`, `class="pass">✓ GET /v1/sessions: p99&lt;1s`, "http_req_duration"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
