package netconf

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// TLSError is a TLS handshake with a target that failed, explained: what
// went wrong in words a user acts on, and the option that would help.
type TLSError struct {
	// Target is the URL checked.
	Target string
	// Problem says what went wrong ("certificate signed by unknown
	// authority (issuer "Staging CA")").
	Problem string
	// Hint names what to pass ("pass --ca-cert FILE (or --insecure)"),
	// "" when nothing on the command line would help.
	Hint string
	// Err is the handshake's error.
	Err error
}

// Error is one line: "target URL: problem: hint".
func (e *TLSError) Error() string {
	return fmt.Sprintf("target %s: %s", e.Target, e.Detail())
}

// Detail is the error without the target: "problem: hint".
func (e *TLSError) Detail() string {
	if e.Hint == "" {
		return "TLS handshake failed: " + e.Problem
	}
	return e.Problem + ": " + e.Hint
}

// Unwrap returns the handshake's error.
func (e *TLSError) Unwrap() error { return e.Err }

// clientCertWait is how long Check waits, after a handshake of duration
// took in which the server asked for a client certificate, for the alert
// of a server that refuses the certificate given or its absence (TLS 1.3
// sends it after the client's side of the handshake is done, a round trip
// later): twice the handshake and a margin, within 500ms to 2s.
func clientCertWait(took time.Duration) time.Duration {
	return min(max(2*took+50*time.Millisecond, 500*time.Millisecond), 2*time.Second)
}

// Check connects to target as a replay would (through the proxy the
// environment names for it, to the --resolve address) and, for https://,
// completes a TLS handshake; it sends no request. It gives one line: the
// target (or proxy) unreachable, a proxy that refused, or a *TLSError.
// timeout bounds the whole check (at most 5s; 0 means 5s).
func (n *Network) Check(ctx context.Context, target *url.URL, timeout time.Duration) error {
	if timeout <= 0 || timeout > 5*time.Second {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := HostPort(target)
	p, from, err := n.ProxyFor(target)
	if err != nil {
		return fmt.Errorf("proxy for %s: %w", target, err)
	}
	var conn net.Conn
	if p == nil {
		conn, err = n.DialContext(ctx, "tcp", addr)
		if err != nil {
			where := ""
			if ov, ok := n.override(addr); ok {
				where = fmt.Sprintf(" (connecting to %s by --resolve)", ov.AddrPort())
			}
			return fmt.Errorf("target %s%s unreachable: %w (is the server running, and is --target right?)", target, where, err)
		}
	} else {
		conn, err = n.dialVia(ctx, p, from, target, addr)
		if err != nil {
			return err
		}
	}
	defer conn.Close()
	if target.Scheme != "https" {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	cfg := n.TLS.Clone()
	cfg.ServerName = target.Hostname()
	asked := false
	cert := cfg.GetClientCertificate
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		if !n.hasCert {
			return &tls.Certificate{}, nil // not counted: the check is not the run
		}
		return cert(cri)
	}
	tc := tls.Client(conn, cfg)
	start := time.Now()
	if err := tc.HandshakeContext(ctx); err != nil {
		return n.explain(err, target, conn, asked, p != nil)
	}
	if asked {
		// A server that requires the certificate it asked for says so
		// now (TLS 1.3); one that only asked waits for a request.
		tc.SetReadDeadline(time.Now().Add(clientCertWait(time.Since(start))))
		var b [1]byte
		if _, err := tc.Read(b[:]); isRemoteAlert(err) {
			return n.explain(err, target, conn, asked, p != nil)
		}
	}
	return nil
}

// dialVia connects to target through proxy p: a tunnel (CONNECT) through
// an HTTP(S) proxy for https:// targets, the proxy alone for http://
// ones (it relays their requests), or a SOCKS5 connection.
func (n *Network) dialVia(ctx context.Context, p *url.URL, from string, target *url.URL, addr string) (net.Conn, error) {
	shown := p.Redacted()
	bypass := fmt.Sprintf("(is %s right? NO_PROXY=%s reaches the target directly)", from, target.Hostname())
	paddr := p.Host
	if p.Port() == "" {
		port := map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[p.Scheme]
		paddr = net.JoinHostPort(p.Hostname(), port)
	}
	if p.Scheme == "socks5" || p.Scheme == "socks5h" {
		var auth *proxy.Auth
		if p.User != nil {
			pw, _ := p.User.Password()
			auth = &proxy.Auth{User: p.User.Username(), Password: pw}
		}
		d, err := proxy.SOCKS5("tcp", paddr, auth, contextDialer{n})
		if err != nil {
			return nil, fmt.Errorf("proxy %s (from %s): %w", shown, from, err)
		}
		conn, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("target %s unreachable through proxy %s (from %s): %w %s", target, shown, from, err, bypass)
		}
		return conn, nil
	}
	conn, err := n.DialContext(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s (from %s) unreachable: %w %s", shown, from, err, bypass)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if p.Scheme == "https" {
		cfg := n.TLS.Clone()
		cfg.ServerName = p.Hostname()
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("proxy %s (from %s): %s", shown, from, n.explain(err, p, conn, false, false).Detail())
		}
		conn = tc
	}
	if target.Scheme != "https" {
		return conn, nil
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if p.User != nil {
		pw, _ := p.User.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(p.User.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s (from %s): CONNECT %s: %w", shown, from, addr, err)
	}
	// The server does not speak before the client's hello: nothing past
	// the response is buffered.
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s (from %s): CONNECT %s: %w", shown, from, addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s (from %s) refused CONNECT %s: %s %s", shown, from, addr, resp.Status, bypass)
	}
	return conn, nil
}

