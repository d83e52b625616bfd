package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Override is one --resolve entry: connections to Host:Port go to Addr
// instead of what Host resolves to.
type Override struct {
	// Host is the name as the URL gives it, lower-cased.
	Host string
	// Port is the decimal port, 1 to 65535.
	Port string
	// Addr is the IP address to connect to.
	Addr netip.Addr
}

// String renders the override as --resolve takes it,
// "staging.test:443:127.0.0.1" or "staging.test:443:[::1]".
func (o Override) String() string {
	host := o.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	addr := o.Addr.String()
	if o.Addr.Is6() {
		addr = "[" + addr + "]"
	}
	return host + ":" + o.Port + ":" + addr
}

// AddrPort is the address connected to, "127.0.0.1:443" or "[::1]:443".
func (o Override) AddrPort() string {
	return net.JoinHostPort(o.Addr.String(), o.Port)
}

func (o Override) key() string { return o.Host + ":" + o.Port }

// ParseResolve reads HOST:PORT:ADDR as curl's --resolve does: HOST is a
// name (or a bracketed IPv6 address), PORT a number, ADDR an IP address,
// IPv6 in brackets ("[::1]"). Its errors are one line naming the option
// and the form it wants.
func ParseResolve(s string) (Override, error) {
	bad := func(why string) (Override, error) {
		return Override{}, fmt.Errorf("--resolve %q: %s (want HOST:PORT:ADDR, for example staging.example.com:443:10.0.0.5 or staging.test:8443:[::1])", s, why)
	}
	rest := strings.TrimSpace(s)
	var host string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("unclosed [ in HOST")
		}
		host, rest = rest[1:end], rest[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return bad(fmt.Sprintf("HOST [%s] is not an IPv6 address", host))
		}
		if !strings.HasPrefix(rest, ":") {
			return bad("no PORT after HOST")
		}
		rest = rest[1:]
	} else {
		var ok bool
		host, rest, ok = strings.Cut(rest, ":")
		if !ok {
			return bad("no PORT")
		}
		if err := checkHostName(host); err != nil {
			return bad(err.Error())
		}
	}
	port, addr, ok := strings.Cut(rest, ":")
	if !ok {
		return bad("no ADDR")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return bad(fmt.Sprintf("PORT %q is not a port number (1-65535)", port))
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	if addr == "" {
		return bad("empty ADDR")
	}
	if strings.Contains(addr, ",") {
		return bad("one ADDR per --resolve")
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return bad(fmt.Sprintf("ADDR %q is not an IP address", addr))
	}
	return Override{Host: strings.ToLower(host), Port: port, Addr: ip.Unmap()}, nil
}

// checkHostName accepts a DNS name or an IPv4 address: letters, digits,
// '-', '_' and '.', no empty label.
func checkHostName(h string) error {
	if h == "" {
		return errors.New("empty HOST")
	}
	if len(h) > 253 {
		return errors.New("HOST longer than a DNS name can be")
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" {
			return fmt.Errorf("HOST %q has an empty label", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("HOST %q is not a host name", h)
			}
		}
	}
	return nil
}
