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

// A server closes a kept-alive connection idle for its timeout; users who
// pause about that long send some requests just as it does. Those go
// again on a new connection, whatever their method, so none fails and
// none reaches the server twice (the server closed before reading them).
func TestIdleTimeoutRacesAreResent(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	const flows, each = 30, 20
	var recs []traffic.Record
	methods := []string{"POST", "PUT", "GET", "DELETE", "PATCH"}
	for i := 0; i < flows*each; i++ {
		m := methods[i%len(methods)]
		x := &traffic.Exchange{Flow: fmt.Sprint("f", i%flows), Start: time.Duration(i) * 3333 * time.Microsecond,
			Request: traffic.Request{Method: m, URL: fmt.Sprint("/x/", i)}, Response: &traffic.Response{Status: 200}}
		if m != "GET" && m != "DELETE" {
			x.Request.Body = traffic.Body{Data: []byte(`{"a":1}`)}
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	}
	s, _ := schedule.New(traffic.SliceSource(recs), schedule.Options{})
	var c collected
	if _, err := Run(context.Background(), Config{Target: mustURL(srv.URL), Results: c.add}, s); err != nil {
		t.Fatal(err)
	}
	failed, resent := map[string]int{}, 0
	for _, r := range c.all {
		if r.Error != "" {
			failed[r.Error]++
		}
		if r.Resent {
			resent++
		}
	}
	t.Logf("%d results, failed %v, resent %d, the server saw %d", len(c.all), failed, resent, len(seen))
	if len(c.all) != flows*each || len(failed) > 0 {
		t.Errorf("%d results, failed %v: want %d, none failed", len(c.all), failed, flows*each)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s reached the server %d times", k, n)
		}
	}
	if len(seen) != flows*each {
		t.Errorf("the server saw %d requests, want %d", len(seen), flows*each)
	}
}