// contextDialer lends Network's dial to the SOCKS5 client.
type contextDialer struct{ n *Network }

// Dial dials without a deadline of its own (proxy.Dialer).
func (d contextDialer) Dial(network, addr string) (net.Conn, error) {
	return d.n.DialContext(context.Background(), network, addr)
}

// DialContext dials as Network.DialContext does.
func (d contextDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.n.DialContext(ctx, network, addr)
}

// isRemoteAlert reports whether err is a TLS alert the server sent.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// clientCertAlerts are the alerts with which servers refuse a client
// certificate (or its absence).
var clientCertAlerts = map[string]bool{
	"tls: certificate required": true, "tls: bad certificate": true, "tls: unsupported certificate": true,
	"tls: revoked certificate": true, "tls: expired certificate": true, "tls: unknown certificate": true,
	"tls: unknown certificate authority": true, "tls: access denied": true, "tls: handshake failure": true,
	"tls: error decrypting message": true,
}

// explain turns a failed handshake into a TLSError naming the option that
// would help. conn is the connection it ran on (its remote address is the
// one dialed, unless proxied); asked tells whether the server asked for a
// client certificate.
func (n *Network) explain(err error, target *url.URL, conn net.Conn, asked, proxied bool) *TLSError {
	e := &TLSError{Target: target.String(), Err: err, Problem: strings.TrimPrefix(err.Error(), "tls: ")}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var op *net.OpError
	switch {
	case errors.As(err, &unknown):
		e.Problem = "certificate signed by unknown authority"
		if unknown.Cert != nil {
			e.Problem += fmt.Sprintf(" (issuer %q)", issuerName(unknown.Cert))
		}
		e.Hint = "pass --ca-cert FILE (or --insecure)"
		if len(n.opts.CACerts) > 0 {
			e.Hint = "none of the --ca-cert certificates signed it: pass the CA that did with --ca-cert FILE (or --insecure)"
		}
	case errors.As(err, &host):
		e.Problem = strings.TrimPrefix(host.Error(), "x509: ")
		if c := host.Certificate; c != nil {
			names := append([]string(nil), c.DNSNames...)
			for _, ip := range c.IPAddresses {
				names = append(names, ip.String())
			}
			if len(names) > 0 {
				e.Problem = fmt.Sprintf("certificate is valid for %s, not %s", strings.Join(names, ", "), host.Host)
			}
		}
		e.Hint = "target a name it is valid for (or pass --insecure)"
		if name := plainName(host.Certificate); name != "" {
			port := target.Port()
			if port == "" {
				port = "443"
			}
			ip := ""
			if !proxied && conn != nil {
				if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
					ip = a.IP.String()
					if a.IP.To4() == nil {
						ip = "[" + ip + "]"
					}
				}
			}
			if ip != "" {
				e.Hint = fmt.Sprintf("target a name it is valid for; one not in DNS is reached with --target https://%s --resolve %s:%s:%s (or pass --insecure)",
					net.JoinHostPort(name, port), name, port, ip)
			} else {
				e.Hint = fmt.Sprintf("target a name it is valid for, such as https://%s (or pass --insecure)", net.JoinHostPort(name, port))
			}
		}
	case errors.As(err, &invalid):
		e.Problem = strings.TrimPrefix(invalid.Error(), "x509: ")
		e.Hint = "(or pass --insecure)"
		if invalid.Reason == x509.Expired {
			e.Hint = "renew the server's certificate (or pass --insecure)"
		}
	case errors.As(err, &record):
		e.Problem = "the server does not speak TLS on this port"
		e.Hint = "use http:// in --target if it is plain HTTP"
	case errors.As(err, &op) && op.Op == "remote error":
		alert := op.Err.Error()
		switch {
		case asked && !n.hasCert && clientCertAlerts[alert]:
			e.Problem = fmt.Sprintf("the server requires a client certificate (%s)", alert)
			e.Hint = "pass --cert FILE --key FILE"
		case asked && n.hasCert && clientCertAlerts[alert]:
			e.Problem = fmt.Sprintf("the server refused the client certificate of --cert %s (%s)", n.opts.Cert, alert)
			e.Hint = "give --cert a certificate signed by a CA the server trusts, valid now and for client authentication"
		case alert == "tls: unrecognized name":
			e.Problem = fmt.Sprintf("the server does not serve the name %q (%s)", target.Hostname(), alert)
			e.Hint = "target the name it serves (with --resolve NAME:PORT:ADDR when that name is not in DNS)"
		case alert == "tls: protocol version not supported" || alert == "tls: handshake failure" || alert == "tls: insufficient security level":
			e.Problem = fmt.Sprintf("the server and reprise share no TLS version or cipher suite (%s)", alert)
		default:
			e.Problem = "the server ended the handshake (" + alert + ")"
		}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded):
		e.Problem = "the server closed the connection during the TLS handshake"
		if errors.Is(err, os.ErrDeadlineExceeded) {
			e.Problem = "the server did not complete the TLS handshake in time"
		}
		switch {
		case asked && !n.hasCert:
			e.Hint = "it asked for a client certificate: pass --cert FILE --key FILE"
		case !asked:
			e.Hint = "is it a TLS port (http:// in --target if not)?"
		}
	}
	return e
}

// issuerName is the most telling name of a certificate's issuer.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

// plainName is the first DNS name of c without a wildcard, "" if none.
func plainName(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	for _, n := range c.DNSNames {
		if !strings.Contains(n, "*") {
			return n
		}
	}
	return ""
}
