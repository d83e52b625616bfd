// Package engine executes a schedule against one target or several at
// once: HTTP exchanges through a pooled client, WebSocket connections with
// their client messages, all on one clock, in an open model.
//
// # Dispatcher and lanes
//
// A dispatcher owns the clock and the pacing: it reads the schedule and,
// at each event's intended time, hands the event to every lane. A lane is
// one target with everything that talks to it: its HTTP client and
// connections, its WebSocket connections, the order of its flows, its
// correlation (what its target returned) and identities, and the
// accounting of its results. Run replays against one lane; RunLanes
// against several, each event going to every lane at the same intended
// time (a live comparison of releases).
//
// Lanes learn in schedule order on the dispatcher's goroutine (accept);
// each exchange then runs on a goroutine of its own, each WebSocket
// connection on one for its writes and one for its reads. Every event that
// owes a result holds a ticket, and every path it takes ends in the
// ticket's settle, exactly once: that is where the accounting and the
// correlation plan's completion are kept.
//
// # Protocol profiles
//
// What is specific to one API's WebSocket messages (which reply answers
// which call, which server message is a push an HTTP request caused, what
// labels a connection) comes from a Profile; Generic knows JSON-RPC ids
// and nothing else. The Happy API's profile lives beside the built-in
// Happy server (package happyapi).
//
// # Timing
//
// Every event has an intended time, an absolute deadline from one monotonic
// start. The dispatcher sleeps until the next deadline and fires everything
// due within a tick together (a timer cannot wake more precisely than about
// a millisecond), never sleeping the gap between records, so lateness does
// not accumulate. Each send's own lag (sent minus intended) is measured and
// reported.
//
// Latency runs from the intended time to the end of the response, so time a
// request spent queued behind a slow target is counted (coordinated
// omission); service time runs from the actual send and is reported beside
// it.
//
// # Accounting
//
// Every actionable event produces exactly one traffic.Result: an HTTP
// exchange, a WebSocket open (connecting), a client message (send), and a
// close (session, synthesized for connections the corpus leaves open).
// An event that cannot go out on time is reported with NotSent set, never
// dropped, so scheduled = completed + failed + not sent.
//
// # Bounded state
//
// Nothing is kept per event once its result is out: a WebSocket
// connection is forgotten when it closes (its queue holds no memory once
// drained), a flow's push matching when its last socket closes, a flow's
// order when its last exchange ended (swept every few thousand exchanges),
// and correlation drops a copy's earlier rounds when it starts a new one. A WebSocket that
// failed to open or that the server ended fails once, on its connect or
// session result; the client messages it could no longer carry are "not
// sent: connection not open", not failures of their own.
//
// # Order and causality
//
// Requests of one flow go on the wire in recorded order: each waits until
// the previous one of its flow has been written (not answered). A request
// that carries a value an earlier response of its flow returned waits for
// that response and gets the live value (see package correlate). With
// Config.WaitForAnswers a request also waits for its predecessor's answer
// when the recording shows the predecessor answered before it started,
// which replays each flow as the sequential client it was.
package engine
