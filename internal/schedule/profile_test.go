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

// A run shaped by stages: the concurrent users the metrics count each
// second (Series Flows) follow the stages' copies, a looping copy
// counting as one user.
func TestStagesShapeActiveFlows(t *testing.T) {
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
		Corpus:   path,
		Load:     schedule.Load{Stages: stages},
		Schedule: schedule.Options{Loop: true},
		Engine:   engine.Config{Target: target},
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := out.Snapshot
	if snap.Meta.Multiply != 4 || snap.Flows != 4 {
		t.Fatalf("copies %d, flows %d: want 4 copies, each one looping user", snap.Meta.Multiply, snap.Flows)
	}
	if snap.Overall.Failed != 0 {
		t.Fatalf("%d failed", snap.Overall.Failed)
	}
	// Expected users in second i: copies active at some point of it,
	// ceil of the stages' highest target in [i, i+1).
	var got, want []int64
	for i, sec := range snap.Series {
		peak := 0.0
		for t := time.Duration(i) * time.Second; t < time.Duration(i+1)*time.Second; t += time.Millisecond {
			peak = math.Max(peak, schedule.TargetAt(stages, t))
		}
		got = append(got, sec.Flows)
		want = append(want, int64(math.Ceil(peak-1e-9)))
	}
	t.Logf("flows per second %v, stages ask %v", got, want)
	if len(got) < 5 || len(got) > 6 {
		t.Fatalf("%d seconds of series, want the 5 of the stages (+1 for the last completion)", len(got))
	}
	for i := range got {
		// a copy's last response may end just after the second its
		// stop falls in: one more, never fewer
		if got[i] < want[i] || got[i] > want[i]+1 {
			t.Fatalf("second %d: %d flows, stages ask %d (all: %v vs %v)", i, got[i], want[i], got, want)
		}
	}
	if got[1] != 4 || got[2] != 4 || got[0] >= got[1] || got[4] >= got[3] {
		t.Fatalf("flows %v do not ramp up to 4, hold, and ramp down", got)
	}
}
