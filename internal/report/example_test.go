package report_test

import (
	"fmt"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/report"
	"github.com/reprise/reprise/internal/traffic"
)

func ExampleEvaluate() {
	c := metrics.NewCollector()
	for i := 0; i < 100; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /health", Intended: at, Sent: at,
			Latency: time.Duration(i+1) * time.Millisecond, Status: 200})
	}
	s := c.Snapshot()
	s.Meta.Duration = time.Second
	ths, err := report.ParseThresholds([]string{"p95<50ms", "GET /health: p99<1s", "rate>=1000/min"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range report.Evaluate(s, ths) {
		fmt.Println(v.Expr, v.Pass, v.Observed)
	}
	// Output:
	// p95<50ms false 95.039
	// GET /health: p99<1s true 99.007
	// rate>=1000/min true 100
}
