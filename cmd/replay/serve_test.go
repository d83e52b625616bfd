package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveOutput is a goroutine-safe writer for a command's output.
type serveOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *serveOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *serveOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startServe runs `replay serve ARGS` and returns its base URL and a stop
// function that cancels it and returns its exit code.
func startServe(t *testing.T, args ...string) (string, *serveOutput, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut serveOutput
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"replay", "serve"}, args...), &out, &errOut) }()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], &errOut, func() int {
				cancel()
				select {
				case c := <-code:
					return c
				case <-time.After(10 * time.Second):
					t.Fatal("serve did not stop")
					return -1
				}
			}
		}
		select {
		case c := <-code:
			cancel()
			t.Fatalf("serve exited %d: %s", c, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatal("serve printed no URL")
	return "", nil, nil
}

func TestServeCommand(t *testing.T) {
	base, errOut, stop := startServe(t, "--listen", "127.0.0.1:0", "--token", "test-auth-token", "--latency", "fixed:1ms", "--seed", "3")
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/health", ""); s != 200 {
		t.Errorf("/health %d", s)
	}
	if s := get("/v1/sessions", "test-auth-token"); s != 200 {
		t.Errorf("sessions with --token %d", s)
	}
	if s := get("/v1/sessions", "other"); s != 401 {
		t.Errorf("sessions with an unknown token %d", s)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "3 requests") || !strings.Contains(errOut.String(), "injected delay p50=1ms p90=1ms") {
		t.Errorf("summary %q", errOut.String())
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"remote listen", []string{"--listen", "0.0.0.0:0"}, "not a loopback address"},
		{"bad latency", []string{"--listen", "127.0.0.1:0", "--latency", "gaussian:1ms"}, `unknown distribution "gaussian"`},
		{"bad stall", []string{"--listen", "127.0.0.1:0", "--stall", "every=1s,for=2s"}, "must be shorter"},
		{"bad error rate", []string{"--listen", "127.0.0.1:0", "--error-rate", "5"}, "outside 0..1"},
		{"bad listen", []string{"--listen", "nonsense"}, "want host:port"},
		{"argument", []string{"extra"}, "takes no arguments"},
		{"negative max concurrent", []string{"--listen", "127.0.0.1:0", "--max-concurrent", "-1"}, "--max-concurrent -1 is negative"},
		{"negative max rate", []string{"--listen", "127.0.0.1:0", "--max-rate", "-2"}, "--max-rate -2"},
		{"negative queue", []string{"--listen", "127.0.0.1:0", "--queue", "-1"}, "--queue -1 is negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"replay", "serve"}, c.args...), &out, &errOut)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if lines := strings.Count(strings.TrimSpace(errOut.String()), "\n"); lines != 0 || !strings.Contains(errOut.String(), c.msg) {
				t.Errorf("stderr %q, want one line containing %q", errOut.String(), c.msg)
			}
		})
	}
}

// serve compresses for clients that ask, limits its capacity when told,
// and prints what exists when it stops.
func TestServeCompressionCapacityState(t *testing.T) {
	base, errOut, stop := startServe(t, "--listen", "127.0.0.1:0", "--any-token", "--max-concurrent", "2", "--queue", "1", "--latency", "fixed:200ms")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest("POST", base+"/v1/sessions", strings.NewReader(`{"tag":"a","metadata":"bWV0YQ=="}`))
	req.Header.Set("Authorization", "Bearer alice")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("create answered %d with Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	// Two handled, one queued, the rest refused at once.
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base + "/health")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	ok, busy := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 503:
			busy++
		}
	}
	if ok != 3 || busy != 2 {
		t.Errorf("statuses %v: want 3×200 and 2×503", statuses)
	}
	resp, err = client.Get(base + "/_reprise/state")
	if err != nil {
		t.Fatal(err)
	}
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(state), `"sessions":1`) || !strings.Contains(string(state), `"peak_active":2`) {
		t.Errorf("state %s", state)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"1 queued, 2 refused with 503", "1 compressed", "happy api state: 1 users, 1 sessions (0 messages), 0 machines", "peak 2 requests handled at once"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stop summary lacks %q:\n%s", want, errOut.String())
		}
	}
}
