// Package engine executes a schedule against a target: HTTP exchanges
// through a pooled client, WebSocket connections with their client messages,
// all on one clock, in an open model.
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
// dropped, so scheduled = completed + failed + not sent. A WebSocket that
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
