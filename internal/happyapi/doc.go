// Package happyapi is an in-process, in-memory server that speaks the Happy
// Server Workers API (sessions, machines, artifacts, account, kv, feed,
// version and the WebSocket update stream), for reprise's demo, tests and
// benchmarks. It injects latency, faults and stalls on request and records
// the exact delay it injected into every request, so a load tool's reported
// percentiles can be checked against the truth.
//
// # Use
//
//	srv, err := happyapi.New(happyapi.Config{Latency: lat, Seed: 1})
//	err = srv.Start(ctx, "127.0.0.1:0") // or httptest.NewServer(srv)
//	base := srv.URL()
//	...
//	truth := srv.Truth()   // per-request injected delays, arrival order
//	p99 := truth.Quantile(0.99)
//	stats := srv.Stats()   // requests by route and status, WebSocket counts
//	state := srv.State()   // sessions, machines, artifacts, kv keys, sockets
//
// # Authentication
//
// Protected routes take "Authorization: Bearer TOKEN". A token is accepted
// when it is one of Config.Tokens, when Config.AnyToken is set (every
// distinct token is its own user), or when it is an HS256 JWT the server
// issued from POST /v1/auth, which verifies an Ed25519 signature of the
// challenge with the given public key (a key's first login creates its
// account; 5 logins per minute per key). Per-user data is keyed by the
// user the token resolves to. WebSocket connections also authenticate with
// ?token= or with ?ticket= from POST /v1/websocket/ticket (valid 30 s,
// 10 tickets per minute per user).
//
// # Answers
//
// Bodies follow the documented shapes: 401 {"error":"Missing Authorization
// header"} or {"error":"Invalid or expired token"}; 400 {error,
// code:"VALIDATION_FAILED", requestId, timestamp}; 404 {"error":"Session not
// found"} (or "Machine not found", "Artifact not found", "Key not found")
// and {"error":"Not found: /path"} for unknown routes; 426 for a
// WebSocket route without an upgrade; 429 {"error":"Rate limit
// exceeded","retryAfter":N} with Retry-After. Every response carries a fresh
// X-Request-ID, X-Response-Time and Server-Timing. Session ids are 32 random
// hex digits; POST /v1/sessions with a known tag returns the existing
// session. A message's content comes back as a JSON value from POST and as
// a JSON string from the GET list.
//
// Versioned writes: POST /v1/kv takes mutations {key, value|null, version}
// where version -1 creates a key that must not exist and any other version
// must equal the key's current one (0 for a key never written); any
// mismatch answers 409 {success:false, errors:[{key, error:
// "version-mismatch", version, value}]} and applies nothing. Artifact
// updates (POST /v1/artifacts/{id} with expectedHeaderVersion /
// expectedBodyVersion) and preference updates (expectedVersion) answer a
// mismatch with 200 {success:false, error:"version-mismatch", current...},
// as the Happy server does.
//
// # WebSocket
//
// GET /v1/updates (or /v1/websocket) with clientType user-scoped (default),
// session-scoped (sessionId=) or machine-scoped (machineId=).
// permessage-deflate is offered to clients that ask. The first frame is
// {"event":"connected","data":{connectionId,userId,clientType,timestamp}};
// later server frames are {type, payload, timestamp, messageId, ackId?}.
// HTTP mutations push {"type":"update","payload":{id, seq, body:{t, ...},
// createdAt}} where t is new-session, update-session, delete-session,
// new-message, new-machine, update-machine, new-artifact, update-artifact,
// delete-artifact, update-account or kv-batch-update: user-scoped
// connections get all of their user's updates, session-scoped ones those
// whose body.sid is their session, machine-scoped ones those whose
// body.machineId is their machine.
//
// Client frames are {event, data, ackId?}. ping answers pong; rpc-request
// (or rpc-call) with data {method, params} answers rpc-response {ok, method,
// result: params} after Config.RPCDelay; session-alive and session-end
// of a session the user has, and machine-alive, relay an ephemeral
// activity frame to the user's other user-scoped connections; ephemeral and usage-report relay their data to
// the user's other connections. A frame with an ackId always gets exactly
// one reply carrying that ackId (pong, rpc-response, ack or error), which is
// what lets a replay measure round trips. POST /v1/websocket/broadcast
// sends the raw {type, payload, timestamp} to the caller's connections
// matching filter.type all, user-scoped-only, session (sessionId) or machine
// (machineId) and answers {success, delivered}.
//
// # Compression
//
// Like a real server, it compresses JSON and text answers (error answers
// too) with the coding the request's Accept-Encoding prefers among zstd,
// br, gzip and deflate (zlib-wrapped), ties going in that order, and says
// Vary: Accept-Encoding on every compressible answer. Every non-empty
// answer is compressed, as the Happy server on Cloudflare Workers does,
// unless Config.CompressMinSize says otherwise; a request without
// Accept-Encoding gets identity. WebSocket upgrades and HEAD answers are
// untouched. Config.NoCompress turns it off.
//
// # Capacity
//
// Config.MaxConcurrent bounds the HTTP requests handled at once and
// Config.MaxRate the requests started per second (evenly spaced); a
// request over a limit waits in one FIFO queue of Config.MaxQueue places
// (default 1024) and finding it full is answered at once with 503
// {"error":"Server overloaded","code":"OVERLOADED"} and Retry-After: 1.
// A request holds its place through its stall, latency and handling, so
// with limits the server saturates as a real one does: the queue wait is
// latency its client sees (RequestTruth.Queued), not injected delay. A
// WebSocket holds a place only until it is upgraded. Without limits
// nothing waits.
//
// # State
//
// State counts what exists (users, sessions not deleted and their
// messages, machines, artifacts, kv keys with a value, open WebSockets),
// the TCP connections open now and at most (on the listener of Start or
// Serve) and the requests handled and queued now and at most. GET
// /_reprise/state (StatePath) answers it as JSON to loopback clients, is
// not counted in Stats or Truth and bypasses limits, injection and
// compression.
//
// # Fault injection
//
// Every HTTP request (WebSocket upgrades included) goes through, in order,
// once it has its turn under the capacity limits: a stall hold
// (Config.Stall: starting Every after Origin and every Every after that,
// requests whose turn comes within For are held until the stall ends),
// then a latency sample (Config.Latency), then with probability
// Config.ErrorRate an injected 500 or 503 {"error", code:"INJECTED_FAULT"}
// instead of the route. Samples come from one PCG source seeded with
// Config.Seed, drawn in the order requests get their turn (arrival order
// without limits).
//
// Latency specs (ParseLatency):
//
//	none | 0                              no latency
//	20ms | fixed:20ms                     fixed
//	uniform:10ms-50ms                     uniform (also uniform:min=10ms,max=50ms)
//	normal:mean=30ms,stddev=5ms[,max=D]   normal, negative samples clamped to 0
//	lognormal:median=30ms,sigma=0.5[,max=D]
//	exponential:mean=20ms[,max=D]
//
// Stall specs (ParseStall): "every=5s,for=500ms" or "every 5s for 500ms".
//
// Truth returns, per request in arrival order, the route, the stall hold,
// the sampled latency, any injected fault, the status and the measured time
// in the server; Truth.Quantile gives exact percentiles of the injected
// delay and Latency.Quantile the distribution's theoretical ones.
package happyapi
