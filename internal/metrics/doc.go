// Package metrics turns the engine's stream of traffic.Result values into
// statistics: HDR histograms per endpoint and overall, counters, a
// per-second time series, and the accounting of every scheduled event.
// Snapshots merge exactly (histograms merge, never averages), so shards of
// one run combine into the numbers a single run would have given, and they
// serialize to a versioned JSON results document.
//
// # Collecting
//
// A Collector is safe for concurrent use: the engine calls Add for every
// Result, Progress for live display, and Snapshot at the end (then fills
// Snapshot.Meta: target, corpus, speed, wall-clock bounds, run duration and
// the number of events it scheduled).
//
// Endpoint is the route template (package routes). It may end in a label
// in brackets, "WS /v1/updates [session-scoped]": the result counts for
// "WS /v1/updates" and for its "session-scoped" breakdown (Stats.ByLabel).
// Labels say which kind of connection or client a result belongs to; the
// report shows WebSocket messages received against recorded per label. An
// endpoint keeps at most MaxLabels labels; further ones count under
// OtherLabel.
//
// What each result kind feeds:
//
//	kind          counters                                histograms
//	http          requests, statuses, checks, bytes,      latency (Result.Latency, from the
//	              failed (Result.Failed: error, 5xx,      intended send time), service
//	              a 4xx other than recorded, not sent),   (Result.Service); overall only:
//	              outcome, response shapes and shape      connecting (Result.Connecting),
//	              checks (Result.Shape, ExpectedShape)    schedule lag (Sent - Intended),
//	                                                      the k6 phases blocked, tls
//	                                                      handshaking, sending, waiting,
//	                                                      receiving (Result.Blocked, ...)
//	ws-connect    ws connects, checks, outcome            ws connecting (Result.Connecting,
//	                                                      or Service when zero), lag
//	ws-session    ws sessions (sockets that opened: a     ws session duration (Service, or
//	              not-sent session result is a socket     Latency when zero)
//	              that never did), msgs sent/received/
//	              recorded
//	ws-roundtrip  -                                       ws round trip (Latency, or Service)
//	ws-push       -                                       ws push delivery (Latency, or Service)
//	ws-send       ws sends, outcome                       schedule lag
//
// Every result that was sent counts in its histograms, failed ones too (a
// timed-out request shows with its timeout, as in k6); results never sent
// count only in the outcome and the failed count.
//
// Histograms hold microseconds from 1 µs to 1 h with three significant
// digits (HdrHistogram); a percentile is exact to that precision (the
// upper end of the bucket holding the ranked value, at most 0.1% above
// it). Values over an hour are recorded as an hour and counted as clamped.
//
// # Response shapes
//
// The engine gives the JSON shape of each live response body and of the
// recorded one (package jsonshape: keys and value types, values left
// out, so ids, timestamps and counts never differ). Stats.Shapes counts,
// per endpoint, the responses that had a shape, the shapes seen (the
// MaxShapes most frequent; the rest count in the total only) and the shape
// checks: a response whose recorded response had a shape passes when its
// own shape is the same or differs in values only (ShapeDiff: null, an
// empty array or an empty nested object on one side, something on the
// other, as in a nullable field set in one response and not in the
// other), and fails otherwise (a live body that is not JSON fails too),
// with the most frequent recorded-to-live pairs of the failures kept for
// display (ShapeDiff of the pair says what changed). The overall stats keep the totals only. Shapes longer than
// MaxShapeBytes are cut there. A Collector tracks twice MaxShapes shapes
// per endpoint (the first seen) and a snapshot keeps the most frequent of
// them; merging keeps the most frequent of the union. Totals always merge
// exactly; the lists do too while an endpoint answers at most MaxShapes
// distinct shapes, which is the usual case.
//
// # Accounting
//
// Results of kinds http, ws-connect and ws-send stand for scheduled events
// (an HTTP exchange, a WebSocket connection, a client message); each has
// exactly one outcome: completed (sent, no transport error, any status),
// failed (Result.Error, by kind) or not sent (Result.NotSent, by reason).
// Snapshot.Accounting checks scheduled = completed + failed + not sent
// against Meta.Scheduled (and Meta.ScheduledByKind when given) and returns
// an error naming the gap when it does not add up.
//
// # Time series and concurrency
//
// Series has one entry per second of the run: HTTP requests and failures
// completed in that second (intended time plus latency), their latency
// histogram, the number of active flows and, with virtual users, of VUs.
// A flow (a Result.Flow and Copy pair, a recorded client under
// --multiply) is active from its first scheduled event to its last
// completion, and FlowsActive summarises it. Shards split by flow, so
// per-second flow counts add exactly when merged.
//
// # Virtual users and iterations
//
// With virtual users the schedule tells the Collector when each
// iteration (one pass of one recorded user's traffic) starts and ends
// (StartIteration, EndIteration: its VU and round, its first event's
// intended time, its last event's, its planned end or cut, and whether
// it ran whole); results carry their VU and iteration (Result.Copy and
// Round). Snapshot.Iterations counts whole iterations and interrupted
// ones (cut, or started and never ended because the run stopped) and
// holds the duration of each whole one: from its first event's intended
// time to the completion of the last of its results (results later than
// ten minutes after its last event no longer count). A VU is running
// from its first iteration's start to the end of its last one without a
// break; Series[i].VUs counts those running at some point of second i
// (k6's vus), VUsActive summarises them over the seconds some ran, and
// Meta.VUsMax is the run's VU count (k6's vus_max). Shards run their share
// of the VUs, so iterations, their histogram, per-second VUs and vus_max
// add exactly when merged.
//
// # Results document (version 1)
//
// Encode writes one JSON object (indented, UTF-8):
//
//	{
//	  "format": "reprise-results",       always this string
//	  "version": 1,                      unknown versions are refused
//	  "meta": {                          Meta: tool, target, corpus, speed,
//	    "start": RFC 3339, "end": ...,   multiply, vus_max, shard, shards,
//	    "duration_ns": int,              scheduled, scheduled_by_kind,
//	    "scheduled": int, ...            aborted (why an abort threshold
//	                                     stopped the run, when one did),
//	                                     interrupted ({"at_ns", "reason",
//	                                     "shards"}: a signal ended the run
//	                                     at_ns from its start; in a merge,
//	                                     the earliest, and which shards),
//	                                     run_id (random, one per run or
//	                                     merge), corpus_id (hash of the
//	                                     corpus header: runs of one corpus
//	                                     share it), start_at (RFC 3339:
//	                                     the planned start the shards
//	                                     shared, --start-at; kept by a
//	                                     merge when every shard had it)
//	  },
//	  "accounting": {                    derived: the Accounting breakdown,
//	    "scheduled", "completed",        "ok" and the "error" text when it
//	    "failed": {kind: n},             does not add up
//	    "not_sent": {reason: n},
//	    "by_kind": {kind: outcome}, "ok": bool, "error": string
//	  },
//	  "first_ns": int, "last_ns": int,   earliest intended time and latest
//	                                     completion, from the run's start
//	  "flows": int,                      distinct flows
//	  "iterations": {"complete",         virtual users only: whole and
//	    "interrupted", "duration": Dist}, interrupted iterations, duration
//	                                     of the whole ones
//	  "overall": Stats,
//	  "endpoints": [Stats, ...],         sorted by endpoint
//	  "series": {"interval_ms": 1000,
//	             "seconds": [{"requests", "failed", "flows", "vus",
//	                          "latency": Dist}]},
//	  "thresholds": [{"expr", "endpoint", "metric", "op", "limit",
//	                  "observed", "unit", "pass", "note"}]
//	}
//
// Stats: "endpoint", "label", "requests", "resent" (requests the HTTP
// client wrote twice, absent when none), "rate" (requests per second of
// the run, derived), "failed", "outcomes" ({kind: {"completed", "failed":
// {error: n}, "not_sent": {reason: n}}}), "status_classes" ({"2xx": n}),
// "statuses" ({"200": n}), "checks_passed", "checks_failed",
// "bytes_sent", "bytes_received", "latency", "service", "connecting",
// "blocked", "tls_handshaking", "sending", "waiting", "receiving",
// "schedule_lag" (Dist, absent when empty), "shapes" ({"count",
// "checks_passed", "checks_failed", "seen": [{"shape", "count"}],
// "mismatches": [{"recorded", "got", "count"}]}, absent when no response
// had a shape; lists ordered by count, most first), "ws" ({"connects",
// "sessions", "msgs_sent", "msgs_received", "msgs_recorded", "sends",
// "connecting", "session_duration", "roundtrip", "push_delivery"}) and
// "by_label" ([Stats]).
//
// Dist: "count", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
// "p99_ms", "p99_9_ms", "max_ms" (derived, milliseconds to the
// microsecond), "clamped", and "hist": the histogram in HdrHistogram's
// V2 compressed base64 encoding (cookie 0x1c849304, readable by any
// HdrHistogram implementation), which is the truth: Decode derives every
// summary and rate again from the histograms and refuses a document whose
// counts disagree with them, whose histograms have another geometry, or
// whose counts are negative. Decode(Encode(s)) gives back s; merging two
// decoded documents is exact.
//
// Within a version, members are only ever added, optional and absent when
// empty: a reader ignores members it does not know, and a document
// without a member reads as having nothing to count there. "shapes" came
// this way: a document written before it reads with no shape counts.
//
// Dist.Buckets exposes the histogram buckets (lowest value, width,
// count); every Dist has the same buckets, so rank statistics comparing
// two runs (package compare) work on them directly, ties included.
package metrics
