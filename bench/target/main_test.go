package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// chanWriter hands each write to the test through a channel.
type chanWriter struct {
	ch chan string
}

func (w chanWriter) Write(p []byte) (int, error) {
	w.ch <- string(p)
	return len(p), nil
}

// Every method and path gets 200 and the same JSON body; the served count
// comes out on stop.
func TestAnswersEverythingAndCounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	stderr := chanWriter{ch: make(chan string, 4)}
	done := make(chan int, 1)
	go func() { done <- run(runCtx, []string{"-listen", "127.0.0.1:0"}, pw, stderr); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want the base URL", line)
	}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v1/sessions", ""},
		{"POST", "/v1/sessions/abc/messages", `{"localId":"x","content":{"t":"text"}}`},
		{"DELETE", "/anything/at/all?q=1", ""},
	} {
		r, _ := http.NewRequestWithContext(ctx, req.method, url+req.path, strings.NewReader(req.body))
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
			t.Errorf("%s %s: %d %q %s, want 200 with a JSON body", req.method, req.path, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if msg := <-stderr.ch; !strings.Contains(msg, "served 3 requests") {
		t.Errorf("on stop: %q, want the 3 requests served", msg)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.1.2.3:8080", ":8080", "example.com:80"} {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"-listen", addr}, io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "only a loopback address") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("-listen %s: exit %d, %q: want exit 2 and one line refusing it", addr, code, stderr.String())
		}
	}
}
