package schedule_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// A run shaped by stages: the virtual users the metrics count each
// second (Series VUs) follow the stages exactly (each iteration is a
// client of its own, one flow here).
func TestStagesShapeActiveVUs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "user.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // one user, a request every 100ms
		w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "user", Start: time.Duration(i) * 100 * time.Millisecond,
			Request:  traffic.Request{Method: "GET", URL: "/v1/sessions"},
			Response: &traffic.Response{Status: 200},
		}})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"sessions":[]}`)) }))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)

	stages, err := schedule.ParseStages("2s:4,1s:4,2s:0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := replay.Run(context.Background(), replay.Options{
		Corpus: path,
		Load:   schedule.Load{Stages: stages},
		Engine: engine.Config{Target: target},
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := out.Snapshot
	if snap.Meta.VUsMax != 4 || snap.Meta.Multiply != 0 {
		t.Fatalf("vus_max %d, copies %d: want 4 VUs", snap.Meta.VUsMax, snap.Meta.Multiply)
	}
	it := snap.Iterations
	if it == nil || it.Complete < 10 || it.Duration.Count() != it.Complete || it.Interrupted > 4 {
		t.Fatalf("iterations %+v: want whole ones, each with its duration, and at most one cut per VU", it)
	}
	if snap.Flows != it.Complete+it.Interrupted {
		t.Fatalf("%d flows in %d iterations of a one-flow user: want one per iteration", snap.Flows, it.Complete+it.Interrupted)
	}
	if snap.Overall.Failed != 0 {
		t.Fatalf("%d failed", snap.Overall.Failed)
	}
	// Expected VUs in second i: VUs active at some point of it, ceil of
	// the stages' highest target in [i, i+1).
	var got, want, vus []int64
	for i, sec := range snap.Series {
		peak := 0.0
		for t := time.Duration(i) * time.Second; t < time.Duration(i+1)*time.Second; t += time.Millisecond {
			peak = math.Max(peak, schedule.TargetAt(stages, t))
		}
		got = append(got, sec.Flows)
		vus = append(vus, sec.VUs)
		want = append(want, int64(math.Ceil(peak-1e-9)))
	}
	t.Logf("flows per second %v, VUs %v, stages ask %v", got, vus, want)
	if len(got) < 5 || len(got) > 6 {
		t.Fatalf("%d seconds of series, want the 5 of the stages (+1 for the last completion)", len(got))
	}
	for i := range got {
		if vus[i] != want[i] {
			t.Fatalf("second %d: %d VUs, stages ask %d (all: %v vs %v)", i, vus[i], want[i], vus, want)
		}
		// every running VU has a flow active in the second
		if got[i] < want[i] {
			t.Fatalf("second %d: %d flows, fewer than its %d VUs (all: %v vs %v)", i, got[i], want[i], got, want)
		}
	}
	if vus[1] != 4 || vus[2] != 4 || vus[0] >= vus[1] || vus[4] >= vus[3] {
		t.Fatalf("VUs %v do not ramp up to 4, hold, and ramp down", vus)
	}
}
