//go:build integration

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// TestProxyRecordsNodeFetchComplete runs a Node client (its built-in
// fetch: default headers, keep-alive, JSON POST bodies up to 300 KB, some
// streamed and so sent chunked, three users at once) through record proxy
// to a loopback upstream that compresses its answers, and checks the
// corpus: every exchange complete with its response, no error, no
// negative timing, request bodies whole, responses kept compressed as
// they went on the wire, Accept-Encoding forwarded as the client sent it.
func TestProxyRecordsNodeFetchComplete(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	var mu sync.Mutex
	sawEncoding := map[string][]string{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sawEncoding[r.Header.Get("X-Req")] = r.Header.Values("Accept-Encoding")
		mu.Unlock()
		got := -1
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/sessions":
			b, _ := io.ReadAll(r.Body)
			got = len(b)
		case r.Method == "POST" && r.URL.Path == "/v1/messages":
			// One JSON value, without reading on to the end of the body.
			var v any
			if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			defer zw.Close()
			out = zw
		}
		fmt.Fprintf(out, `{"path":%q,"got":%d,"items":[`, r.URL.Path, got)
		w.(http.Flusher).Flush()
		for i := range 50 {
			if i > 0 {
				io.WriteString(out, ",")
			}
			fmt.Fprintf(out, `{"id":"item-%d","text":"a streamed answer"}`, i)
		}
		io.WriteString(out, "]}")
	}))
	defer up.Close()

	out := filepath.Join(t.TempDir(), "node.rpz")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"record", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--out", out}, &stdout, &stderr)
	}()
	base := waitListen(t, stdout.String)

	const users, rounds = 3, 10
	node := exec.Command("node", filepath.Join("testdata", "node", "fetch-client.js"), base, fmt.Sprint(users), fmt.Sprint(rounds))
	var nodeErr bytes.Buffer
	node.Stderr = &nodeErr
	nodeOut, err := node.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, nodeErr.String())
	}
	var report struct {
		Sent []struct {
			ID     string
			Size   int64
			SHA256 string
		}
	}
	if err := json.Unmarshal(nodeOut, &report); err != nil {
		t.Fatalf("node output %q: %v", nodeOut, err)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("record proxy exit %d: %s", code, stderr.String())
	}
	if sum := stdout.String(); !strings.Contains(sum, " 0 errors") {
		t.Errorf("summary counts errors: %s", sum)
	}

	rd, err := corpus.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	recs, err := traffic.ReadAll(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*traffic.Exchange{}
	conns := map[uint64]int{}
	for _, rec := range recs {
		if x := rec.Exchange; rec.Kind == traffic.KindExchange {
			byID[x.Request.Header.Get("X-Req")] = x
			conns[x.ConnID]++
		}
	}
	if want := users * rounds * 3; len(byID) != want {
		t.Fatalf("%d exchanges recorded, want %d", len(byID), want)
	}
	if len(conns) >= len(byID) {
		t.Errorf("%d connections for %d exchanges: keep-alive was not kept", len(conns), len(byID))
	}
	for id, x := range byID {
		if x.Response == nil || x.Error != "" || x.Has(traffic.FlagIncomplete) || x.Has(traffic.FlagNoResponse) {
			t.Errorf("%s: response %v, error %q, flags %b: the client completed it", id, x.Response != nil, x.Error, x.Flags)
			continue
		}
		tm := x.Timing
		if tm.Send < 0 || tm.Wait < 0 || tm.Receive < 0 || tm.Total <= 0 || tm.Send+tm.Wait+tm.Receive != tm.Total {
			t.Errorf("%s: timing send %v wait %v receive %v total %v", id, tm.Send, tm.Wait, tm.Receive, tm.Total)
		}
		mu.Lock()
		saw := sawEncoding[id]
		mu.Unlock()
		if sent := x.Request.Header.Values("Accept-Encoding"); strings.Join(saw, "|") != strings.Join(sent, "|") {
			t.Errorf("%s: upstream got Accept-Encoding %q, the client sent %q", id, saw, sent)
		}
		if !strings.Contains(strings.Join(x.Request.Header.Values("Accept-Encoding"), ","), "gzip") {
			t.Errorf("%s: Node's fetch asked for %q, expected gzip among them", id, x.Request.Header.Values("Accept-Encoding"))
			continue
		}
		if ce := x.Response.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Errorf("%s: recorded Content-Encoding %q, want gzip", id, ce)
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(x.Response.Body.Data))
		if err != nil {
			t.Errorf("%s: recorded response is not the gzip stream sent: %v", id, err)
			continue
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.HasPrefix(plain, []byte(`{"path":`)) || !bytes.HasSuffix(plain, []byte("]}")) {
			t.Errorf("%s: recorded response decodes to %.60q... (%v)", id, plain, err)
		}
	}
	for _, s := range report.Sent {
		x := byID[s.ID]
		if x == nil {
			t.Errorf("%s: not recorded", s.ID)
			continue
		}
		b := x.Request.Body
		h := sha256.Sum256(b.Data)
		if b.Size != s.Size || b.Truncated || hex.EncodeToString(h[:]) != s.SHA256 {
			t.Errorf("%s: request body recorded as %d bytes (size %d, truncated %v), Node sent %d", s.ID, len(b.Data), b.Size, b.Truncated, s.Size)
		}
		if strings.HasSuffix(s.ID, "-stream") && x.Request.Header.Get("Transfer-Encoding") != "chunked" {
			t.Errorf("%s: streamed body sent with %q, want chunked", s.ID, x.Request.Header)
		}
	}
	t.Logf("%d exchanges over %d connections, %d request bodies checked", len(byID), len(conns), len(report.Sent))
}
