package happyapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// burst sends n GET /health at once and returns each one's status and
// the latency its client saw, in sending order.
func burst(t *testing.T, base string, n int) ([]int, []time.Duration) {
	t.Helper()
	statuses := make([]int, n)
	lat := make([]time.Duration, n)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			resp, err := client.Get(base + "/health")
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i], lat[i] = resp.StatusCode, time.Since(t0)
		}()
	}
	close(start)
	wg.Wait()
	return statuses, lat
}

func count(statuses []int, want int) int {
	n := 0
	for _, s := range statuses {
		if s == want {
			n++
		}
	}
	return n
}

func TestMaxConcurrent(t *testing.T) {
	const limit, extra = 3, 5
	srv, base := newTest(t, Config{MaxConcurrent: limit, Latency: Latency{Dist: DistFixed, Fixed: 100 * time.Millisecond}})
	statuses, lat := burst(t, base, limit+extra)
	if n := count(statuses, 200); n != limit+extra {
		t.Fatalf("%d of %d answered 200: %v", n, limit+extra, statuses)
	}
	st := srv.State()
	if st.PeakActive != limit {
		t.Errorf("peak %d requests handled at once, want exactly %d", st.PeakActive, limit)
	}
	if st.Active != 0 || st.Queued != 0 {
		t.Errorf("after the burst: %d active, %d queued", st.Active, st.Queued)
	}
	if st.PeakQueued < extra-limit || st.PeakQueued > extra {
		t.Errorf("peak queue %d, want %d..%d", st.PeakQueued, extra-limit, extra)
	}
	// Eight requests of 100 ms through three places take three rounds:
	// the slowest client saw about 300 ms though the server injected 100.
	slices.Sort(lat)
	if lat[len(lat)-1] < 280*time.Millisecond {
		t.Errorf("slowest client latency %s: the queue wait is not seen by the client", lat[len(lat)-1])
	}
	if lat[0] < 95*time.Millisecond {
		t.Errorf("fastest %s is under the injected latency", lat[0])
	}
	tr := srv.Truth()
	queued := 0
	for _, r := range tr.Requests {
		if r.Queued > 0 {
			queued++
			if r.Injected() != 100*time.Millisecond {
				t.Errorf("queue wait counted as injected delay: %+v", r)
			}
		}
	}
	if queued != extra || srv.Stats().Queued != int64(extra) {
		t.Errorf("%d requests queued (stats %d), want %d", queued, srv.Stats().Queued, extra)
	}
}

func TestQueueFullRefused(t *testing.T) {
	srv, base := newTest(t, Config{MaxConcurrent: 1, MaxQueue: 2, Latency: Latency{Dist: DistFixed, Fixed: 300 * time.Millisecond}})
	statuses, lat := burst(t, base, 6)
	if ok, busy := count(statuses, 200), count(statuses, 503); ok != 3 || busy != 3 {
		t.Fatalf("statuses %v: want 3×200 (one handled, two queued) and 3×503", statuses)
	}
	for i, s := range statuses {
		if s == 503 && lat[i] > 200*time.Millisecond {
			t.Errorf("a refusal took %s: it must come at once", lat[i])
		}
	}
	st := srv.Stats()
	if st.Refused != 3 || st.ByStatus["GET /health"][503] != 3 {
		t.Errorf("refused %d, by status %v", st.Refused, st.ByStatus)
	}
	// The refusal is the documented JSON with Retry-After.
	_, base2 := newTest(t, Config{MaxConcurrent: 1, MaxQueue: -1, Latency: Latency{Dist: DistFixed, Fixed: 300 * time.Millisecond}})
	go http.Get(base2 + "/health")
	time.Sleep(100 * time.Millisecond)
	r := call(t, base2, "GET", "/health", "", nil)
	if r.status != 503 || r.body["code"] != "OVERLOADED" || r.header.Get("Retry-After") != "1" {
		t.Errorf("no queue: second request got %d %s %v", r.status, r.raw, r.header)
	}
}

