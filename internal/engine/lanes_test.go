package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// In a replay against two targets at once (a live comparison), neither
// lane goes first every time: each event reaches one lane before the
// other, and a lane that always went second would measure the first one's
// dispatch in its latency, a bias toward the first target.
func TestLanesTakeTurnsGoingFirst(t *testing.T) {
	const n = 400
	var recs []traffic.Record
	for i := 0; i < n; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprint("f", i%8), Start: time.Duration(i) * time.Millisecond,
			Request: traffic.Request{Method: "GET", URL: fmt.Sprint("/x/", i)}, Response: &traffic.Response{Status: 200},
		}})
	}
	s, err := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sent := [2]map[uint64]time.Duration{{}, {}}
	var cfgs []Config
	for i := range sent {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		cfgs = append(cfgs, Config{Target: mustURL(srv.URL), Results: func(r traffic.Result) {
			mu.Lock()
			sent[i][r.Seq] = r.Sent
			mu.Unlock()
		}})
	}
	if _, err := RunLanes(context.Background(), cfgs, s); err != nil {
		t.Fatal(err)
	}
	first := [2]int{}
	for u, a := range sent[0] {
		b, ok := sent[1][u]
		if !ok {
			t.Fatalf("event %d sent by lane A only", u)
		}
		switch {
		case a < b:
			first[0]++
		case b < a:
			first[1]++
		}
	}
	t.Logf("of %d events, lane A sent first %d, lane B %d", len(sent[0]), first[0], first[1])
	if len(sent[0]) != n {
		t.Fatalf("lane A sent %d of %d", len(sent[0]), n)
	}
	for i, k := range first {
		if k < n*35/100 {
			t.Errorf("lane %c sent first only %d times of %d: the lanes do not take turns", 'A'+i, k, n)
		}
	}
}
