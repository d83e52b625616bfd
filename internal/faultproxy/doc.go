// Package faultproxy is a fault-injecting HTTP and WebSocket proxy for
// testing how clients, and reprise's replay above all, cope with a target
// that misbehaves. It sits in front of a real upstream and, following a
// Plan, answers some requests wrongly: resets, hangs, trickles, malformed
// responses, wrong lengths, error statuses, broken WebSocket handshakes
// and sessions, and whole-target outages. Everything else is relayed to
// the upstream unharmed.
//
// # Faults
//
//	fault               what the proxy does                              upstream sees it
//	reset-request       reads the request head and half its body, RST    no
//	reset-response      upstream's head and half its body, then RST      yes
//	hang                never answers; holds the connection              no
//	trickle             Chunk bytes every Interval (slowloris-style)     yes
//	status              answers Rule.Status (default 503), no forward    no
//	garbage-status      a line that is not an HTTP status line, close    no
//	bad-header          a header line without a colon, close             yes
//	short-body          Content-Length over the body sent, close         yes
//	long-body           more body than Content-Length, close             yes
//	ws-bad-accept       101 with a wrong Sec-WebSocket-Accept            no
//	ws-drop             RST mid-session                                  no
//	ws-abnormal-close   TCP FIN without a close frame                    no
//	ws-reserved-opcode  a frame with opcode 0x3                          no
//	ws-bad-length       a 64-bit frame length with the top bit set       no
//	ws-big-control      a 200-byte ping (control frames hold 125)        no
//	ws-bad-utf8         a text message that is not UTF-8                 no
//
// reset-request, hang, status and garbage-status strike WebSocket upgrade
// requests too (a handshake that times out, is answered non-101, or is
// garbage); the other HTTP faults strike plain requests only, the ws-
// faults upgrade requests only. For a ws- fault the proxy is the server:
// it completes the handshake itself (hand-written, RFC 6455), echoes
// client messages, answers pings and close frames, and strikes after
// Rule.After client messages (0: right after the handshake). A session
// that ends before that is not struck. Healthy upgrades are relayed to the
// upstream byte for byte.
//
// Faults that close the connection after a wrong answer do so on purpose
// (long-body also says Connection: close): bytes beyond a Content-Length,
// say, would otherwise be read as the next response on a kept-alive
// connection and strike a request the plan did not choose.
//
// # Plan
//
// A Plan holds Rules and Outages. A rule strikes a request when the path
// starts with Rule.Path, the request arrives inside the rule's window
// (From and Until, offsets from Start; Every repeats the window, for
// bursts) and the draw for the request falls under Rule.Fraction (0 means
// every request). The draw is a hash of Plan.Seed, the rule's position and
// the request's arrival number, so the same seed and arrival order strike
// the same requests, and the share struck converges on Fraction whatever
// the order. The first rule that strikes wins.
//
// The plan's clock starts at Start, or with Plan.StartOnFirstRequest at
// the first request read, which lines the windows up with a replay's
// time zero.
//
// An Outage closes the listener and every open connection at Outage.At
// (new connections are refused) and listens again on the same address
// after Outage.For: a target that stops and restarts. Down and Up do the
// same by hand.
//
// # Counting
//
// Stats says what the proxy did, for tests to hold a client's report
// against: requests read, requests forwarded unharmed, faults injected by
// kind (counted before the bytes of the faulty answer leave), tunnels,
// outages and restarts. A client may resend a request that failed before
// any byte of the answer (Go's transport does so for idempotent requests
// on a reused keep-alive connection): the proxy then reads, and may
// strike, that request twice.
package faultproxy
