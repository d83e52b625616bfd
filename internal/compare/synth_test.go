package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// spec describes an endpoint of a synthetic run.
type spec struct {
	name string
	n    int
	// lat draws a latency.
	lat func(r *rand.Rand) time.Duration
	// errRate is the share of transport errors ("timeout"), status5xx the
	// share of 500 answers.
	errRate, status5xx float64
	// shape gives the live and recorded shapes of the i-th response.
	shape func(i int) (got, want string)
}

func expLatency(mean time.Duration) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration {
		return time.Millisecond + time.Duration(r.ExpFloat64()*float64(mean-time.Millisecond))
	}
}

func logNormal(median time.Duration, sigma float64) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration {
		return time.Duration(float64(median) * math.Exp(r.NormFloat64()*sigma))
	}
}

func scaled(f func(r *rand.Rand) time.Duration, k float64) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration { return time.Duration(float64(f(r)) * k) }
}

// synth builds the snapshot of a run of the given endpoints over dur,
// with every random draw from seed.
func synth(seed uint64, dur time.Duration, specs ...spec) *metrics.Snapshot {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	c := metrics.NewCollector()
	var scheduled int64
	for _, s := range specs {
		step := dur / time.Duration(s.n+1)
		for i := 0; i < s.n; i++ {
			at := time.Duration(i) * step
			lat := s.lat(r)
			res := traffic.Result{Kind: traffic.ResultHTTP, Endpoint: s.name, Flow: fmt.Sprintf("u%d", i%10),
				Intended: at, Sent: at, Latency: lat, Service: lat - lat/50, Status: 200, Expected: 200}
			switch x := r.Float64(); {
			case x < s.errRate:
				res.Status, res.Error = 0, "timeout"
			case x < s.errRate+s.status5xx:
				res.Status = 500
			}
			if s.shape != nil && res.Status == 200 {
				res.Shape, res.ExpectedShape = s.shape(i)
			}
			c.Add(res)
			scheduled++
		}
	}
	snap := c.Snapshot()
	snap.Meta = metrics.Meta{Tool: "reprise test", Target: "http://127.0.0.1:8787", Corpus: "corpora/synthetic.rpz", Speed: 10,
		Duration: dur, Scheduled: scheduled,
		Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), End: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(dur)}
	return snap
}
