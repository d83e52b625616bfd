package faultproxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/reprise/reprise/internal/faultproxy"
)

// A proxy in front of a healthy server answers half of the requests to
// /api with 503 (which half is fixed by the seed) and takes the whole
// target down for a moment.
func Example() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)

	p, err := faultproxy.New(faultproxy.Config{
		Upstream: u,
		Plan: faultproxy.Plan{
			Seed:  7,
			Rules: []faultproxy.Rule{{Fault: faultproxy.Status, Path: "/api", Fraction: 0.5, Status: 503}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(context.Background(), "127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	client := &http.Client{Timeout: time.Second}
	var statuses []int
	for i := 0; i < 8; i++ {
		resp, err := client.Get(p.URL() + "/api/items")
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	fmt.Println(statuses)

	p.Down()
	_, err = client.Get(p.URL() + "/health")
	fmt.Println("down:", err != nil)
	p.Up()
	resp, err := client.Get(p.URL() + "/health")
	if err == nil {
		resp.Body.Close()
		fmt.Println("up again:", resp.StatusCode)
	}
	st := p.Stats()
	fmt.Println("503s injected:", st.Faults[faultproxy.Status], "forwarded:", st.Forwarded)
	// Output:
	// [200 503 200 200 200 503 200 503]
	// down: true
	// up again: 200
	// 503s injected: 3 forwarded: 6
}
