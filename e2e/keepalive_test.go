//go:build integration

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// keepAliveServer is a Node HTTP server that closes a kept-alive connection
// after it has been idle for the keep-alive timeout given as its argument,
// as Node's servers do (5 s by default), and counts what it handled.
const keepAliveServer = `
const http = require('http');
const seen = {};
let requests = 0;
const srv = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({requests, seen}));
    return;
  }
  req.resume();
  req.on('end', () => {
    requests++;
    const key = req.method + ' ' + req.url;
    seen[key] = (seen[key] || 0) + 1;
    res.setHeader('Content-Type', 'application/json');
    res.end('{"ok":true}');
  });
});
srv.keepAliveTimeout = Number(process.argv[2]);
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`

// Against a Node server whose keep-alive timeout runs out just as users
// who pause that long send their next request, no request fails and none
// reaches the server twice: a request that finds its pooled connection
// closed before any answer came is sent again on a new one, whatever its
// method, as browsers do. Before, 5 % of such requests failed (eof, reset):
// the HTTP client sent again only the reads.
func TestKeepAliveTimeoutRacesAreResent(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "server.js")
	if err := os.WriteFile(script, []byte(keepAliveServer), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", script, "1")
	stdout, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { node.Process.Kill(); node.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("node server: %v", err)
	}
	base := "http://127.0.0.1:" + strings.TrimSpace(line)

	// 40 users, each pausing about as long as the server keeps an idle
	// connection (its keep-alive timeout is 1 ms, and Node adds a second:
	// 1.003 s measured), 1 s plus 0.1 ms more per user, so that some send
	// just as the server closes: creates, updates, reads and deletes.
	path := filepath.Join(dir, "pauses.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	methods := []string{"POST", "PUT", "GET", "DELETE", "PATCH"}
	const users, each = 40, 6
	for i := 0; i < each; i++ {
		for u := 0; u < users; u++ {
			m := methods[(i+u)%len(methods)]
			x := &traffic.Exchange{Flow: fmt.Sprint("user-", u), ConnID: uint64(u + 1),
				Start:    time.Duration(i)*(time.Second+time.Duration(u)*100*time.Microsecond) + time.Duration(u)*10*time.Millisecond,
				Request:  traffic.Request{Method: m, URL: fmt.Sprintf("/v1/kv/u%d-%d", u, i), Header: traffic.Fields{{Name: "Authorization", Value: fmt.Sprint("Bearer token-", u)}}},
				Response: &traffic.Response{Status: 200}}
			if m != "GET" && m != "DELETE" {
				x.Request.Body = traffic.Body{Data: []byte(`{"value":"v"}`)}
			}
			if err := w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: x}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "run.json")
	_, stderr, code := command(t, time.Minute, "replay", "run", path, "--target", base, "--out", "json="+out, "-q")
	if code != 0 {
		t.Fatalf("replay run exit %d: %s", code, stderr)
	}
	var doc struct {
		Overall struct {
			Requests int64 `json:"requests"`
			Failed   int64 `json:"failed"`
			Outcomes map[string]struct {
				Failed map[string]int64 `json:"failed"`
			} `json:"outcomes"`
			Resent int64 `json:"resent"`
		} `json:"overall"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Requests int            `json:"requests"`
		Seen     map[string]int `json:"seen"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	o := doc.Overall
	failed := o.Outcomes["http"].Failed
	t.Logf("%d requests, %d failed %v, %d resent; the server handled %d", o.Requests, o.Failed, failed, o.Resent, stats.Requests)
	if o.Requests != users*each || o.Failed != 0 {
		t.Errorf("%d requests, %d failed (%v): want %d, none failed", o.Requests, o.Failed, failed, users*each)
	}
	if stats.Requests != users*each {
		t.Errorf("the server handled %d requests, want %d", stats.Requests, users*each)
	}
	for k, n := range stats.Seen {
		if n != 1 {
			t.Errorf("%s reached the server %d times", k, n)
		}
	}
}
