package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/netconf/netconftest"
	"github.com/reprise/reprise/internal/traffic"
)

// stagingCorpus writes n GETs and one WebSocket session (two client
// messages) recorded from a staging origin.
func stagingCorpus(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "staging.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "https://recorded.example"})
	if err != nil {
		t.Fatal(err)
	}
	var recs []traffic.Record
	for i := 0; i < n; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: "f", Start: time.Duration(i) * 10 * time.Millisecond,
			Request:  traffic.Request{Method: "GET", URL: fmt.Sprintf("/v1/items/%d", i)},
			Response: &traffic.Response{Status: 200},
		}})
	}
	at := 5 * time.Millisecond
	recs = append(recs, traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{
		Flow: "ws", ConnID: 9, Start: at,
		Upgrade: traffic.Exchange{Flow: "ws", ConnID: 9, Start: at,
			Request: traffic.Request{Method: "GET", URL: "/v1/updates", Header: traffic.Fields{
				{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"},
				{Name: "Sec-WebSocket-Key", Value: "dGhlIHNhbXBsZSBub25jZQ=="}, {Name: "Sec-WebSocket-Version", Value: "13"}}},
			Response: &traffic.Response{Status: 101}, Flags: traffic.FlagUpgrade},
	}})
	for i := 1; i <= 2; i++ {
		p := []byte(fmt.Sprintf(`{"n":%d}`, i))
		recs = append(recs, traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "ws", ConnID: 9,
			Start: at + time.Duration(i)*10*time.Millisecond, FromClient: true, Opcode: traffic.OpText, Payload: p, Size: int64(len(p)), Frames: 1}})
	}
	recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "ws", ConnID: 9,
		Start: at + 40*time.Millisecond, FromClient: true, Code: traffic.CloseNormal}})
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// stagingServer is an HTTPS server with HTTP and WebSocket endpoints that
// records what each request showed of the connection.
type stagingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []stagingSeen
}

type stagingSeen struct {
	ws                  bool
	host, sni, clientCN string
	proto               string
	msgs                int
}

func newStagingServer(t *testing.T, cert tls.Certificate, cfg *tls.Config, status func(*http.Request) int) *stagingServer {
	s := &stagingServer{}
	up := websocket.Upgrader{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := stagingSeen{host: r.Host, sni: r.TLS.ServerName, proto: r.Proto, ws: websocket.IsWebSocketUpgrade(r)}
		if len(r.TLS.PeerCertificates) > 0 {
			v.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		if code := status(r); code != 200 {
			http.Error(w, "refused", code)
		} else if v.ws {
			conn, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			for {
				op, p, err := conn.ReadMessage()
				if err != nil {
					break
				}
				v.msgs++
				conn.WriteMessage(op, p)
			}
			conn.Close()
		} else {
			io.WriteString(w, `{"ok":true}`)
		}
		s.mu.Lock()
		s.seen = append(s.seen, v)
		s.mu.Unlock()
	}))
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = []tls.Certificate{cert}
	s.TLS = cfg
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *stagingServer) requests() []stagingSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stagingSeen(nil), s.seen...)
}

func always200(*http.Request) int { return 200 }

// clearProxyEnv keeps the machine's proxy settings out of a test.
func clearProxyEnv(t *testing.T) {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
}

