// Package netconf turns the network options of a replay into what its
// clients need to reach a real staging endpoint: a *tls.Config that
// trusts a private CA and presents a client certificate, a dial function
// that connects a host name to an address of the user's choosing, and a
// proxy function read from the environment. It also checks a target with
// them before a run (TCP, proxy, TLS handshake) and explains a TLS
// failure by naming the option that would help.
//
// It knows nothing of replays or of the engine: the engine takes the three
// values as plain fields (engine.Config TLSConfig, DialContext, Proxy), so
// HTTP and WebSocket connections go the same way.
//
// # Options
//
//	--ca-cert FILE               PEM file of one or more CA certificates, added
//	                             to the system's roots (repeatable)
//	--cert FILE --key FILE       client certificate and its private key (PEM)
//	                             for mutual TLS: both or neither
//	--resolve HOST:PORT:ADDR     connect to ADDR whenever HOST:PORT is dialed,
//	                             as curl's --resolve does: the URL's host still
//	                             goes out as Host header and TLS server name
//	                             (SNI) and is what the certificate must match.
//	                             ADDR is an IP address, IPv6 in brackets
//	                             ([::1]) (repeatable)
//	--insecure                   skip verification of the server's certificate
//
// # Proxies
//
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower-case forms) are
// read once, when the Network is made, with the semantics of
// net/http.ProxyFromEnvironment: https:// targets use HTTPS_PROXY,
// http:// targets HTTP_PROXY; NO_PROXY lists what to reach directly: host
// names ("example.com" matches it and its subdomains, ".example.com" the
// subdomains only), IP addresses, CIDR ranges, "*" for everything; localhost and loopback addresses are never
// proxied. A proxy URL is http://, https:// or socks5:// (a bare host:port
// means http://); user:password in it is sent as Proxy-Authorization.
// --resolve applies to whatever is dialed, the proxy's own address
// included; through a proxy the target's name is resolved by the proxy.
// The WebSocket client (gorilla/websocket) supports http:// and socks5://
// proxies, not https:// ones.
//
// # Failures
//
// Check dials the target as a replay would (through the proxy, with the
// overrides) and, for https://, completes a TLS handshake, without
// sending a request. A failure is one line naming what went wrong and
// what to pass: "certificate signed by unknown authority: pass --ca-cert
// FILE (or --insecure)", "certificate is valid for staging.test, not
// 127.0.0.1: ... --resolve staging.test:8443:127.0.0.1", "the server
// requires a client certificate: pass --cert FILE --key FILE", and so on
// (see TLSError).
//
// A server may ask for a client certificate without requiring one at the
// TLS level (nginx's ssl_verify_client on completes the handshake and
// answers every request 400 instead). Network counts the handshakes in
// which a server asked for a certificate that was not configured
// (ClientCertRequests), so that a run whose requests all failed can say
// why.
package netconf
