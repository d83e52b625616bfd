package netconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/netconf/netconftest"
)

func TestParseResolve(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: the override rendered, or a piece of the error
		ok       bool
	}{
		{"staging.test:8443:127.0.0.1", "staging.test:8443:127.0.0.1", true},
		{"Staging.Example.COM:443:10.0.0.5", "staging.example.com:443:10.0.0.5", true},
		{"api.staging.test:443:[::1]", "api.staging.test:443:[::1]", true},
		{"api.staging.test:443:::1", "api.staging.test:443:[::1]", true},
		{"[::1]:443:127.0.0.1", "[::1]:443:127.0.0.1", true},
		{"10.1.2.3:80:127.0.0.2", "10.1.2.3:80:127.0.0.2", true},
		{"h:1:[::ffff:127.0.0.1]", "h:1:127.0.0.1", true},
		{"staging.test", "no PORT", false},
		{"staging.test:443", "no ADDR", false},
		{"staging.test:443:", "empty ADDR", false},
		{"staging.test:0:127.0.0.1", "PORT", false},
		{"staging.test:65536:127.0.0.1", "PORT", false},
		{"staging.test:0443:127.0.0.1", "PORT", false},
		{"staging.test:https:127.0.0.1", "PORT", false},
		{"staging.test:443:lb.internal", `ADDR "lb.internal" is not an IP address`, false},
		{"staging.test:443:[fe80::1%eth0]", "not an IP address", false},
		{"staging.test:443:10.0.0.1,10.0.0.2", "one ADDR per --resolve", false},
		{":443:127.0.0.1", "empty HOST", false},
		{"bad host:443:127.0.0.1", "not a host name", false},
		{"a..b:443:127.0.0.1", "empty label", false},
		{"[::1:443:127.0.0.1", "unclosed [", false},
		{"[staging]:443:127.0.0.1", "not an IPv6 address", false},
		{"[::1]443:127.0.0.1", "no PORT after HOST", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			o, err := ParseResolve(tc.in)
			if !tc.ok {
				if err == nil {
					t.Fatalf("accepted as %v", o)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "--resolve") || !strings.Contains(msg, "HOST:PORT:ADDR") || strings.Contains(msg, "\n") {
					t.Fatalf("error %q: want one line naming --resolve, its form and %q", msg, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := o.String(); got != tc.want {
				t.Fatalf("parsed as %s, want %s", got, tc.want)
			}
		})
	}
}

func ExampleParseResolve() {
	o, err := ParseResolve("staging.test:8443:[::1]")
	if err != nil {
		panic(err)
	}
	fmt.Println(o.Host, "port", o.Port, "connects to", o.AddrPort())
	// Output: staging.test port 8443 connects to [::1]:8443
}

// server is an HTTPS test server that records what each request showed.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seen
}