// A staging endpoint behind a private CA, requiring client certificates,
// under a name not in DNS: with --ca-cert, --cert/--key and --resolve
// every request and the WebSocket get through with the right Host, TLS
// server name and client certificate, over HTTP/2 or, with --http1,
// HTTP/1.1; without one of them the run stops before sending anything,
// with one line naming the option.
func TestRunStagingTLS(t *testing.T) {
	clearProxyEnv(t)
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	certFile, keyFile := ca.Issue(t, netconftest.Leaf{Names: []string{"replay-client"}, Client: true}).Write(t, dir, "client")
	srv := newStagingServer(t, ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}).TLS,
		&tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool}, always200)
	u, _ := url.Parse(srv.URL)
	port := u.Port()
	target := "https://staging.test:" + port
	resolve := "staging.test:" + port + ":127.0.0.1"
	const n = 6
	corpusPath := stagingCorpus(t, dir, n)
	base := []string{"run", corpusPath, "--target", target, "-q", "--speed", "5"}
	good := append(append([]string{}, base...), "--resolve", resolve, "--ca-cert", caFile, "--cert", certFile, "--key", keyFile)

	for _, tc := range []struct {
		name  string
		extra []string
		proto string
	}{
		{"http2", nil, "HTTP/2.0"},
		{"http1", []string{"--http1"}, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			code, stdout, stderr := runReplay(t, append(append([]string{}, good...), tc.extra...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			// The server notes a WebSocket when its handler sees the
			// close, which may come just after the replay has ended.
			seen := srv.requests()[before:]
			for deadline := time.Now().Add(5 * time.Second); len(seen) < n+1 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				seen = srv.requests()[before:]
			}
			var https, ws int
			for _, s := range seen {
				if s.sni != "staging.test" || s.host != "staging.test:"+port || s.clientCN != "replay-client" {
					t.Errorf("server saw %+v: want SNI staging.test, Host staging.test:%s, client certificate replay-client", s, port)
				}
				if s.ws {
					ws++
					if s.proto != "HTTP/1.1" || s.msgs != 2 {
						t.Errorf("WebSocket %+v: want HTTP/1.1 and two messages", s)
					}
				} else {
					https++
					if s.proto != tc.proto {
						t.Errorf("request over %s, want %s", s.proto, tc.proto)
					}
				}
			}
			if https != n || ws != 1 {
				t.Fatalf("server saw %d requests and %d WebSockets, want %d and 1\n%s", https, ws, n, stdout)
			}
		})
	}

	without := func(flags ...string) []string {
		var out []string
		for i := 0; i < len(good); i++ {
			drop := false
			for _, f := range flags {
				if good[i] == f {
					drop = true
				}
			}
			if drop {
				i++ // and its value
				continue
			}
			out = append(out, good[i])
		}
		return out
	}
	ipTarget := append(without("--resolve"), "--target", "https://127.0.0.1:"+port)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no --ca-cert", without("--ca-cert"), []string{"certificate signed by unknown authority", `issuer "Staging CA"`, "pass --ca-cert FILE (or --insecure)"}},
		{"no --cert", without("--cert", "--key"), []string{"the server requires a client certificate", "pass --cert FILE --key FILE"}},
		{"address instead of name", ipTarget, []string{"certificate is valid for staging.test, not 127.0.0.1", "--resolve staging.test:" + port + ":127.0.0.1"}},
		{"no --resolve", without("--resolve"), []string{"target " + target + " unreachable", "if staging.test is not in DNS (yet), pass --resolve staging.test:" + port + ":ADDR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			code, stdout, stderr := runReplay(t, tc.args...)
			if code != exitError {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitError, stdout, stderr)
			}
			oneLine(t, stderr, tc.want...)
			if stdout != "" {
				t.Errorf("a run stopped before sending printed a report:\n%s", stdout)
			}
			if got := len(srv.requests()) - before; got != 0 {
				t.Errorf("the server got %d requests from a run that should have stopped first", got)
			}
		})
	}
	t.Run("insecure", func(t *testing.T) {
		code, stdout, stderr := runReplay(t, append(without("--ca-cert"), "--insecure")...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

// A server that asks for a client certificate without requiring it in
// TLS and refuses every request without one (as nginx's
// ssl_verify_client on does, with 400) fails the run with the option
// named; with the certificate it passes.
func TestRunClientCertRefusedByStatus(t *testing.T) {
	clearProxyEnv(t)
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	certFile, keyFile := ca.Issue(t, netconftest.Leaf{Names: []string{"replay-client"}, Client: true}).Write(t, dir, "client")
	srv := newStagingServer(t, ca.Issue(t, netconftest.Leaf{Names: []string{"127.0.0.1"}}).TLS,
		&tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool},
		func(r *http.Request) int {
			if len(r.TLS.PeerCertificates) == 0 {
				return http.StatusBadRequest
			}
			return 200
		})
	corpusPath := stagingCorpus(t, dir, 4)
	args := []string{"run", corpusPath, "--target", srv.URL, "-q", "--speed", "5", "--ca-cert", caFile}
	code, stdout, stderr := runReplay(t, args...)
	if code != exitError {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitError, stdout, stderr)
	}
	oneLine(t, stderr, "no request succeeded", "asked for a client certificate", "pass --cert FILE --key FILE")
	if !strings.Contains(stdout, "note: the server asked for a client certificate in") {
		t.Errorf("no note of the client certificate in the report:\n%s", stdout)
	}
	code, stdout, stderr = runReplay(t, append(args, "--cert", certFile, "--key", keyFile)...)
	if code != exitOK || strings.Contains(stdout, "client certificate") {
		t.Fatalf("with --cert: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// HTTPS_PROXY carries HTTP and WebSocket connections alike through a
// CONNECT tunnel, to a name only the proxy resolves; NO_PROXY bypasses it.
func TestRunThroughProxy(t *testing.T) {
	clearProxyEnv(t)
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	srv := newStagingServer(t, ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}).TLS, nil, always200)
	u, _ := url.Parse(srv.URL)
	hostPort := "staging.test:" + u.Port()
	proxy := netconftest.NewProxy(t, map[string]string{hostPort: u.Host})
	t.Setenv("HTTPS_PROXY", proxy.URL.String())
	corpusPath := stagingCorpus(t, dir, 4)
	args := []string{"run", corpusPath, "--target", "https://" + hostPort, "-q", "--speed", "5", "--ca-cert", caFile}
	code, stdout, stderr := runReplay(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "note: proxy: connections to "+hostPort+" went through "+proxy.URL.String()+" (from HTTPS_PROXY") {
		t.Errorf("the report does not say the run went through the proxy:\n%s", stdout)
	}
	tunnels := proxy.Tunnels()
	// The check, at least one HTTP connection, the WebSocket.
	if len(tunnels) < 3 {
		t.Errorf("proxy opened %d tunnels (%v), want the check's, the requests' and the WebSocket's", len(tunnels), tunnels)
	}
	for _, tn := range tunnels {
		if tn != hostPort {
			t.Errorf("tunnel to %s, want %s", tn, hostPort)
		}
	}
	// The server notes a WebSocket when its handler ends, a moment after
	// the client closed it.
	for deadline := time.Now().Add(2 * time.Second); len(srv.requests()) < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var ws int
	for _, s := range srv.requests() {
		if s.sni != "staging.test" || s.host != hostPort {
			t.Errorf("server saw %+v through the proxy", s)
		}
		if s.ws && s.msgs == 2 {
			ws++
		}
	}
	if ws != 1 || len(srv.requests()) != 5 {
		t.Errorf("server saw %+v, want 4 requests and a WebSocket with its two messages", srv.requests())
	}

	t.Setenv("NO_PROXY", "staging.test")
	code, _, stderr = runReplay(t, args...)
	if code != exitError || len(proxy.Tunnels()) != len(tunnels) {
		t.Fatalf("NO_PROXY: exit %d, %d more tunnels; want the name unresolved and no tunnel", code, len(proxy.Tunnels())-len(tunnels))
	}
	oneLine(t, stderr, "unreachable", "staging.test", "--resolve staging.test:"+u.Port()+":ADDR")
}

// Bad network options are refused before the corpus is read, one line
// each, exit 2.
func TestRunNetworkFlagErrors(t *testing.T) {
	clearProxyEnv(t)
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	certFile, keyFile := ca.Issue(t, netconftest.Leaf{Names: []string{"c"}, Client: true}).Write(t, dir, "c")
	_, otherKey := ca.Issue(t, netconftest.Leaf{Names: []string{"d"}, Client: true}).Write(t, dir, "d")
	corpusPath := smallCorpus(t, dir, 2)
	target := okServer(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"cert without key", []string{"--cert", certFile}, []string{"--cert", "needs --key FILE"}},
		{"key without cert", []string{"--key", keyFile}, []string{"--key", "needs --cert FILE"}},
		{"mismatched key", []string{"--cert", certFile, "--key", otherKey}, []string{"the private key does not belong to the certificate"}},
		{"CA file of a key", []string{"--ca-cert", keyFile}, []string{"--ca-cert", "PRIVATE KEY"}},
		{"missing CA file", []string{"--ca-cert", filepath.Join(dir, "nope.pem")}, []string{"--ca-cert", "nope.pem"}},
		{"bad resolve", []string{"--resolve", "staging.test:443"}, []string{"--resolve", "HOST:PORT:ADDR"}},
		{"resolve to a name", []string{"--resolve", "staging.test:443:lb.internal"}, []string{"--resolve", "not an IP address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runReplay(t, append([]string{"run", corpusPath, "--target", target}, tc.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, stderr)
			}
			oneLine(t, stderr, tc.want...)
			if stdout != "" {
				t.Errorf("printed more than one line:\n%s", stdout)
			}
		})
	}
	t.Run("bad proxy variable", func(t *testing.T) {
		t.Setenv("HTTPS_PROXY", "ftp://proxy.example:21")
		code, _, stderr := runReplay(t, "run", corpusPath, "--target", target)
		if code != exitUsage {
			t.Fatalf("exit %d", code)
		}
		oneLine(t, stderr, "HTTPS_PROXY=ftp://proxy.example:21", "not supported")
	})
}

