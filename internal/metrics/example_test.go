package metrics_test

import (
	"fmt"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

func ExampleCollector() {
	c := metrics.NewCollector()
	for i := 0; i < 100; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		c.Add(traffic.Result{
			Kind: traffic.ResultHTTP, Endpoint: "GET /health", Flow: "user-1",
			Intended: at, Sent: at, Latency: time.Duration(i+1) * time.Millisecond,
			Service: time.Duration(i+1) * time.Millisecond, Status: 200,
		})
	}
	s := c.Snapshot()
	s.Meta.Scheduled = 100 // what the engine scheduled
	a, err := s.Accounting()
	fmt.Println(a, err)
	fmt.Println(s.Endpoint("GET /health").Latency.Percentile(99))
	// Output:
	// 100 scheduled = 100 completed + 0 failed + 0 not sent <nil>
	// 99.007ms
}
