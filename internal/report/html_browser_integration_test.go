//go:build integration

package report

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// measureScript is added to a copy of the report (the report itself has
// no script): it writes the layout the browser computed into the DOM,
// which --dump-dom prints. Rectangles are in CSS pixels from the top of
// the page (the page is not scrolled).
const measureScript = `<script>
(function () {
  function box(e) { var r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width}; }
  var out = {
    innerWidth: innerWidth,
    clientWidth: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth,
    banner: box(document.getElementById('verdict')),
    bannerText: document.getElementById('verdict').textContent,
    breached: [].map.call(document.querySelectorAll('#verdict li'), box),
    failurePlot: box(document.querySelector('#chart-failures svg')),
    failureBars: [].map.call(document.querySelectorAll('#chart-failures rect.fail-bar'), box),
    charts: [].map.call(document.querySelectorAll('section.timechart svg'), function (svg) {
      var ticks = svg.querySelectorAll('text.xtick');
      return {svg: box(svg), lastTick: box(ticks[ticks.length - 1]), lastLabel: ticks[ticks.length - 1].textContent};
    })
  };
  var pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

type rect struct{ Top, Bottom, Left, Right, Width float64 }

type measured struct {
	InnerWidth, ClientWidth, ScrollWidth float64
	Banner                               rect
	BannerText                           string
	Breached                             []rect
	FailurePlot                          rect
	FailureBars                          []rect
	Charts                               []struct {
		SVG, LastTick rect
		LastLabel     string
	}
}

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// TestHTMLReportInChromium renders the report of a run with 30 HTTP
// endpoints, WebSockets and breached thresholds in headless Chromium at
// 1280x800 and checks what a reader sees first: the verdict banner and
// every breach it lists within the first 800 pixels, charts as wide as
// the page with their last time label inside them, nothing wider than
// the window.
func TestHTMLReportInChromium(t *testing.T) {
	bin := chromium(t)
	s := htmlRun{length: 10500 * time.Millisecond, rate: 100, failEvery: 50, endpoints: 30, ws: true}.snapshot(t)
	out, _ := renderHTML(t, s, "hap-19", "p95<10ms", "ws_msgs_received>=99%", "WS /v1/updates [session-scoped]: ws_roundtrip.p95<1ms")
	if !strings.Contains(out, "</body>") {
		t.Fatal("report has no </body>")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(strings.Replace(out, "</body>", measureScript+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,800", "--dump-dom", "file://"+page)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`(?s)<pre id="measured">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("chromium's DOM has no measurements (did the page load?):\n%.2000s", dom)
	}
	var got measured
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &got); err != nil {
		t.Fatalf("measurements %s: %v", m[1], err)
	}
	t.Logf("measured: %+v", got)

	// The layout depends on the width only (the report has no
	// viewport-height units): positions from the top of the page say
	// what a 1280x800 window shows first, whatever height headless
	// Chromium gives its window.
	if got.InnerWidth != 1280 {
		t.Fatalf("window is %v pixels wide, want 1280", got.InnerWidth)
	}
	const screen = 800
	if got.Banner.Top < 0 || got.Banner.Bottom > screen || got.Banner.Width < 1000 {
		t.Errorf("verdict banner at %v..%v (width %v): want it whole within the first %d pixels", got.Banner.Top, got.Banner.Bottom, got.Banner.Width, screen)
	}
	if !strings.Contains(got.BannerText, "BREACHED") {
		t.Errorf("banner says %q, want BREACHED", got.BannerText)
	}
	if len(got.Breached) < 3 {
		t.Errorf("banner lists %d breaches, want at least 3", len(got.Breached))
	}
	for i, r := range got.Breached {
		if r.Bottom > screen {
			t.Errorf("breach %d of the banner ends at %v, below the first screen", i, r.Bottom)
		}
	}
	if got.ScrollWidth > got.ClientWidth {
		t.Errorf("page is %v pixels wide in a %v-pixel window: it scrolls sideways", got.ScrollWidth, got.ClientWidth)
	}
	// 2 % of the requests fail: on a scale of their own the bars stand
	// at least half as high as the plot
	tallest := 0.0
	for _, r := range got.FailureBars {
		tallest = max(tallest, r.Bottom-r.Top)
	}
	if plot := got.FailurePlot.Bottom - got.FailurePlot.Top; len(got.FailureBars) < 10 || tallest < 0.4*plot {
		t.Errorf("failures chart: %d bars, the tallest %v pixels high in a chart %v high: 2%% of failures not visible", len(got.FailureBars), tallest, plot)
	}
	if len(got.Charts) < 4 {
		t.Fatalf("%d charts over time, want requests, failures, latency and flows", len(got.Charts))
	}
	content := got.ClientWidth - 2*24 // the body's margins
	for i, c := range got.Charts {
		if c.SVG.Width < 0.98*content {
			t.Errorf("chart %d is %v pixels wide in a page %v wide: not full width", i, c.SVG.Width, content)
		}
		if c.LastTick.Right > c.SVG.Right+0.5 || c.LastTick.Width == 0 {
			t.Errorf("chart %d: last time label %q ends at %v, past the chart's right edge %v", i, c.LastLabel, c.LastTick.Right, c.SVG.Right)
		}
		if c.LastLabel != "10s" {
			t.Errorf("chart %d: last time label %q, want 10s", i, c.LastLabel)
		}
	}
}
