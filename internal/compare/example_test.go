package compare_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/reprise/reprise/internal/compare"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// run collects 2000 requests to one endpoint with exponential latencies
// of the given mean.
func run(seed uint64, mean time.Duration) *metrics.Snapshot {
	r := rand.New(rand.NewPCG(seed, seed))
	c := metrics.NewCollector()
	for i := 0; i < 2000; i++ {
		at := time.Duration(i) * 30 * time.Millisecond
		lat := time.Duration(r.ExpFloat64() * float64(mean))
		c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions", Flow: "u",
			Intended: at, Sent: at, Latency: lat, Service: lat, Status: 200, Expected: 200})
	}
	s := c.Snapshot()
	s.Meta.Duration = time.Minute
	return s
}

func ExampleCompare() {
	a := run(1, 40*time.Millisecond) // release A
	b := run(2, 52*time.Millisecond) // release B, 30% slower
	rep, err := compare.Compare(a, b, compare.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("verdict:", rep.Verdict())
	for _, c := range rep.Regressions() {
		if c.Endpoint != "" && c.Metric == "latency p50" {
			fmt.Printf("%s %s %+.0f%%\n", c.Endpoint, c.Metric, *c.Relative*100)
		}
	}
	// Output:
	// verdict: regression
	// GET /v1/sessions latency p50 +28%
}

func ExampleParseRules() {
	rules, err := compare.ParseRules([]string{"p95>+10%", "GET /v1/sessions: error_rate>+0.5pp"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules {
		fmt.Printf("%q on %q: %s %s %g (relative %v)\n", r.Metric, r.Endpoint, r.Metric, r.Op, r.Value, r.Relative)
	}
	// Output:
	// "latency.p95" on "": latency.p95 > 0.1 (relative true)
	// "error_rate" on "GET /v1/sessions": error_rate > 0.005 (relative false)
}
