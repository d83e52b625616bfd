package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// ProgressLine renders one line of live progress from a running
// collector: elapsed of total run time, requests so far, the last whole
// second's rate and latency percentiles, failures and requests not sent.
// total may be zero when unknown.
//
//	running 12s/1m0s  reqs 4800  402/s  p50=11ms p95=23ms p99=41ms  failed 0.12%  not sent 0  errors 2
func ProgressLine(p metrics.Progress, elapsed, total time.Duration) string {
	var b strings.Builder
	b.WriteString("running ")
	b.WriteString(formatDuration(elapsed.Truncate(time.Second)))
	if total > 0 {
		b.WriteString("/" + formatDuration(total.Truncate(time.Second)))
	}
	fmt.Fprintf(&b, "  reqs %d  %d/s", p.Requests, p.Second.Requests)
	if p.Second.Latency.Count() > 0 {
		q := p.Second.Latency.Percentiles(50, 95, 99)
		fmt.Fprintf(&b, "  p50=%s p95=%s p99=%s", formatDuration(q[0]), formatDuration(q[1]), formatDuration(q[2]))
	}
	failed := 0.0
	if n := p.Requests + p.NotSent; n > 0 {
		failed = float64(p.Failed) / float64(n)
	}
	fmt.Fprintf(&b, "  failed %s  not sent %d  errors %d", formatPercent(failed), p.NotSent, p.Errors)
	return b.String()
}
