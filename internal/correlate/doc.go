// Package correlate carries dynamic values through a replay: it learns,
// in schedule order, which values a response returned that a later request
// of the same flow sends back (a created session's id, a token, a
// WebSocket ticket), makes that request wait for the live response, and
// substitutes the live value for the recorded one. Under --multiply it
// also gives every copy of the traffic identities of its own (Identities).
//
// # Server-made values (Correlator)
//
// A value is dynamic when it is a JSON string in a recorded response body,
// 8 to 512 bytes long, containing a digit, and was not sent by the client
// before (client-made ids such as a session tag are Identities' business).
// The first response that returned a value is its producer; the value is
// found in the live response at the same JSON path. Values unique enough
// to name their producer anywhere (redaction placeholders, random ids of
// 20 bytes or more) also link across flows: a WebSocket ticket fetched by
// a user's request and presented by a connection the recorder keyed
// apart. Later requests are searched for the value in their path, query,
// header values and body, and so are clients' WebSocket text messages (a
// session-alive event names the session the user's HTTP request created):
// such a message waits for its producer like a request, carries the live
// value, and is not sent when the producer failed.
//
// Everything learned belongs to one copy and round of the traffic
// (schedule.Event.Copy and Round): every copy learns its server-made
// values from its own live responses, and never links to another copy's;
// when a looping copy starts a new round, what its earlier rounds learned
// is dropped.
//
// A request also waits for the answer to an earlier request that used the
// same value (its producer aside) when the recording shows that answer
// came before the request started and one of the two changes something
// (is not a GET, HEAD or OPTIONS): the delete of an artifact after its
// read, a kv write after the previous one. On a target slower than the
// recording, the read and the delete that waited for the same create are
// free to go at the same moment; without this order the server may handle
// the delete first and answer the read 404. Reads among themselves keep
// the open model, and an earlier use that failed does not hold the later
// one back (Stats.Orders counts these waits).
//
// When a producer fails (no response, or an error status), the requests
// that depend on it are not sent and are counted as "dependency failed",
// so one root failure is not reported as a cascade of 404s.
//
// Redaction placeholders ("<redacted:1a2b3c4d>", package redact) are
// identity handles: a placeholder token that a login response returned is
// replaced by the live token when the login succeeds, and sent as recorded
// when it does not (for --auth-token or a permissive server to resolve).
// A request whose body holds a placeholder that no response supplies is
// skipped when the placeholder stands for a proof of identity (a login
// signature, a password, a private key): the server could only refuse it,
// and skipped requests are reported beside the accounting. Any other
// secret (an encryption key the server only stores) is replaced by a
// stand-in of the usual shape: base64 of a hash of the placeholder, the
// same for every occurrence.
//
// # Client-made values per copy (Identities)
//
// Identities gives the events of every copy but copy 0's first round (of
// every copy when a run tag is set) values of their own, so that N copies
// are N users rather than one user N times (the Happy API answers a
// second POST /v1/sessions with a known tag with the existing session:
// ten naive copies would merge into one). Which values the client made
// is decided once per record by package analysis (Facts.Vary); Identities
// only picks each copy's variant, and the engine substitutes it together
// with the live values of correlation in one pass over the request
// (Rewrite.Request): records are never copied or rewritten per copy.
//
// A client-made value is replaced, in every use within the copy and round
// (request URL, query, headers, body; WebSocket upgrade URL and client
// messages), by Variant(value, identity). Correlation learns from the
// recorded values, so the recorded responses need no rewriting:
//
//	kind                    recorded                               copy 3
//	UUID                    2304e78c-a353-48ab-a065-204b9633bfe8   another v4 UUID, same case
//	hex id (16+ digits)     2dcc94455b03816fb33edbdeab59a767       32 other hex digits
//	long token (64+ bits)   7q/WEZsa...OJ/ (base64, cuid)          same length, letters stay letters
//	anything else           home-1-5, settings.0                   home-1-5-c3, settings.0-c3
//	placeholder             <redacted:6c0690d0>                    <redacted:6c0690d0-c3>
//
// Round r of a looping copy uses identity "3.r" (suffix "-c3.2"). Random
// variants derive from a hash of the identity and the value, so they are
// the same at every use and different between copies.
//
// Bearer tokens: a real recorded token (a JWT) is a credential no variant
// could replace, so every copy sends it (or the --auth-token that replaces
// it): the copies are one account on the server, as k6 VUs sharing
// AUTH_TOKEN are, kept apart by their own tags and ids. A redaction
// placeholder standing for a token is varied like a client-made value:
// against a permissive server (one user per distinct token) each copy is
// then a user of its own, and a token a login response returned is still
// replaced by the live token of the copy's own login when it succeeds. With a pool of account tokens (Identities.Tokens, the CLI's
// --auth-tokens FILE), every recorded credential of every copy and round
// (bearer header, token or access_token query parameter) is sent as a
// pool token of its own, handed out in order of first use: N copies of F
// recorded users become N*F accounts when the pool is that large (tokens
// are reused in turn when it is not). Recorded responses keep their
// values, so a login a copy replays cannot override the pool.
package correlate
