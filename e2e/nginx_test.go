//go:build integration

package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/nginxtest"
	"github.com/reprise/reprise/internal/traffic"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientWorkload drives base like several independent clients: each flow
// has its own keep-alive connection and bearer token and sends requests
// one after another with think times, for d.
func clientWorkload(t *testing.T, base string, flows int, d time.Duration) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	deadline := time.Now().Add(d)
	for f := 0; f < flows; f++ {
		wg.Add(1)
		go func(f int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(f), 7))
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for n := 0; time.Now().Before(deadline); n++ {
				method, body := "GET", ""
				if n%4 == 3 {
					method, body = "POST", fmt.Sprintf(`{"flow":%d,"n":%d}`, f, n)
				}
				req, _ := http.NewRequest(method, fmt.Sprintf("%s/flow%d/item/%d?n=%d", base, f, n, n), strings.NewReader(body))
				req.Header.Set("Authorization", fmt.Sprintf("Bearer token-of-client-%d", f))
				req.Header.Set("X-Flow", fmt.Sprintf("f%d", f))
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("client %d: %v", f, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				total++
				mu.Unlock()
				time.Sleep(time.Duration(20+rng.IntN(180)) * time.Millisecond)
			}
		}(f)
	}
	wg.Wait()
	return total
}

// Recording a known client workload through the proxy and replaying it at
// --speed 10 against nginx delivers exactly the recorded requests, in
// recorded order per flow, in a tenth of the recorded time.
func TestRecordThenReplayAgainstNginx(t *testing.T) {
	upstream := nginxtest.Start(t, "")
	target := nginxtest.Start(t, "")
	dir := t.TempDir()
	out := filepath.Join(dir, "known.rpz")
	listen := freeAddr(t)
	proxy, plog := background(t, "record", "proxy", "--listen", listen, "--upstream", upstream.URL, "--out", out)
	waitListening(t, listen)
	sent := clientWorkload(t, "http://"+listen, 6, 12*time.Second)
	proxy.Process.Signal(syscall.SIGINT)
	if err := proxy.Wait(); err != nil {
		t.Fatalf("record proxy: %v\n%s", err, plog)
	}
	t.Logf("recorded: %s", strings.TrimSpace(plog.String()))

	// What the corpus holds: every request the clients sent.
	r, err := corpus.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	coll := traffic.Collect(recs)
	if len(coll.Exchanges) != sent {
		t.Fatalf("corpus holds %d exchanges, clients sent %d", len(coll.Exchanges), sent)
	}
	recorded := map[string][]string{}
	for _, x := range coll.Exchanges {
		flow := x.Request.Header.Get("X-Flow")
		recorded[flow] = append(recorded[flow], x.Request.Method+" "+x.Request.URL)
	}
	span := coll.Exchanges[len(coll.Exchanges)-1].Start - coll.Exchanges[0].Start

	stdout, stderr, code := command(t, time.Minute, "replay", "run", out, "--target", target.URL, "--speed", "10", "--quiet")
	if code != 0 {
		t.Fatalf("replay exit %d\n%s\n%s", code, stdout, stderr)
	}
	log, err := target.Log(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != sent {
		t.Fatalf("nginx saw %d requests, corpus has %d\n%s", len(log), sent, stdout)
	}
	replayed := map[string][]string{}
	for _, e := range log {
		replayed[e.Flow] = append(replayed[e.Flow], e.Method+" "+e.URI)
	}
	for flow, want := range recorded {
		got := replayed[flow]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("flow %s: replayed order differs from recorded\n got %v\nwant %v", flow, got, want)
		}
	}
	sort.Slice(log, func(i, j int) bool { return log[i].Time.Before(log[j].Time) })
	took := log[len(log)-1].Time.Sub(log[0].Time)
	want := span / 10
	ratio := float64(took) / float64(want)
	t.Logf("recorded span %v, replayed span %v at --speed 10 (ratio %.3f), %d requests", span, took, ratio, sent)
	if math.Abs(ratio-1) > 0.05 {
		t.Errorf("replayed span %v, want %v within 5%%", took, want)
	}
}
