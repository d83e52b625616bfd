// Package workload drives a Happy-compatible server the way real Happy
// clients do, to make realistic traffic for recording (through the
// recording proxy) and for tests.
//
// Each simulated user logs in through POST /v1/auth with its own Ed25519
// key (the signature of a random challenge, as the app does), creates a
// home session and registers a machine, then loops: a think time drawn
// uniformly from ThinkMin..ThinkMax (100-600 ms by default), then one
// operation from the Happy team's k6 full-API mix:
//
//	health     30%  GET /health (9 in 10) or GET /ready
//	sessions   20%  list, paginated list, active list, get, the k6 sessions
//	                flow (create -> post message -> list messages -> delete),
//	                chat into the home session, create+archive+state
//	machines   15%  list, get, status, register
//	artifacts  10%  list, create, get, update (versioned), delete
//	account    10%  profile (+ settings), preferences get/put (versioned), profile update
//	kv          7%  list, get (some misses: 404 is expected), versioned mutate
//	feed        4%  GET /v1/feed
//	version     4%  POST /v1/version (no auth)
//
// Beside the loop, unless NoWebSocket, each user keeps WebSocket clients on
// /v1/updates: a user-scoped connection, a session-scoped one on its home
// session and a machine-scoped one for its machine, plus short-lived
// connections that open and close during the run. Connections authenticate
// by ?token=, by ?ticket= (from POST /v1/websocket/ticket) or by header.
// Every few seconds a user sends a ping or an rpc-request with an ackId,
// session-alive / machine-alive / ephemeral events, asks for
// /v1/websocket/stats, or broadcasts through POST /v1/websocket/broadcast
// with one of its filters. The HTTP mutations of the mix (messages,
// machine status, artifacts, kv) make the server push update events to
// these connections.
//
// Everything a user chooses (operations, their order, client-made ids,
// tags, payloads, think times) comes from a random source seeded with
// Config.Seed and the user's index, so a run is reproducible; the
// WebSocket side has its own source, so its timing cannot perturb the HTTP
// sequence. With OpsPerUser set and Trace on, two runs against equivalent
// servers produce the same Report.Trace.
package workload
