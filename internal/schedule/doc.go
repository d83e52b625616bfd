// Package schedule turns a corpus into a timed plan: events in intended
// send order, each with its offset from the start of the run, for one or
// many copies of the recorded traffic, or for k6-style virtual users each
// replaying one recorded user at a time.
//
// # One pass
//
// Corpus time is compressed by Speed (10 runs ten times faster), starts at
// the first record, and is filtered by shard. Records are re-sorted by
// start within a bounded reorder window, so a corpus written in completion
// order still replays in start order; a record that arrives later than the
// window goes out at once and is counted as Late. The window adapts: it is
// twice the furthest a record has come after a later-starting one so far,
// at least 250ms and at most Options.Window (10s), so a corpus written in
// order holds a quarter second of records in memory and one written in
// completion order as much as its longest exchanges need. When the corpus
// was surveyed first (Survey.Disorder, as replay does), the window holds
// what the whole corpus needs from its first record. Reading is streamed:
// a pass never holds more than the window in memory.
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
// # Stages
//
// Stages shape the number of active copies over run time, k6-style: each
// stage ramps the target linearly from the previous stage's target (0
// before the first) to its own over its duration; a zero duration jumps.
// Copy k is active while the target is above k, so ramping up starts
// copies one by one and ramping down stops them, highest first. A copy
// that starts replays the corpus from its beginning, shifted by its
// stagger; a copy that stops has its remaining events dropped (not
// scheduled, counted in Stats.Stopped), and reading the corpus ends once
// no copy needs it. Its WebSocket connections still open are closed at
// its stop (a normal client close, reason "copy stopped"), so a
// ramp-down lowers the connections too. A copy that the stages stop and
// start again comes back as a new life: flow "F#k.n", fresh identities.
//
// # Virtual users (Options.VU)
//
// With VU set, Multiply and Stages count k6 virtual users instead of
// copies. A VU replays one recorded user per iteration: every record of
// the user (Options.UserOf gives a flow's user), at its offset from the
// user's first record (gaps over MaxGap cut), at Speed. The iteration
// ends at the end of the user's last record (its start plus its recorded
// duration: no think time beyond what the recording has, as a k6 script
// without sleep), at least 1ms after that record's start; the VU then
// starts its next iteration with the next user. VU k's i-th iteration
// replays user (k + i*N) mod U, N the VUs, U the users (by first
// record): at any moment the VUs replay users spread over the corpus, and
// together they cycle through every user. Events carry Copy = the VU and
// Round = its iteration, so every iteration has identities of its own
// (VU 0's first iteration keeps the recorded ones), correlation state of
// its own (a VU's new iteration drops its previous one's, which has
// ended), and connection ids of its own; its flows are "F#k" (VU 0
// keeps "F"). The WebSocket connections the user leaves open are closed
// with the iteration's last event (reason "end of iteration").
//
// Iterations follow the recording's clock, not the target's responses
// (the open model of the rest of reprise): a slow target does not slow a
// VU down, it shows in the latencies and in iteration_duration. VUs
// iterate until Duration or the stages end; events due later are not
// scheduled (the iteration is cut: Stats.Cut, counted as interrupted,
// its open WebSocket connections closed at the cut, as k6 with
// gracefulStop 0). With neither, the VUs share max(U, N) iterations
// (k6's shared-iterations): VU k replays users k, k+N, ..., so every user
// is replayed once, N at a time, and every VU runs at least once. Under stages VU k runs while the target is
// above k; a ramp-down lets the iteration under way finish within
// GracefulRampDown (k6's gracefulRampDown, 30s in the CLI) and cuts what
// is left after it; a VU the stages start again resumes its iterations,
// never before its last one ended. Stagger delays VU k's first iteration
// of each activation by k*Stagger/N.
//
// Prepare reads the corpus once before the first event: the facts of
// every record (so values are classified in corpus order) and each
// user's span and records, in the order the iterations replay them.
// Then each iteration reads the corpus again (Reopen) from its start,
// paced so that it reaches its user's first record by the iteration's
// start (planned up to 5 minutes ahead; a user further into the corpus
// at Speed is reached by reading the rest at once). A read starts at the
// last multiple of 10s of run time before the iteration's must, and the
// iterations whose reads fall in the same 10s share it, provided it has
// not yet passed their user: an iteration's events are read at most 10s
// before they are due. A read ends once every iteration on it has its
// user's last record, and holds in memory only the reorder window and the
// events of its iterations' users. With Shards, VU k
// belongs to shard k mod Shards and cycles through that shard's users
// only, so the shards of a run together run the VUs of the whole run.
// OnIteration tells the caller when each iteration starts and ends, for
// the iterations and iteration_duration metrics.
//
// # Profiles
//
// Profiles follow the Happy team's k6 profile table (smoke, average,
// stress, spike, endurance: their VUs and durations; the ramps within
// them are reprise's); their targets are virtual users, as are those of
// Load's Users and Stages. Load.Apply turns a Load into Options: copies
// for Multiply, virtual users for the rest; a profile with Users is
// scaled to peak at Users VUs.
//
//	profile    k6 stages (VUs)                                lasts
//	smoke      1 for 30s                                      30s
//	average    30s to 20, 1m to 100, 30s to 0                 2m
//	stress     1m to 50, 2m to 100, 2m to 200, 1m to 0        6m
//	spike      10s to 10, 10s to 200, 30s at 200, 10s to 10   1m
//	endurance  1m to 50, 10m at 50, 1m to 0                   12m
//
// # Loop
//
// Loop (copies only; virtual users always iterate) repeats the corpus so a short recording can drive a long profile:
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
