//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// TestSniffCommandLive runs `record sniff` on loopback while a client
// sends requests, stops it like SIGINT does (context cancel) and reads the
// corpus back.
func TestSniffCommandLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})}
	go srv.Serve(l)
	defer srv.Close()

	out := filepath.Join(t.TempDir(), "live.rpz")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"record", "sniff", "-i", "lo", "-p", fmt.Sprint(port), "-o", out, "--ring-mb", "16"}, &stdout, &stderr)
	}()
	time.Sleep(300 * time.Millisecond)
	const n = 50
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/r%d", port, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel() // what SIGINT does through signal.NotifyContext
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "dropped by the kernel 0") {
		t.Errorf("summary: %s", stdout.String())
	}
	r, err := corpus.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	if h.Source != "sniff" || h.ClockOrigin.Before(start.Add(-time.Second)) || h.ClockOrigin.After(time.Now()) {
		t.Errorf("header source %q, clock origin %v (capture started %v)", h.Source, h.ClockOrigin, start)
	}
	recs, err := traffic.ReadAll(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	col := traffic.Collect(recs)
	if len(col.Exchanges) != n {
		t.Fatalf("got %d exchanges, want %d\n%s", len(col.Exchanges), n, stdout.String())
	}
	for i, x := range col.Exchanges {
		if x.Request.URL != fmt.Sprintf("/r%d", i) || x.Response == nil || string(x.Response.Body.Data) != fmt.Sprintf("hello /r%d", i) {
			t.Errorf("exchange %d: %s %v", i, x.Request.URL, x.Response)
		}
	}
}
