package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

func TestProxyCommandUsage(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "have.rpz")
	os.WriteFile(existing, []byte("x"), 0o600)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing upstream", []string{"--out", filepath.Join(dir, "a.rpz")}, exitUsage, "upstream"},
		{"malformed upstream", []string{"--upstream", "localhost:8787", "--out", filepath.Join(dir, "a.rpz")}, exitUsage, "want an absolute http:// or https:// URL"},
		{"upstream with query", []string{"--upstream", "http://h/?a=1", "--out", filepath.Join(dir, "a.rpz")}, exitUsage, "query or fragment"},
		{"bad rule", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--redact", "cookie"}, exitUsage, "want TARGET:PATTERN"},
		{"redact and no-redact", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--redact", "json:x", "--no-redact"}, exitUsage, "contradict"},
		{"negative max-body", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--max-body", "-1"}, exitUsage, "max-body"},
		{"zero flush interval", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--flush-interval", "0s"}, exitUsage, "flush-interval"},
		{"existing corpus", []string{"--upstream", "http://h", "--out", existing, "--listen", "127.0.0.1:0"}, exitError, "pass --overwrite"},
		{"tls cert without key", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--tls-cert", existing}, exitUsage, "go together"},
		{"unreadable tls pair", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "a.rpz"), "--tls-cert", existing, "--tls-key", existing}, exitUsage, "--tls-cert"},
		{"bad listen address", []string{"--upstream", "http://h", "--out", filepath.Join(dir, "b.rpz"), "--listen", "256.0.0.1:1"}, exitError, "listen on 256.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"record", "proxy"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); code == exitError && n > 0 {
				t.Errorf("error is not one line: %q", stderr.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`listening on (https?://[0-9.:]+)`)

func waitListen(t *testing.T, out func() string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(out()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("proxy did not start: %q", out())
	return ""
}

func TestProxyCommandRecordsAndStops(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"token":"resp-secret"}`)
	}))
	defer up.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	// A certificate for 127.0.0.1 (httptest's) as PEM files, and a client
	// that trusts it, for --tls-cert/--tls-key.
	certSrv := httptest.NewTLSServer(http.NotFoundHandler())
	certSrv.Close()
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(certSrv.TLS.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certSrv.Certificate().Raw}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	tests := []struct {
		name       string
		upstream   string
		wantStatus int
		wantSum    string
		tls        bool
	}{
		{"live upstream", up.URL, 200, "2 exchanges, 0 websocket connections / 0 messages", false},
		{"unreachable upstream is not a startup error", dead, 502, "2 errors", false},
		{"https clients", up.URL, 200, "2 exchanges, 0 websocket connections / 0 messages", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rec.rpz")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			args := []string{"record", "proxy", "--listen", "127.0.0.1:0", "--upstream", tt.upstream, "--out", out}
			client := http.DefaultClient
			if tt.tls {
				args = append(args, "--tls-cert", certFile, "--tls-key", keyFile)
				client = certSrv.Client()
			}
			go func() {
				done <- run(ctx, args, &stdout, &stderr)
			}()
			base := waitListen(t, stdout.String)
			if tt.tls != strings.HasPrefix(base, "https://") {
				t.Fatalf("proxy listens on %s", base)
			}
			for i := 0; i < 2; i++ {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/x?i=%d", base, i), nil)
				req.Header.Set("Authorization", "Bearer cli-secret")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
				}
			}
			cancel()
			if code := <-done; code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != 2 || !strings.Contains(lines[1], tt.wantSum) || !strings.Contains(lines[1], out) {
				t.Errorf("output %q, want a start line and a summary with %q", stdout.String(), tt.wantSum)
			}
			fi, err := os.Stat(out)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("corpus %v mode %v", err, fi)
			}
			rd, err := corpus.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			recs, err := traffic.ReadAll(context.Background(), rd)
			if err != nil || len(recs) != 2 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			if scheme := recs[0].Exchange.Request.Scheme; (scheme == "https") != tt.tls {
				t.Errorf("recorded scheme %q", scheme)
			}
			if rd.Header().Source != "proxy" || rd.Header().Origin != tt.upstream || len(rd.Header().Redactions) == 0 {
				t.Errorf("header %+v", rd.Header())
			}
			raw, _ := os.ReadFile(out)
			if bytes.Contains(raw, []byte("cli-secret")) {
				t.Error("bearer token on disk")
			}
		})
	}
}

// TestProxyCommandChild is the child process of TestProxyCommandSIGKILL.
func TestProxyCommandChild(t *testing.T) {
	args := os.Getenv("REPRISE_PROXY_CHILD_ARGS")
	if args == "" {
		t.Skip("child process of TestProxyCommandSIGKILL")
	}
	os.Exit(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func TestProxyCommandSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", r.URL.Path)
	}))
	defer up.Close()
	out := filepath.Join(t.TempDir(), "killed.rpz")
	args := []string{"record", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--out", out, "--flush-interval", "200ms"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyCommandChild$")
	cmd.Env = append(os.Environ(), "REPRISE_PROXY_CHILD_ARGS="+strings.Join(args, "\x1f"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := waitListen(t, func() string { return line })
	const n = 40
	cl := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < n; i++ {
		resp, err := cl.Get(fmt.Sprintf("%s/items/%d", base, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Everything older than the reorder window plus the flush interval
	// (0.7 s) must be on disk; wait well past that, then kill.
	time.Sleep(2 * time.Second)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a killed recorder must not leave a finished corpus")
	}
	rd, err := corpus.Open(out + corpus.PartialSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	recs, err := traffic.ReadAll(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Errorf("read %d records from the killed recorder's corpus, want all %d", len(recs), n)
	}
	if !rd.Stats().Truncated {
		t.Error("the reader should say the corpus was cut")
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Exchange.Request.URL] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprintf("/items/%d", i)] {
			t.Errorf("/items/%d missing", i)
		}
	}
}
