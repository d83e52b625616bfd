// Package schedule turns a corpus into a timed plan: events in intended
// send order, each with its offset from the start of the run, for one or
// many copies of the recorded traffic.
//
// # One pass
//
// Corpus time is compressed by Speed (10 runs ten times faster), starts at
// the first record, and is filtered by shard. Records are re-sorted by
// start within a bounded reorder window, so a corpus written in completion
// order still replays in start order; a record that arrives later than the
// window goes out at once and is counted as Late. Reading is streamed: a
// pass never holds more than the window of corpus time in memory.
//
// # Copies (--multiply)
//
// Multiply N runs N copies of the traffic at once. Every record is emitted
// once per copy; Event.Copy says which. Copy k of N starts k*Stagger/N
// later than copy 0 (the CLI's --stagger defaults to 1s, so ten copies
// start 100ms apart and never fire in lockstep; zero starts them
// together). Copies are separate users: copy 0 keeps the recorded flow
// keys, copy k sends flow "F" as "F#k", and its WebSocket and HTTP
// connection ids are (round serial << 40) | recorded id, so the engine
// keeps the order of each copy's flows and the connections of each copy
// apart. Records are copied, never changed in place. Identities inside
// the records (tags, ids, localIds) are made unique per copy by package
// correlate, which reads Event.Identity.
//
// # Stages and profiles
//
// Stages shape the number of active copies over run time, k6-style: each
// stage ramps the target linearly from the previous stage's target (0
// before the first) to its own over its duration; a zero duration jumps.
// Copy k is active while the target is above k, so ramping up starts
// copies one by one and ramping down stops them, highest first. A copy
// that starts replays the corpus from its beginning (like a k6 VU starting
// its first iteration), shifted by its stagger; a copy that stops has its
// remaining events dropped (not scheduled, counted in Stats.Stopped), and
// reading the corpus ends once no copy needs it. Its WebSocket
// connections still open are closed at its stop (a normal client close,
// reason "copy stopped"), so a ramp-down lowers the connections too. A
// copy that the stages
// stop and start again comes back as a new life: flow "F#k.n", fresh
// identities.
//
// Profiles follow the Happy team's k6 profile table (smoke, average,
// stress, spike, endurance: their users and durations; the ramps within
// them are reprise's); their targets count users (k6 VUs), and Load
// converts users to copies: one copy replays every recorded flow, so a
// corpus of F flows needs users/F copies, copy k running while the
// profile asks for more than k*F users. --users N is the constant
// equivalent: ceil(N/F) copies.
//
//	profile    k6 stages (users)                              lasts
//	smoke      1 for 30s                                      30s
//	average    30s to 20, 1m to 100, 30s to 0                 2m
//	stress     1m to 50, 2m to 100, 2m to 200, 1m to 0        6m
//	spike      10s to 10, 10s to 200, 30s at 200, 10s to 10   1m
//	endurance  1m to 50, 10m at 50, 1m to 0                   12m
//
// # Loop
//
// Loop repeats the corpus so a short recording can drive a long profile:
// one loop period after a copy's round started (the corpus span plus one
// mean gap between records, at Speed), the copy starts its next round,
// until its stages stop it or Duration passes. Every round is an identity
// set of its own (Event.Round; Event.Identity "k.r"), while the flow key
// stays the copy's, so a looping copy counts as one concurrent user. A
// round closes the WebSocket connections the corpus leaves open at its
// last event (reason "end of round"), so rounds do not pile up
// connections.
//
// # Memory
//
// Copies that start within 30s of one another share one read of the
// corpus; a copy starting later (a long ramp) or a new round reads it
// again through Options.Reopen. The events of a read are queued for every
// copy on it, so memory holds at most the events of 30s of run time plus
// the reorder window of each read.
package schedule