// TLS failures during a run (the certificate changed after the check)
// are counted under the kind tls and explained in a note with the option
// that would help.
func TestRunTLSFailuresExplained(t *testing.T) {
	clearProxyEnv(t)
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	rogue := netconftest.NewCA(t, "Rogue CA")
	good := ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}).TLS
	bad := rogue.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}).TLS
	var mu sync.Mutex
	handshakes := 0
	srv := newStagingServer(t, good, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		handshakes++
		if handshakes == 1 { // the check before the run
			return &good, nil
		}
		return &bad, nil
	}}, always200)
	// The server name (SNI) makes the server ask GetCertificate.
	u, _ := url.Parse(srv.URL)
	code, stdout, stderr := runReplay(t, "run", stagingCorpus(t, dir, 3), "--target", "https://staging.test:"+u.Port(),
		"--resolve", "staging.test:"+u.Port()+":127.0.0.1", "-q", "--speed", "5", "--ca-cert", ca.WriteCA(t, dir, "ca.pem"))
	if code != exitError {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	oneLine(t, stderr, "no request reached")
	if !strings.Contains(stdout, "requests or WebSocket handshakes failed in TLS: certificate signed by unknown authority (issuer \"Rogue CA\"): none of the --ca-cert certificates signed it") {
		t.Errorf("no note explaining the TLS failures:\n%s", stdout)
	}
	if len(srv.requests()) != 0 {
		t.Errorf("the server answered %d requests over the rogue certificate", len(srv.requests()))
	}
}
