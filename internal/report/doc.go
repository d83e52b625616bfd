// Package report renders what a replay measured: the end-of-run summary in
// the k6 style the Happy team reads, a per-endpoint table, a WebSocket
// table, threshold verdicts, and the JSON results document.
//
// # Summary
//
// Summary writes, for a metrics.Snapshot:
//
//	accounting           scheduled = completed + failed (by error) + not sent (by reason)
//	checks               status == recorded status, as a rate with ✓ passed ✗ failed
//	data_received/sent   bytes (SI units) and bytes per second
//	flows                active flows (recorded clients x copies) per second: median, min, max
//	http_req_blocked     waiting for a connection from the pool, until dialing starts or a
//	                     reused connection is handed over (Result.Blocked); waiting for a
//	                     send slot under --max-in-flight shows in schedule_lag
//	http_req_connecting  TCP dial (Result.Connecting), zero on a reused connection
//	http_req_duration    latency from the intended send time (coordinated-omission safe)
//	http_req_failed      failed HTTP results (error, 5xx, a 4xx other than the recorded status, not sent) as a rate;
//	                     as in k6, ✓ counts the failed and ✗ the others
//	http_req_receiving   first response byte to the end of the body
//	http_req_resent      requests the HTTP client wrote twice (shown only when some were):
//	                     Go's transport, like browsers, resends an idempotent request
//	                     whose reused connection closed unanswered
//	http_req_sending     connection in hand to the request written
//	http_req_service     service time from the actual send
//	http_req_status      status classes
//	http_req_tls_handshaking  TLS handshake, zero on a reused or plain connection
//	http_req_waiting     request written to the first response byte (time to first byte)
//	http_reqs            requests sent and their rate over the replay's duration
//	iteration_duration   virtual users only: a whole iteration (one recorded user's traffic),
//	                     its first event's intended time to the completion of its last result
//	iterations           virtual users only: whole iterations and their rate; "N interrupted"
//	                     for those cut by the end of the run, a ramp-down or an interrupt
//	schedule_lag         actual minus intended send time of every scheduled event
//	shape_checks         JSON response shape == recorded shape (keys and value types,
//	                     values ignored), as a rate with ✓ passed ✗ failed
//	vus                  virtual users running per second, over the seconds some ran:
//	                     median, min, max
//	vus_max              the virtual users of the run (k6's vus_max)
//	ws_connecting        WebSocket handshake time
//	ws_msgs_received     server messages received, rate, and "of N recorded (P%)"
//	ws_msgs_sent         client messages sent
//	ws_push_delivery     HTTP mutation to the matching server push
//	ws_roundtrip         client message to its matching reply
//	ws_session_duration  open to close
//	ws_sessions          sockets that opened and their rate; "opened, of N attempted"
//	                     when some handshakes did not succeed
//	ws_failed            WebSocket connections that failed to connect or in session, by kind
//
// A run that covers only part of its corpus says so on the first line:
// "INTERRUPTED after 5.2s (interrupt signal received): partial results
// ..." (metrics.Meta.Interrupted) or "STOPPED EARLY by an abort
// threshold: ..." (Meta.Aborted).
//
// Trend lines show avg, min, med, max, p(90), p(95) and p(99), durations
// as k6 writes them (µs, ms, s, at most two decimals). Then one row per
// endpoint (reqs, rate, err%, p50, p95, p99, max of the latency, and the
// marks of its thresholds; — where nothing was sent, so nothing measured),
// one row per WebSocket endpoint and label (handshakes attempted, sockets
// opened, failed, messages sent, received against recorded, p95 of connecting,
// round trip and push delivery), the endpoints whose JSON responses
// differ in shape from the recorded ones (how many, and the most frequent
// differences as metrics.ShapeDiff lines: "-session.seq: num
// +session.seq: str"; values are not part of a shape, so ids and
// timestamps never show, nor a nullable field null in one response only),
// and the thresholds with ✓ (passed), ✗ (breached) or - (skipped: nothing
// to measure).
//
// # Thresholds
//
// An expression is
//
//	[ENDPOINT ": "] CONDITION {"," CONDITION}
//	CONDITION = [METRIC "."] STAT OP LIMIT  |  METRIC OP LIMIT
//
// ENDPOINT is an endpoint name exactly as the report prints it ("GET
// /v1/sessions", "POST /v1/sessions/{id}/messages"), optionally with a
// label ("WS /v1/updates [session-scoped]"), or a template alone
// ("/v1/sessions": every method together). Check refuses an endpoint the
// corpus does not have and lists the known ones. OP is <, <=, >, >= or ==.
//
//	metric (aliases)                         statistic         limit
//	http_req_duration (latency, duration)    avg min med max   duration: 500ms, 1s, 250us,
//	http_req_service (service)               pN p(N)           2m; bare = milliseconds
//	http_req_connecting (http_req_blocked)*  (default metric
//	schedule_lag (lag)*                      of a bare STAT:
//	ws_connecting, ws_session_duration,      p95<500ms)
//	ws_roundtrip, ws_push_delivery
//	http_req_failed (error_rate, errors)     -                 ratio: 1% or 0.01
//	checks                                   -                 ratio
//	shape_checks                             -                 ratio
//	ws_msgs_received (received / recorded)   -                 ratio
//	http_reqs (rate, reqs, requests)         .rate (default)   rate: 1000/min, 20/s, 5000/h;
//	                                         .count            bare = per second; count
//	flows*                                   -                 count: median per second
//	vus (users)*                             -                 count: median per second
//	vus_max*                                 -                 count
//	iterations*                              .count (default)  count; rate as http_reqs
//	                                         .rate
//	iteration_duration*                      as latency        duration
//	ws_sessions, ws_msgs_sent                -                 count
//
// Metrics marked * are measured for the whole run only. Examples:
// "p95<500ms", "p(99.9)<2s", "avg<200ms", "error_rate<1%",
// "http_req_failed<0.01", "rate>=1000/min", "checks>99%", "shape_checks>=99%",
// "service.p99<300ms", "ws_roundtrip.p99<300ms", "ws_msgs_received>=99%",
// "vus>=100", "iterations>=500", "iterations.rate>=2/s",
// "iteration_duration.p95<10s", "GET /health: p95<50ms, p99<100ms". A
// threshold on vus, vus_max, iterations or iteration_duration is skipped
// in a run of copies (--multiply), which has no virtual users.
//
// Rates divide by the replay's own duration: at --speed 10 a rate
// threshold judges the replayed rate, ten times the recorded one. A
// threshold with nothing to measure (an endpoint without requests, a run
// without WebSocket traffic) is skipped, neither passed nor breached.
//
// # Named sets
//
// NamedSet("hap-19") is the Happy team's acceptance criteria (HAP-19):
// flows>=100 (Concurrent Users 100+ sustained: reprise replays an open
// model, so concurrent users are the recorded clients, times --multiply,
// active in a second; "sustained" is the median over the seconds of the
// run), rate>=1000/min, p95<500ms, p99<1000ms, error_rate<1%, and their
// per-endpoint targets: GET /health p95<50ms p99<100ms; GET /v1/sessions,
// GET /v1/machines, GET /v1/artifacts p95<200ms p99<400ms; POST
// /v1/sessions p95<300ms p99<500ms; GET /v1/websocket/stats p95<100ms
// p99<200ms; POST /v1/websocket/broadcast p95<200ms p99<400ms. The
// per-endpoint thresholds of a named set are optional: skipped when the
// corpus lacks the endpoint. Resolve accepts set names and expressions
// mixed, as --threshold flags give them.
//
// # HTML
//
// WriteHTML writes the report as one self-contained page: no script,
// font, stylesheet or image from elsewhere, charts as inline SVG, every
// table readable without JavaScript. It opens with the verdict banner:
// PASSED, BREACHED, PARTIAL RUN (no breach, but the run stopped early) or
// NOT JUDGED (no thresholds), the breached thresholds with their
// observed values (the first six, then how many more), why a run stopped
// early, and the headline numbers (HTTP requests and rate, failed share,
// latency p95 and p99, WebSockets opened of attempted, WebSocket messages
// received of recorded, duration). Then the charts over the run's time,
// full width: HTTP requests completed per second; failed requests per
// second on a scale of their own, so that 2 % of failures fills half the
// chart; p50, p95 and p99 latency of the requests completed in each
// second; active flows. A run of more than 600 seconds is drawn in
// buckets of several seconds (rates over the bucket, percentiles of the
// bucket's merged histogram). A last second the run ended in is drawn as
// a rate over the part that elapsed, or, under a quarter of a second,
// left out with a note saying how many requests it held; a second with
// no completed request breaks the latency lines rather than drawing
// zero. Then the HTTP endpoint table (requests, not sent, rate, err%,
// percentiles, threshold marks; a dash where nothing was sent), the
// WebSocket tables and charts per endpoint and label (attempted, opened,
// failed, sessions, messages sent, received and recorded; p50, p95 and
// p99 of connecting, round trip and push delivery), every threshold with
// its measured value, and the text summary.
//
// # JSON
//
// WriteJSON writes the metrics results document (see package metrics)
// with the verdicts; ReadJSON reads it back, histograms included, for
// compare and merge.
package report
