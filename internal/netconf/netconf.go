package netconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Options are the network options of a replay, as given on the command
// line. The zero value trusts the system's roots, dials directly and
// takes proxies from the environment.
type Options struct {
	// CACerts are PEM files of CA certificates trusted beside the
	// system's roots (--ca-cert).
	CACerts []string
	// Cert and Key are the PEM files of a client certificate and its
	// private key (--cert, --key): both or neither.
	Cert, Key string
	// Resolve are HOST:PORT:ADDR overrides (--resolve).
	Resolve []string
	// Insecure skips verification of the server's certificate.
	Insecure bool
	// DialTimeout bounds one TCP connect (default 10s).
	DialTimeout time.Duration
	// Getenv reads the proxy variables; nil reads the process's
	// environment.
	Getenv func(key string) string
}

// Network is the way to the target that Options describe. Its TLS,
// DialContext and Proxy go into the client that replays; it is safe for
// concurrent use.
type Network struct {
	// TLS is the client TLS configuration: the roots (the system's plus
	// the --ca-cert ones, nil when there are none to add), the client
	// certificate, InsecureSkipVerify. Clone it before changing it.
	TLS *tls.Config

	opts     Options
	hasCert  bool
	dialer   net.Dialer
	resolve  map[string]Override // by lower-case host:port
	proxy    proxyConfig
	certAsks atomic.Int64
}

// New reads the certificate files, parses the overrides and the proxy
// environment. Its errors are one line naming the option at fault.
func New(o Options) (*Network, error) {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	n := &Network{
		opts:    o,
		dialer:  net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		resolve: map[string]Override{},
	}
	cfg := &tls.Config{InsecureSkipVerify: o.Insecure}
	if len(o.CACerts) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			// No system roots (a scratch container): the given CAs alone.
			pool = x509.NewCertPool()
		}
		for _, path := range o.CACerts {
			certs, err := readCAFile(path)
			if err != nil {
				return nil, err
			}
			for _, c := range certs {
				pool.AddCert(c)
			}
		}
		cfg.RootCAs = pool
	}
	var cert *tls.Certificate
	switch {
	case o.Cert != "" && o.Key != "":
		c, err := loadKeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, err
		}
		cert = c
		n.hasCert = true
	case o.Cert != "":
		return nil, fmt.Errorf("--cert %s needs --key FILE: the private key of the client certificate", o.Cert)
	case o.Key != "":
		return nil, fmt.Errorf("--key %s needs --cert FILE: the client certificate of the key", o.Key)
	}
	// The certificate is presented whenever the server asks, whatever CA
	// names it lists (as curl does): a server that does not trust it says
	// so, instead of the client silently sending none.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			n.certAsks.Add(1)
			return &tls.Certificate{}, nil
		}
		return cert, nil
	}
	n.TLS = cfg
	for _, s := range o.Resolve {
		ov, err := ParseResolve(s)
		if err != nil {
			return nil, err
		}
		key := ov.key()
		if _, dup := n.resolve[key]; dup {
			return nil, fmt.Errorf("--resolve %s: %s is given twice", s, key)
		}
		n.resolve[key] = ov
	}
	p, err := readProxyEnv(o.Getenv)
	if err != nil {
		return nil, err
	}
	n.proxy = p
	return n, nil
}

// ClientCertRequests counts the TLS handshakes in which the server asked
// for a client certificate and none was configured (--cert). A server
// that only asks goes on without one; one that requires it fails the
// handshake or, as nginx does, every request.
func (n *Network) ClientCertRequests() int64 { return n.certAsks.Load() }

// HasClientCert reports whether a client certificate is configured.
func (n *Network) HasClientCert() bool { return n.hasCert }

// DialContext connects to addr, or to the --resolve address given for it.
// It is what the HTTP transport and the WebSocket dialer use, so an
// override also applies to a proxy's address.
func (n *Network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if ov, ok := n.override(addr); ok {
		addr = ov.AddrPort()
	}
	return n.dialer.DialContext(ctx, network, addr)
}

// Proxy returns the proxy for a request (nil: direct), as
// http.ProxyFromEnvironment would with the environment New read. It fits
// http.Transport.Proxy and websocket.Dialer.Proxy.
func (n *Network) Proxy(req *http.Request) (*url.URL, error) {
	return n.proxy.forURL(req.URL)
}

// override returns the --resolve entry for a dialed host:port.
func (n *Network) override(addr string) (Override, bool) {
	if len(n.resolve) == 0 {
		return Override{}, false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Override{}, false
	}
	ov, ok := n.resolve[strings.ToLower(host)+":"+port]
	return ov, ok
}

// readCAFile reads every certificate of a PEM file.
func readCAFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	certs, err := ParseCAs(data)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert %s: %w", path, err)
	}
	return certs, nil
}

// ParseCAs reads the CERTIFICATE blocks of PEM data (other blocks and text
// between them are ignored, as in a CA bundle with comments). No
// certificate at all, or one that does not parse, is an error.
func ParseCAs(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var others []string
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			others = append(others, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(others) > 0 {
			return nil, fmt.Errorf("no CERTIFICATE in the PEM file (it holds %s): give the CA's certificate", strings.Join(others, ", "))
		}
		return nil, errors.New("no PEM certificate in the file (want -----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

// loadKeyPair reads a client certificate (chain) and its key, with errors
// that name the files.
func loadKeyPair(certPath, keyPath string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("--cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("--cert %s: no PEM certificate in the file (want -----BEGIN CERTIFICATE-----)", certPath)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("--key %s: no PEM private key in the file (want -----BEGIN PRIVATE KEY-----, unencrypted)", keyPath)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "tls: ")
		if strings.Contains(msg, "does not match") {
			return nil, fmt.Errorf("--cert %s --key %s: the private key does not belong to the certificate", certPath, keyPath)
		}
		return nil, fmt.Errorf("--cert %s --key %s: %s", certPath, keyPath, msg)
	}
	return &c, nil
}