type seen struct {
	host, sni, clientCN string
	proto               int
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

// newServer starts an HTTPS server (HTTP/2 offered) with cert; cfg sets
// client authentication and versions.
func newServer(t *testing.T, cert *netconftest.Pair, cfg *tls.Config) *server {
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := seen{host: r.Host, sni: r.TLS.ServerName, proto: r.ProtoMajor}
		if len(r.TLS.PeerCertificates) > 0 {
			v.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		s.mu.Lock()
		s.seen = append(s.seen, v)
		s.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = []tls.Certificate{cert.TLS}
	s.TLS = cfg
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func port(t *testing.T, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// get sends one GET with n's TLS, dial and proxy, as the engine does.
func get(t *testing.T, n *Network, target string) error {
	t.Helper()
	tr := &http.Transport{DialContext: n.DialContext, Proxy: n.Proxy, TLSClientConfig: n.TLS.Clone(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", target+"/v1/health", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != 200 || string(body) != "ok") {
		err = errors.New(resp.Status + " " + string(body))
	}
	return err
}

func noProxy(string) string { return "" }

// Each TLS situation of a staging endpoint: Check passes exactly when a
// request gets through, and a failure is one line naming the option that
// would help.
func TestCheckTLS(t *testing.T) {
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	other := netconftest.NewCA(t, "Other CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	otherFile := other.WriteCA(t, dir, "other.pem")
	serverCert := ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test", "127.0.0.1"}})
	nameOnly := ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}})
	expired := ca.Issue(t, netconftest.Leaf{Names: []string{"127.0.0.1"}, NotAfter: time.Now().Add(-time.Hour)})
	clientCert, clientKey := ca.Issue(t, netconftest.Leaf{Names: []string{"replay-client"}, Client: true}).Write(t, dir, "client")
	strangerCert, strangerKey := other.Issue(t, netconftest.Leaf{Names: []string{"stranger"}, Client: true}).Write(t, dir, "stranger")

	plain := newServer(t, serverCert, nil)
	named := newServer(t, nameOnly, nil)
	old := newServer(t, expired, nil)
	mtls := newServer(t, serverCert, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool})
	mtls12 := newServer(t, serverCert, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool, MaxVersion: tls.VersionTLS12})
	optional := newServer(t, serverCert, &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool})
	httpOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer httpOnly.Close()
	namedPort := port(t, named.URL)

	for _, tc := range []struct {
		name   string
		target string
		opts   Options
		want   []string // pieces of the one-line error; none: passes
		client string   // client certificate CN the server must see
	}{
		{"private CA unknown", plain.URL, Options{}, []string{"certificate signed by unknown authority", `issuer "Staging CA"`, "pass --ca-cert FILE (or --insecure)"}, ""},
		{"private CA given", plain.URL, Options{CACerts: []string{caFile}}, nil, ""},
		{"wrong CA given", plain.URL, Options{CACerts: []string{otherFile}}, []string{"unknown authority", "none of the --ca-cert certificates signed it"}, ""},
		{"two CA files", plain.URL, Options{CACerts: []string{otherFile, caFile}}, nil, ""},
		{"insecure", plain.URL, Options{Insecure: true}, nil, ""},
		{"name mismatch", named.URL, Options{CACerts: []string{caFile}},
			[]string{"certificate is valid for staging.test, not 127.0.0.1", "--target https://staging.test:" + namedPort + " --resolve staging.test:" + namedPort + ":127.0.0.1"}, ""},
		{"name by --resolve", "https://staging.test:" + namedPort, Options{CACerts: []string{caFile}, Resolve: []string{"staging.test:" + namedPort + ":127.0.0.1"}}, nil, ""},
		{"expired", old.URL, Options{CACerts: []string{caFile}}, []string{"expired", "renew the server's certificate (or pass --insecure)"}, ""},
		{"client certificate required (TLS 1.3)", mtls.URL, Options{CACerts: []string{caFile}}, []string{"the server requires a client certificate", "pass --cert FILE --key FILE"}, ""},
		{"client certificate required (TLS 1.2)", mtls12.URL, Options{CACerts: []string{caFile}}, []string{"the server requires a client certificate", "pass --cert FILE --key FILE"}, ""},
		{"client certificate given", mtls.URL, Options{CACerts: []string{caFile}, Cert: clientCert, Key: clientKey}, nil, "replay-client"},
		{"client certificate given (TLS 1.2)", mtls12.URL, Options{CACerts: []string{caFile}, Cert: clientCert, Key: clientKey}, nil, "replay-client"},
		{"client certificate of another CA", mtls.URL, Options{CACerts: []string{caFile}, Cert: strangerCert, Key: strangerKey}, []string{"the server refused the client certificate of --cert " + strangerCert, "signed by a CA the server trusts"}, ""},
		{"client certificate optional", optional.URL, Options{CACerts: []string{caFile}}, nil, ""},
		{"plain HTTP port", strings.Replace(httpOnly.URL, "http:", "https:", 1), Options{}, []string{"does not speak TLS", "http://"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Getenv = noProxy
			n, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			target, _ := url.Parse(tc.target)
			err = n.Check(context.Background(), target, 5*time.Second)
			reqErr := get(t, n, tc.target)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("check failed: %v", err)
				}
				if reqErr != nil {
					t.Fatalf("check passed but a request failed: %v", reqErr)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed; the request got %v", reqErr)
			}
			if reqErr == nil {
				t.Fatalf("check failed (%v) but a request got through", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "target "+tc.target+": ") {
				t.Fatalf("error %q: want one line about the target", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			var te *TLSError
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *TLSError", err)
			}
		})
	}
	// What the servers saw of the requests that got through.
	for _, s := range []*server{mtls, mtls12} {
		r := s.requests()
		if len(r) != 1 || r[0].clientCN != "replay-client" {
			t.Errorf("mutual TLS server saw %+v, want one request with the client certificate replay-client", r)
		}
	}
	if r := named.requests(); len(r) != 1 || r[0].sni != "staging.test" || r[0].host != "staging.test:"+namedPort || r[0].proto != 2 {
		t.Errorf("--resolve: server saw %+v, want one HTTP/2 request with SNI staging.test and Host staging.test:%s", r, namedPort)
	}
}

// The client certificate is counted when a server asks for one that is
// not configured; the check itself is not counted.
func TestClientCertRequests(t *testing.T) {
	ca := netconftest.NewCA(t, "Staging CA")
	dir := t.TempDir()
	srv := newServer(t, ca.Issue(t, netconftest.Leaf{Names: []string{"127.0.0.1"}}), &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool})
	n, err := New(Options{CACerts: []string{ca.WriteCA(t, dir, "ca.pem")}, Getenv: noProxy})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(srv.URL)
	if err := n.Check(context.Background(), target, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := n.ClientCertRequests(); got != 0 {
		t.Fatalf("the check counted %d requests for a client certificate", got)
	}
	for i := 0; i < 2; i++ {
		if err := get(t, n, srv.URL); err != nil { // a new transport: a new handshake
			t.Fatal(err)
		}
	}
	if got := n.ClientCertRequests(); got != 2 {
		t.Fatalf("ClientCertRequests = %d after two handshakes that asked, want 2", got)
	}
}

func TestCheckUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n, err := New(Options{Resolve: []string{"staging.test:8443:127.0.0.1"}, Getenv: noProxy})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"http://127.0.0.1:" + strconv.Itoa(dead), []string{"unreachable", "connection refused", "is the server running"}},
		{"https://staging.test:8443", []string{"staging.test:8443 (connecting to 127.0.0.1:8443 by --resolve) unreachable"}},
	} {
		target, _ := url.Parse(tc.target)
		if tc.target == "https://staging.test:8443" {
			// Point the entry at the dead port.
			n.resolve["staging.test:8443"] = Override{Host: "staging.test", Port: strconv.Itoa(dead), Addr: n.resolve["staging.test:8443"].Addr}
			tc.want = []string{"staging.test:8443 (connecting to 127.0.0.1:" + strconv.Itoa(dead) + " by --resolve) unreachable"}
		}
		err := n.Check(context.Background(), target, time.Second)
		if err == nil {
			t.Fatalf("%s: check passed", tc.target)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.target, err, w)
			}
		}
	}
}

