// Package proxy is reprise's recording reverse proxy for HTTP/1.1 and
// WebSocket. It is built on net/http/httputil.ReverseProxy, hooking in
// through Rewrite, ModifyResponse and ErrorHandler, and writes every
// exchange and WebSocket message to a traffic.Sink.
//
// # What is recorded
//
// An Exchange per request: method, request target as received
// (origin-form), Host, scheme, protocol, header fields in the order and
// spelling they arrived (net/http does not keep them, so Serve's listener
// scans each connection's request heads as they are read, following
// Content-Length and chunked framing; when served otherwise, or after
// anything the scanner does not follow, Host comes first and the rest in
// name order), body; the upstream's
// status, reason, protocol, header fields (by name, the order in which
// net/http writes them to the client), 1xx interim statuses and body;
// timings from httptrace (Send: handler start to request written
// upstream; Wait: to the first response byte; Receive: to the last body
// byte; Total); Start as an offset from the corpus clock origin
// (monotonic); the client and upstream addresses.
//
// The phases follow each other and none is negative. When the upstream
// begins its answer before the transport reports the request written (it
// answered before reading the whole body, or the transport's check that a
// Content-Length body has ended ran late), Send ends with the last request
// byte read before the answer began; after 1xx interim responses (100
// Continue, 103 Early Hints) Wait runs to the head of the final response.
//
// # Complete exchanges
//
// An exchange the client completed is recorded complete: its response, no
// error, its whole request body. Requests with a body are served in
// net/http's full-duplex mode, so the transport forwards the body while
// the response comes back and net/http does not consume and close the body
// under it once the response head is written (the transport would then
// fail with "invalid Read on closed Body"). Before the handler returns,
// the proxy stops the transport reading the body and waits for a read in
// progress. When the upstream answered without reading the body to its
// end, the client gets its response first and the proxy then reads what
// the client still sends into the record, as a server reads it to keep the
// connection: at most max(MaxBody, 256 KiB) bytes within 5 s. A longer
// remainder is recorded truncated with its declared size, and net/http
// closes the connection. A client that waited for a 100 Continue that
// never came did not send its body: none is read, nor recorded.
//
// Responses are recorded as they went on the wire: compressed bytes and
// their Content-Encoding (decoding happens when the corpus is read). The
// proxy forwards the client's Accept-Encoding untouched: its transport's
// transparent compression is off, so it never asks the upstream for gzip
// on its own.
//
// Bodies stream: they are forwarded as they arrive and only their first
// MaxBody bytes are kept (Body.Truncated set, Body.Size the full size).
// Server-sent events and other responses without a Content-Length are
// flushed to the client as they arrive.
//
// An upstream failure is answered with 502 and recorded as an Exchange
// without Response (FlagNoResponse) and with Error set: "upstream:
// connection refused", "upstream: timeout", "upstream: connection reset",
// "upstream: connection closed early", "upstream: dns: ...". A response
// body cut by the upstream gives FlagIncomplete and "upstream: response
// body: ..."; a client that leaves early gives "client: ...".
//
// # Flows and connections
//
// ConnID numbers client connections (http.Server.ConnContext): requests
// on one keep-alive connection share it. The flow key is the client's
// identity when it shows one, "auth:HASH" with HASH from the bearer token
// (Authorization header, else a token or access_token query parameter), so
// a user's requests over several connections and its WebSocket stay in
// one ordered flow; otherwise "conn:ID", the client connection. Give the
// proxy the redactor's Hash (Config.HashIdentity) and HASH equals the hash
// in that token's redaction placeholder.
//
// # WebSocket
//
// An upgrade answered 101 is relayed by ReverseProxy itself, byte for
// byte: the proxy does not terminate WebSocket, so whatever client and
// server negotiate (subprotocols, permessage-deflate with or without
// context takeover, any window size, fragmentation, pings) passes
// untouched. The proxy wraps the upstream connection and parses the frames
// of both directions as they pass (RFC 6455): WSOpen holds the upgrade
// exchange and the accepted subprotocol and extensions; each message is a
// WSMessage stamped when its first frame was seen, fragments folded
// (Frames counts them), pings and pongs as messages of their own,
// permessage-deflate messages (RSV1) decompressed with
// klauspost/compress/flate using the direction's previous 32 KiB of output
// as dictionary, which decodes context takeover and no context takeover
// alike. WSClose holds the first close frame's side, code and reason; a
// connection that ends without one is recorded with code 1006 and Error
// saying which side dropped. A malformed frame stops recording of that
// direction (noted in WSClose.Error) but never the relay.
//
// # Recording never breaks the traffic
//
// Records are queued to the sink on a goroutine of their own; a full queue
// or a failing sink (disk full) drops records, counts them in
// Stats.Lost, and logs one warning, while the proxy keeps proxying.
package proxy
