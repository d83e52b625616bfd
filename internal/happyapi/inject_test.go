package happyapi

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// hammer sends n GET requests to base+path from workers goroutines and
// returns the client-measured latencies, sorted.
func hammer(t *testing.T, base, path string, n, workers int) []time.Duration {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				start := time.Now()
				resp, err := client.Get(base + path)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

// TestInjectedLatencyTruth checks that the recorded truth follows the
// configured distribution and that a client's measurements sit just above
// it: the comparison a load tool's accuracy test makes.
func TestInjectedLatencyTruth(t *testing.T) {
	lat, err := ParseLatency("lognormal:median=4ms,sigma=0.5")
	if err != nil {
		t.Fatal(err)
	}
	srv, base := newTest(t, Config{Latency: lat, Seed: 7})
	const n = 3000
	measured := hammer(t, base, "/health", n, 16)
	truth := srv.Truth()
	if len(truth.Requests) != n || truth.Dropped != 0 {
		t.Fatalf("truth holds %d requests (%d dropped), want %d", len(truth.Requests), truth.Dropped, n)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got, theory := truth.Quantile(q), lat.Quantile(q)
		// 3000 samples: the sample quantile's error is a few percent at p99.
		if diff := math.Abs(float64(got-theory)) / float64(theory); diff > 0.12 {
			t.Errorf("truth p%v = %v, distribution says %v", q*100, got, theory)
		}
		m := QuantileOf(measured, q)
		if m < got {
			t.Errorf("client p%v %v is below the injected p%v %v", q*100, m, q*100, got)
		}
	}
	for _, r := range truth.Requests {
		if r.Served < r.Injected() {
			t.Fatalf("request %d served in %v, less than its injected %v", r.Seq, r.Served, r.Injected())
		}
		if r.Route != "GET /health" || r.Status != 200 {
			t.Fatalf("truth record %+v", r)
		}
	}
}

// TestSeedDeterminesDelays: the same seed and arrival order inject the
// same delays; another seed does not.
func TestSeedDeterminesDelays(t *testing.T) {
	lat, _ := ParseLatency("uniform:0-2ms")
	run := func(seed uint64) []time.Duration {
		srv, base := newTest(t, Config{Latency: lat, Seed: seed})
		hammer(t, base, "/health", 50, 1)
		var d []time.Duration
		for _, r := range srv.Truth().Requests {
			d = append(d, r.Latency)
		}
		return d
	}
	a, b, c := run(3), run(3), run(4)
	if !slices.Equal(a, b) {
		t.Error("same seed, different delays")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same delays")
	}
}

func TestErrorRate(t *testing.T) {
	srv, base := newTest(t, Config{ErrorRate: 0.2, Seed: 1})
	const n = 1500
	statuses := map[int]int{}
	for range n {
		resp, err := http.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode != 200 && body["code"] != "INJECTED_FAULT" {
			t.Fatalf("fault body %v", body)
		}
	}
	faults := statuses[500] + statuses[503]
	if rate := float64(faults) / n; rate < 0.16 || rate > 0.24 {
		t.Errorf("fault rate %.3f, want about 0.2 (%v)", rate, statuses)
	}
	if statuses[500] == 0 || statuses[503] == 0 || statuses[200]+faults != n {
		t.Errorf("statuses %v", statuses)
	}
	st := srv.Stats()
	if st.Faults != int64(faults) || st.ByStatus["GET /health"][503] != int64(statuses[503]) {
		t.Errorf("stats faults %d, by status %v; client saw %v", st.Faults, st.ByStatus, statuses)
	}
	for _, r := range srv.Truth().Requests {
		if (r.Fault != 0) != (r.Status != 200) || (r.Fault != 0 && r.Fault != r.Status) {
			t.Fatalf("truth %+v", r)
		}
	}
}

// TestStallHoldsRequests: requests arriving during a stall finish no
// earlier than its end, and the truth says by how much they were held.
func TestStallHoldsRequests(t *testing.T) {
	stall := Stall{Every: 400 * time.Millisecond, For: 150 * time.Millisecond}
	srv, err := New(Config{Stall: stall})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Keep requests flowing across three stall periods.
	deadline := srv.Origin().Add(3*stall.Every + stall.For + 50*time.Millisecond)
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := http.Get(srv.URL() + "/health")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				worst = max(worst, time.Since(start))
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	truth := srv.Truth()
	stalled := 0
	for _, r := range truth.Requests {
		if r.Stall > 0 {
			stalled++
			if end := r.Arrived + r.Served; end < r.Arrived+r.Stall {
				t.Fatalf("request at %v released at %v, before the stall's end", r.Arrived, end)
			}
		}
	}
	if stalled < 6 {
		t.Errorf("only %d of %d requests hit a stall", stalled, len(truth.Requests))
	}
	if worst < 100*time.Millisecond {
		t.Errorf("worst client latency %v: stalls were hidden", worst)
	}
	if got := srv.Stats().Stalled; got != int64(stalled) {
		t.Errorf("Stats.Stalled %d, truth says %d", got, stalled)
	}
	if q := truth.Quantile(1); q < 100*time.Millisecond || q > stall.For {
		t.Errorf("max injected %v", q)
	}
}

func TestTruthLimit(t *testing.T) {
	srv, base := newTest(t, Config{TruthLimit: 5})
	hammer(t, base, "/health", 8, 1)
	tr := srv.Truth()
	if len(tr.Requests) != 5 || tr.Dropped != 3 || srv.Stats().Requests != 8 {
		t.Errorf("kept %d dropped %d counted %d", len(tr.Requests), tr.Dropped, srv.Stats().Requests)
	}
	srv.ResetTruth()
	if tr := srv.Truth(); len(tr.Requests) != 0 || srv.Stats().Requests != 0 {
		t.Error("ResetTruth kept records")
	}
}

func TestConfigRejected(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"error rate", Config{ErrorRate: 1.5}},
		{"nan error rate", Config{ErrorRate: math.NaN()}},
		{"empty token", Config{Tokens: []string{""}}},
		{"bad stall", Config{Stall: Stall{Every: time.Second, For: 2 * time.Second}}},
		{"bad latency", Config{Latency: Latency{Dist: DistUniform, Min: 2, Max: 1}}},
		{"negative window", Config{AuthLimit: RateLimit{N: 1, Per: -time.Second}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}
