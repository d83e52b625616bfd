package netconf

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// proxyConfig is the proxy environment as New read it.
type proxyConfig struct {
	// httpsVar and httpVar name the variables the proxies came from
	// ("HTTPS_PROXY"), "" when unset.
	httpsVar, httpVar string
	forURL            func(*url.URL) (*url.URL, error)
}

// readProxyEnv reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY (lower-case
// forms first, as Go's net/http does) and checks that the proxy URLs are
// usable, so a typo fails the run at once rather than every request.
func readProxyEnv(getenv func(string) string) (proxyConfig, error) {
	var p proxyConfig
	pick := func(lower, upper string) (string, string) {
		if v := getenv(lower); v != "" {
			return v, lower
		}
		if v := getenv(upper); v != "" {
			return v, upper
		}
		return "", ""
	}
	cfg := &httpproxy.Config{CGI: getenv("REQUEST_METHOD") != ""}
	cfg.HTTPSProxy, p.httpsVar = pick("https_proxy", "HTTPS_PROXY")
	cfg.HTTPProxy, p.httpVar = pick("http_proxy", "HTTP_PROXY")
	cfg.NoProxy, _ = pick("no_proxy", "NO_PROXY")
	for _, v := range []struct{ name, value string }{{p.httpsVar, cfg.HTTPSProxy}, {p.httpVar, cfg.HTTPProxy}} {
		if v.value == "" {
			continue
		}
		if err := checkProxyURL(v.value); err != nil {
			return p, fmt.Errorf("%s=%s: %w", v.name, v.value, err)
		}
	}
	p.forURL = cfg.ProxyFunc()
	return p, nil
}

// checkProxyURL accepts what net/http accepts as a proxy: a URL with a
// scheme it speaks, or a bare host[:port] taken as http://.
func checkProxyURL(s string) error {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, "/ ") {
		return fmt.Errorf("not a proxy URL (want http://HOST:PORT)")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return nil
	}
	return fmt.Errorf("proxy scheme %q not supported (use http://, https:// or socks5://)", u.Scheme)
}

// ProxyFor returns the proxy that requests to target go through (nil:
// direct) and the variable that named it ("HTTPS_PROXY").
func (n *Network) ProxyFor(target *url.URL) (proxy *url.URL, from string, err error) {
	proxy, err = n.proxy.forURL(target)
	if proxy == nil || err != nil {
		return nil, "", err
	}
	from = n.proxy.httpVar
	if target.Scheme == "https" {
		from = n.proxy.httpsVar
	}
	return proxy, strings.ToUpper(from), nil
}

// Direct reports whether connections to target go straight to the
// address its host resolves to: no proxy and no --resolve entry for it.
func (n *Network) Direct(target *url.URL) bool {
	if p, _, err := n.ProxyFor(target); p != nil || err != nil {
		return false
	}
	_, ok := n.override(HostPort(target))
	return !ok
}

// HostPort is target's host:port, with the scheme's default port.
func HostPort(target *url.URL) string {
	port := target.Port()
	if port == "" {
		port = "80"
		if target.Scheme == "https" || target.Scheme == "wss" {
			port = "443"
		}
	}
	return net.JoinHostPort(target.Hostname(), port)
}
