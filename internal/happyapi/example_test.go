package happyapi_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
)

// A server with injected latency, and the truth a load test compares its
// percentiles with.
func Example() {
	lat, err := happyapi.ParseLatency("lognormal:median=2ms,sigma=0.5")
	if err != nil {
		panic(err)
	}
	srv, err := happyapi.New(happyapi.Config{Latency: lat, Seed: 1, Tokens: []string{"test-auth-token"}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()

	for range 20 {
		resp, err := http.Get(srv.URL() + "/health")
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	truth := srv.Truth()
	fmt.Println("requests:", len(truth.Requests), "route:", truth.Requests[0].Route)
	fmt.Println("every delay injected:", truth.Quantile(0) > 0)
	fmt.Println("theoretical p50:", lat.Quantile(0.5))
	fmt.Println("served by route:", srv.Stats().ByRoute["GET /health"])
	// Output:
	// requests: 20 route: GET /health
	// every delay injected: true
	// theoretical p50: 2ms
	// served by route: 20
}

func ExampleParseLatency() {
	for _, spec := range []string{"20ms", "uniform:min=10ms,max=50ms", "exponential:mean=20ms,max=1s"} {
		l, err := happyapi.ParseLatency(spec)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-30s -> %-32s p99 %v\n", spec, l, l.Quantile(0.99).Round(time.Millisecond))
	}
	// Output:
	// 20ms                           -> fixed:20ms                       p99 20ms
	// uniform:min=10ms,max=50ms      -> uniform:10ms-50ms                p99 50ms
	// exponential:mean=20ms,max=1s   -> exponential:mean=20ms,max=1s     p99 92ms
}