// Bad option values fail New with one line naming the option.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	ca := netconftest.NewCA(t, "Staging CA")
	pair := ca.Issue(t, netconftest.Leaf{Names: []string{"client"}, Client: true})
	certFile, keyFile := pair.Write(t, dir, "client")
	_, otherKey := ca.Issue(t, netconftest.Leaf{Names: []string{"other"}, Client: true}).Write(t, dir, "other")
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := file("notes.txt", "not a certificate\n")
	keyOnly := file("key-only.pem", string(pair.KeyPEM))
	badDER := file("bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"cert without key", Options{Cert: certFile}, []string{"--cert " + certFile + " needs --key FILE"}},
		{"key without cert", Options{Key: keyFile}, []string{"--key " + keyFile + " needs --cert FILE"}},
		{"mismatched key", Options{Cert: certFile, Key: otherKey}, []string{"--cert", "--key", "the private key does not belong to the certificate"}},
		{"key given as cert", Options{Cert: keyFile, Key: keyFile}, []string{"--cert " + keyFile, "no PEM certificate"}},
		{"cert given as key", Options{Cert: certFile, Key: certFile}, []string{"--key " + certFile, "no PEM private key"}},
		{"missing cert file", Options{Cert: filepath.Join(dir, "nope.crt"), Key: keyFile}, []string{"--cert", "nope.crt", "no such file"}},
		{"missing CA file", Options{CACerts: []string{filepath.Join(dir, "nope.pem")}}, []string{"--ca-cert", "nope.pem", "no such file"}},
		{"CA file of text", Options{CACerts: []string{text}}, []string{"--ca-cert " + text, "no PEM certificate"}},
		{"CA file holding a key", Options{CACerts: []string{keyOnly}}, []string{"--ca-cert " + keyOnly, "holds PRIVATE KEY", "give the CA's certificate"}},
		{"CA file with a broken certificate", Options{CACerts: []string{badDER}}, []string{"--ca-cert " + badDER, "certificate 1"}},
		{"bad resolve", Options{Resolve: []string{"staging.test:443"}}, []string{"--resolve", "no ADDR"}},
		{"resolve given twice", Options{Resolve: []string{"staging.test:443:127.0.0.1", "STAGING.test:443:127.0.0.2"}}, []string{"--resolve", "staging.test:443 is given twice"}},
		{"bad proxy scheme", Options{Getenv: env("HTTPS_PROXY", "ftp://proxy:21")}, []string{"HTTPS_PROXY=ftp://proxy:21", "not supported"}},
		{"bad proxy URL", Options{Getenv: env("http_proxy", "http://[::1")}, []string{"http_proxy=http://[::1", "not a proxy URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Getenv == nil {
				tc.opts.Getenv = noProxy
			}
			_, err := New(tc.opts)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// A bundle with text between its certificates is fine.
	bundle := file("bundle.pem", "# staging\n"+string(ca.PEM)+"# other\n"+string(netconftest.NewCA(t, "Other").PEM))
	if _, err := New(Options{CACerts: []string{bundle}, Getenv: noProxy}); err != nil {
		t.Fatalf("a CA bundle with comments: %v", err)
	}
}

// Proxies come from the environment with net/http's semantics, and Check
// and requests go through the tunnel to a name only the proxy resolves.
func TestProxyFromEnvironment(t *testing.T) {
	ca := netconftest.NewCA(t, "Staging CA")
	dir := t.TempDir()
	srv := newServer(t, ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test"}}), nil)
	p := port(t, srv.URL)
	proxy := netconftest.NewProxy(t, map[string]string{"staging.test:" + p: "127.0.0.1:" + p})
	caFile := ca.WriteCA(t, dir, "ca.pem")
	env := map[string]string{"HTTPS_PROXY": proxy.URL.String()}
	n, err := New(Options{CACerts: []string{caFile}, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("https://staging.test:" + p)
	if pu, from, _ := n.ProxyFor(target); pu == nil || pu.Host != proxy.URL.Host || from != "HTTPS_PROXY" {
		t.Fatalf("ProxyFor = %v from %q, want %s from HTTPS_PROXY", pu, from, proxy.URL)
	}
	if n.Direct(target) {
		t.Fatal("a proxied target is called direct")
	}
	for _, direct := range []string{"https://127.0.0.1:" + p, "https://localhost:" + p, "http://staging.test:" + p, "https://[::1]:443"} {
		u, _ := url.Parse(direct)
		if pu, _, _ := n.ProxyFor(u); pu != nil {
			t.Errorf("%s goes through %s, want direct (loopback, or no HTTP_PROXY)", direct, pu)
		}
	}
	if err := n.Check(context.Background(), target, 5*time.Second); err != nil {
		t.Fatalf("check through the proxy: %v", err)
	}
	if err := get(t, n, target.String()); err != nil {
		t.Fatalf("request through the proxy: %v", err)
	}
	want := "staging.test:" + p
	if got := proxy.Tunnels(); len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("proxy tunnels %v, want two to %s (check and request)", got, want)
	}
	if r := srv.requests(); len(r) != 1 || r[0].sni != "staging.test" || r[0].host != want {
		t.Fatalf("server saw %+v through the proxy", r)
	}

	t.Run("NO_PROXY", func(t *testing.T) {
		for _, np := range []string{"staging.test", ".test", "*", "staging.test:" + p} {
			env := map[string]string{"HTTPS_PROXY": proxy.URL.String(), "NO_PROXY": np}
			n, err := New(Options{Getenv: func(k string) string { return env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			if pu, _, _ := n.ProxyFor(target); pu != nil {
				t.Errorf("NO_PROXY=%s: still proxied", np)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		proxy.Refuse()
		err := n.Check(context.Background(), target, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "refused CONNECT staging.test:"+p+": 403") || !strings.Contains(err.Error(), "NO_PROXY=staging.test") {
			t.Fatalf("error %v: want the proxy's refusal and NO_PROXY named", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		env := map[string]string{"https_proxy": "http://user:secret@" + dead}
		n, err := New(Options{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Check(context.Background(), target, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "proxy http://user:xxxxx@"+dead+" (from HTTPS_PROXY) unreachable") || strings.Contains(err.Error(), "secret") {
			t.Fatalf("error %v: want the proxy unreachable, its password hidden", err)
		}
	})
}

// The certificates the test CA makes verify as a real chain would.
func TestTestCA(t *testing.T) {
	ca := netconftest.NewCA(t, "Staging CA")
	leaf := ca.Issue(t, netconftest.Leaf{Names: []string{"staging.test", "127.0.0.1"}})
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool, DNSName: "staging.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "staging.test"}); err == nil {
		t.Fatal("verified without its CA")
	}
}