func TestMaxRate(t *testing.T) {
	const rate, n = 20.0, 8 // 50 ms apart
	srv, base := newTest(t, Config{MaxRate: rate})
	t0 := time.Now()
	statuses, lat := burst(t, base, n)
	span := time.Since(t0)
	if count(statuses, 200) != n {
		t.Fatalf("statuses %v", statuses)
	}
	if span < 330*time.Millisecond || span > 3*time.Second {
		t.Errorf("%d requests at %g/s took %s, want about %s", n, rate, span, 7*50*time.Millisecond)
	}
	slices.Sort(lat)
	if lat[n-1] < 330*time.Millisecond {
		t.Errorf("last client waited %s", lat[n-1])
	}
	// The server started them 50 ms apart (timers fire a little late,
	// so one gap may shrink by what the one before grew).
	var starts []time.Duration
	for _, r := range srv.Truth().Requests {
		starts = append(starts, r.Arrived+r.Queued)
	}
	slices.Sort(starts)
	for i := 1; i < len(starts); i++ {
		if gap := starts[i] - starts[i-1]; gap < 25*time.Millisecond {
			t.Errorf("starts %d and %d only %s apart", i-1, i, gap)
		}
	}
	if all := starts[len(starts)-1] - starts[0]; all < 340*time.Millisecond {
		t.Errorf("%d starts within %s, want at least 7×50ms", n, all)
	}
}

func TestMaxRateQueueFull(t *testing.T) {
	srv, base := newTest(t, Config{MaxRate: 10, MaxQueue: 3})
	statuses, _ := burst(t, base, 8)
	// One starts at once, three wait their turn, four find the queue full.
	if ok, busy := count(statuses, 200), count(statuses, 503); ok != 4 || busy != 4 {
		t.Fatalf("statuses %v, want 4×200 and 4×503", statuses)
	}
	if st := srv.Stats(); st.Refused != 4 || st.Queued != 3 {
		t.Errorf("refused %d, queued %d", st.Refused, st.Queued)
	}
}

func TestQueuedClientGone(t *testing.T) {
	srv, base := newTest(t, Config{MaxConcurrent: 1, Latency: Latency{Dist: DistFixed, Fixed: 400 * time.Millisecond}})
	go http.Get(base + "/health")
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/health", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("queued request answered %d before its client gave up", resp.StatusCode)
	}
	deadline := time.Now().Add(3 * time.Second)
	for srv.Stats().ByStatus["GET /health"][StatusClientGone] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("client gone while queued not recorded: %v", srv.Stats().ByStatus)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := srv.State(); st.Queued != 0 {
		t.Errorf("queue still holds %d", st.Queued)
	}
}

func TestCapacityWithInjection(t *testing.T) {
	// Stalls and faults keep working under the limits.
	srv, base := newTest(t, Config{MaxConcurrent: 2, ErrorRate: 1, Seed: 3})
	statuses, _ := burst(t, base, 4)
	for _, s := range statuses {
		if s != 500 && s != 503 {
			t.Fatalf("statuses %v: want only injected faults", statuses)
		}
	}
	if st := srv.Stats(); st.Faults != 4 || st.Refused != 0 {
		t.Errorf("faults %d refused %d", st.Faults, st.Refused)
	}
	var body map[string]any
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["code"] != "INJECTED_FAULT" {
		t.Errorf("fault body %v", body)
	}
}

func TestCapacityConfig(t *testing.T) {
	for _, c := range []Config{{MaxConcurrent: -1}, {MaxRate: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// Under a concurrency limit a stall still holds requests to its end,
// counted from when a request gets its turn: queue wait and stall add up
// to what the client sees.
func TestStallUnderCapacity(t *testing.T) {
	stall := Stall{Every: 300 * time.Millisecond, For: 100 * time.Millisecond}
	srv, base := newTest(t, Config{MaxConcurrent: 2, Stall: stall, Latency: Latency{Dist: DistFixed, Fixed: 20 * time.Millisecond}})
	deadline := srv.Origin().Add(2*stall.Every + stall.For + 50*time.Millisecond)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := http.Get(base + "/health")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	stalledAfterQueue := 0
	for _, r := range srv.Truth().Requests {
		if r.Stall == 0 {
			continue
		}
		// The hold ends exactly at a stall's end.
		if end := r.Arrived + r.Queued + r.Stall; end%stall.Every != stall.For {
			t.Fatalf("hold of %+v ends at %s, not at a stall's end", r, end)
		}
		if r.Queued > 0 {
			stalledAfterQueue++
		}
		if r.Served < r.Queued+r.Stall+r.Latency {
			t.Fatalf("served in %s, less than queue + stall + latency: %+v", r.Served, r)
		}
	}
	if stalledAfterQueue == 0 {
		t.Error("no request queued into a stall")
	}
	if st := srv.State(); st.PeakActive > 2 {
		t.Errorf("peak %d handled at once", st.PeakActive)
	}
}
