//go:build integration

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/netconf/netconftest"
	"github.com/reprise/reprise/internal/nginxtest"
	"github.com/reprise/reprise/internal/traffic"
)

// tlsLogFormat is what the nginx of TestNginxTLS logs per request: what
// the server saw of the connection.
const tlsLogFormat = `log_format tls '$ssl_protocol $server_protocol $ssl_client_verify $status "$host" "$ssl_server_name" "$request_uri"';`

// tlsEntry is one line of tlsLogFormat.
type tlsEntry struct {
	SSLProtocol, ServerProtocol, ClientVerify string
	Status                                    int
	Host, SNI, URI                            string
}

func readTLSLog(t *testing.T, path string) []tlsEntry {
	t.Helper()
	// nginx logs a request after answering it: wait for the lines of a
	// run to settle (two reads 100 ms apart agree).
	var out []tlsEntry
	for i := 0; i < 30; i++ {
		var now []tlsEntry
		f, err := os.Open(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if f != nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var e tlsEntry
				if _, err := fmt.Sscanf(sc.Text(), "%s %s %s %d %q %q %q", &e.SSLProtocol, &e.ServerProtocol, &e.ClientVerify, &e.Status, &e.Host, &e.SNI, &e.URI); err != nil {
					t.Fatalf("log line %q: %v", sc.Text(), err)
				}
				now = append(now, e)
			}
			f.Close()
		}
		if i > 0 && len(now) == len(out) {
			return now
		}
		out = now
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// wsEcho is the loopback WebSocket backend nginx proxies /v1/updates to.
type wsEcho struct {
	mu    sync.Mutex
	hosts []string
	msgs  int
}

func startWSEcho(t *testing.T) (*wsEcho, string) {
	e := &wsEcho{}
	up := websocket.Upgrader{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		e.mu.Lock()
		e.hosts = append(e.hosts, r.Host)
		e.mu.Unlock()
		for {
			op, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.msgs++
			e.mu.Unlock()
			conn.WriteMessage(op, p)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e, ln.Addr().String()
}

func (e *wsEcho) seen() ([]string, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.hosts...), e.msgs
}

// tlsCorpus writes 20 GETs over two flows and one WebSocket session with
// three client messages.
func tlsCorpus(t *testing.T, path string) {
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "https://api.recorded.example"})
	if err != nil {
		t.Fatal(err)
	}
	var recs []traffic.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: fmt.Sprintf("f%d", i%2), Start: time.Duration(i) * 20 * time.Millisecond,
			Request:  traffic.Request{Method: "GET", URL: fmt.Sprintf("/v1/items/%d", i)},
			Response: &traffic.Response{Status: 200},
		}})
	}
	recs = append(recs, wsConnRecords(7, "/v1/updates", 50*time.Millisecond, 3, 30*time.Millisecond)...)
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Replays over HTTPS to a real nginx whose certificate comes from a
// private CA, under a name that is not in DNS (--resolve), over HTTP/2
// and HTTP/1.1, then to one that requires client certificates (mutual
// TLS), with a WebSocket proxied by nginx to a loopback backend; what
// nginx saw of every request (TLS version, HTTP version, Host, SNI,
// client certificate verification) is read back from its access log.
func TestNginxTLS(t *testing.T) {
	if nginxtest.Binary() == "" {
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	serverCrt, serverKey := ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}).Write(t, dir, "server")
	clientCrt, clientKey := ca.Issue(t, netconftest.Leaf{Names: []string{"replay-client"}, Client: true}).Write(t, dir, "client")
	echo, echoAddr := startWSEcho(t)
	corpusPath := filepath.Join(dir, "staging.rpz")
	tlsCorpus(t, corpusPath)
	const wantHTTP, wantWSMsgs = 20, 3

	start := func(name, extra string) (*nginxtest.Server, string) {
		logPath := filepath.Join(dir, name+".log")
		srv := nginxtest.StartWith(t, nginxtest.Options{
			Listen: "ssl http2",
			HTTP:   tlsLogFormat,
			Server: fmt.Sprintf(`
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3;
    access_log %s tls;
    %s
    location /v1/updates {
      proxy_pass http://%s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
    }
    location / { default_type application/json; return 200 '{"ok":true}'; }`, serverCrt, serverKey, logPath, extra, echoAddr),
		})
		return srv, logPath
	}
	replay := func(srv *nginxtest.Server, args ...string) (string, string, int) {
		u, _ := url.Parse(srv.URL)
		target := "https://staging.test:" + u.Port()
		base := []string{"run", corpusPath, "--target", target, "--resolve", "staging.test:" + u.Port() + ":127.0.0.1", "--speed", "2", "-q"}
		stdout, stderr, code := command(t, time.Minute, "replay", append(base, args...)...)
		return stdout, stderr, code
	}
	// check asserts what nginx logged of a successful run: every request
	// with Host and SNI staging.test, over proto (the WebSocket upgrade
	// over HTTP/1.1), with the client verification wanted.
	check := func(t *testing.T, entries []tlsEntry, proto, verify string) {
		t.Helper()
		var http, ws int
		for _, e := range entries {
			if e.Host != "staging.test" || e.SNI != "staging.test" || e.ClientVerify != verify || !strings.HasPrefix(e.SSLProtocol, "TLSv1.") {
				t.Errorf("nginx saw %+v: want Host and SNI staging.test, client verification %s", e, verify)
			}
			if e.URI == "/v1/updates" {
				ws++
				if e.Status != 101 || e.ServerProtocol != "HTTP/1.1" {
					t.Errorf("WebSocket upgrade %+v: want 101 over HTTP/1.1", e)
				}
				continue
			}
			http++
			if e.Status != 200 || e.ServerProtocol != proto {
				t.Errorf("request %+v: want 200 over %s", e, proto)
			}
		}
		if http != wantHTTP || ws != 1 {
			t.Errorf("nginx logged %d requests and %d WebSocket upgrades, want %d and 1", http, ws, wantHTTP)
		}
	}

	t.Run("private CA", func(t *testing.T) {
		srv, logPath := start("plain", "")
		_, stderr, code := replay(srv)
		if code != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") || !strings.Contains(stderr, "pass --ca-cert FILE (or --insecure)") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("without --ca-cert: exit %d, stderr %q; want one line naming --ca-cert", code, stderr)
		}
		if n := len(readTLSLog(t, logPath)); n != 0 {
			t.Fatalf("nginx got %d requests from a run that failed its check", n)
		}
		for _, tc := range []struct {
			name, proto string
			args        []string
		}{
			{"http2", "HTTP/2.0", nil},
			{"http1", "HTTP/1.1", []string{"--http1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(readTLSLog(t, logPath))
				_, msgsBefore := echo.seen()
				stdout, stderr, code := replay(srv, append([]string{"--ca-cert", caFile}, tc.args...)...)
				if code != 0 {
					t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
				}
				check(t, readTLSLog(t, logPath)[before:], tc.proto, "NONE")
				hosts, msgs := echo.seen()
				if msgs-msgsBefore != wantWSMsgs || hosts[len(hosts)-1] != "staging.test" {
					t.Errorf("the WebSocket backend got %d messages (want %d), Host %q", msgs-msgsBefore, wantWSMsgs, hosts[len(hosts)-1])
				}
			})
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		srv, logPath := start("mtls", fmt.Sprintf("ssl_client_certificate %s;\n    ssl_verify_client on;", caFile))
		stdout, stderr, code := replay(srv, "--ca-cert", caFile)
		if code != 1 || !strings.Contains(stderr, "pass --cert FILE --key FILE") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("without --cert: exit %d, stderr %q; want one line naming --cert\n%s", code, stderr, stdout)
		}
		refused := readTLSLog(t, logPath)
		if len(refused) == 0 {
			t.Fatal("nginx logged nothing of the run without --cert")
		}
		for _, e := range refused {
			if e.ClientVerify != "NONE" || e.Status != 400 {
				t.Errorf("without --cert nginx logged %+v, want 400 with no client certificate", e)
			}
		}
		stdout, stderr, code = replay(srv, "--ca-cert", caFile, "--cert", clientCrt, "--key", clientKey)
		if code != 0 {
			t.Fatalf("with --cert: exit %d\n%s\n%s", code, stdout, stderr)
		}
		check(t, readTLSLog(t, logPath)[len(refused):], "HTTP/2.0", "SUCCESS")
	})
}
