package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/netconf"
	"github.com/reprise/reprise/internal/traffic"
)

// networkNotes says what the way to the target did in a run: the proxy it
// went through, TLS failures explained with the option that would help,
// a client certificate the server asked for and did not get. The error,
// when set, is why nothing succeeded.
func networkNotes(ctx context.Context, nw *netconf.Network, cfg engine.Config, snap *metrics.Snapshot) ([]string, error) {
	if nw == nil || snap == nil || snap.Overall == nil {
		return nil, nil
	}
	var lines []string
	target := cfg.Target
	if p, from, _ := nw.ProxyFor(target); p != nil {
		lines = append(lines, fmt.Sprintf("proxy: connections to %s went through %s (from %s; NO_PROXY=%s goes direct)", target.Host, p.Redacted(), from, target.Hostname()))
	}
	o := snap.Overall
	if n := o.Errors()[engine.ErrTLS]; n > 0 {
		// The results keep the kind only: one more handshake tells why
		// (not after an interrupt: the user is waiting to get out).
		l := fmt.Sprintf("%d requests or WebSocket handshakes failed in TLS", n)
		if ctx.Err() == nil {
			var te *netconf.TLSError
			switch err := nw.Check(ctx, target, cfg.Timeout); {
			case errors.As(err, &te):
				l += ": " + te.Detail()
			case err == nil:
				l += "; a handshake after the run succeeded"
			default:
				l += "; after the run: " + err.Error()
			}
		}
		lines = append(lines, l)
	}
	var okHTTP, okWS, failedWS int64
	okHTTP = o.HTTPScheduled() - o.Failed
	if ws := o.Outcomes[traffic.ResultWSConnect.String()]; ws != nil {
		okWS, failedWS = ws.Completed, ws.Total()-ws.Completed
	}
	asks := nw.ClientCertRequests()
	if asks == 0 || nw.HasClientCert() || (o.Failed == 0 && failedWS == 0) {
		return lines, nil
	}
	lines = append(lines, fmt.Sprintf("the server asked for a client certificate in %d TLS handshakes and got none: if it requires one (nginx answers 400 without it), pass --cert FILE --key FILE", asks))
	if okHTTP == 0 && okWS == 0 {
		return lines, fmt.Errorf("no request succeeded at %s, and the server asked for a client certificate that it did not get: pass --cert FILE --key FILE", target)
	}
	return lines, nil
}

// explainDNS adds to a failure to find the target's name in DNS the
// option that connects to it all the same.
func explainDNS(err error, target *url.URL) error {
	var dns *net.DNSError
	if !errors.As(err, &dns) || !dns.IsNotFound || target == nil || dns.Name != target.Hostname() {
		return err
	}
	port := target.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[target.Scheme]
	}
	return fmt.Errorf("%w; if %s is not in DNS (yet), pass --resolve %s:%s:ADDR", err, dns.Name, dns.Name, port)
}
