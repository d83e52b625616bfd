// Package compare compares two replays of the same corpus (release A and
// release B) endpoint by endpoint and says what got slower, what started
// failing and what changed in the responses, flagging only what is both
// statistically significant and larger than a practical threshold, so
// that the noise between two runs of the same release is not reported as
// a regression. Compare judges two results documents (two runs at two
// times); Live judges one replay sent to both releases at once (below).
//
// # Live comparison
//
// One replay sends every event to each release at the same intended time
// (replay.Options.Also: lanes A, B and optionally A2, a second instance
// of A). Live.Result takes every result of every lane and pairs A's and
// B's results of one event by its schedule sequence number; Live.Observe
// takes every answer (HTTP responses, server WebSocket messages) and
// compares each event's answers once every lane has answered. Live.Compare
// then builds a Report of the usual format (classes, verdict, text, JSON)
// from the pairs:
//
//	metric                       test                                        practical threshold
//	latency, service,            change of the quantile of B against A's,     |change| >= 5% of A and >= 1ms
//	ws_connecting p50 p90        paired block bootstrap (200 resamples of
//	p95 p99                      whole windows of pairs), 95% percentile
//	                             interval
//	... mean                     mean of the paired differences, window-     as above
//	                             robust variance
//	... paired shift             Wilcoxon signed-rank on the differences,    |median of B - A| >= 5% of A's
//	                             window-robust variance; the median of the    median and >= 1ms
//	                             differences with its bootstrap interval
//	error_rate,                  exact McNemar on the pairs failing in one   as error_rate
//	ws_connect_failures          release only, and the windows' test; the
//	                             larger p-value decides
//	statuses, errors in one      McNemar, and the sign of the windows they   a new 4xx/5xx or error when
//	release only                 fell in                                     significant is a regression;
//	                                                                         not significant, unchanged
//	fields of the answers        see below
//
// checks, shape checks, response shapes and WebSocket round trips and push
// delivery have no twin to pair with and are compared from each lane's
// snapshot as Compare does.
//
// Pairs are grouped in windows of Window (250 ms) of the run. What
// disturbs one release for a moment (a CPU hog, a pause, a queue behind a
// slow answer) moves every pair of that moment: the variance of every
// paired test is the larger of the usual one and the window-robust one
// (sandwich estimator over the windows' sums), its statistic referred to
// Student's t with windows - 1 degrees of freedom, and the bootstrap
// resamples whole windows. A test needs 4 windows (one second of run).
// Latency changes of an endpoint whose service time did not change are
// time waiting to be sent behind other requests of the same flows (a
// slower endpoint holding a user's connections): unchanged, with a note.
//
// Memory stays bounded: per endpoint, counts and sums per window over
// every pair (windows merged two by two past 4096), and a uniform
// reservoir sample of LiveOptions.MaxPairs pairs (default 10000) for the
// quantiles and the shift; answers wait for their twins up to a bound and
// are compared as soon as they have them, and a WebSocket connection's
// messages are counted per type with the first 32 of each type kept.
//
// Answers are compared field by field: the status ("(status)"), the
// LiveOptions.Headers ("header Content-Type"), JSON bodies flattened to
// paths (objects by key, arrays by index, or by "id" when the elements of
// both arrays share ids; "len(items)" is a field; bodies that are not
// JSON are compared whole, "(body)"), and per WebSocket connection the
// count of each message type ("count(message[update/new-message])", the
// type from a "type" or "event" member and a subtype in its payload) and
// the first messages of each type in order ("message[TYPE].path"). For
// each field: the pairs in which it was there, and those in which A and B
// differ. Noise, with A2: a field differs beyond noise when the pairs in
// which A and B differ but A and A2 agree outnumber the opposite (one-
// sided exact binomial on those discordant pairs, and on the windows they
// fell in; the larger p-value decides) by at least MinChange of the
// pairs; otherwise it is noise. Without A2: noise is recognised by A's
// values (most look like ids, analysis.IDLike, or times, RFC 3339 or
// Unix epochs; or most answers give a different value: counters, random
// values) or by its differences (in id-like parts only, such as an id in
// a path or in a JSON document carried in a string), and any other field
// is judged by whether it differs in more than half of the pairs
// (binomial against one half, on pairs and on windows). --ignore-field
// rules declare noise. A field differing in most pairs beyond noise is a
// consistent change: a regression when significant. With A2, a field
// differing significantly beyond noise in fewer pairs is a change;
// without A2 such sporadic differences are not judged (races between
// the releases cause them too). Each field keeps the first pair that
// differed, its values shortened and credentials redacted (the default
// rules of package redact, bearer tokens and JWTs).
//
// The document of a live comparison adds "live" (LiveInfo: counts, how
// noise was told), "a2" and "results" ({"a", "b", "a2"}: each release's
// full results document) to the members below; comparisons carry
// "ci_low" and "ci_high" (the 95% interval of the change) and fields
// "field" (FieldDiff). WriteHTML writes either comparison as a
// self-contained page: the verdict, latency A against B per endpoint, the
// field differences, every finding, the text.
//
// # What is compared
//
// For the whole run and for every endpoint present in both runs
// (metrics.Snapshot, usually read back from results documents):
//
//	metric                     test                                        practical threshold
//	latency, service p50 p90   quantile test: difference of the sample     |change| >= 5% of A and >= 1ms
//	p95 p99                    quantiles over their order-statistic
//	                           standard errors (below)
//	latency, service mean      Welch's t-test (means and variances from    |change| >= 5% of A and >= 1ms
//	                           the histograms)
//	latency, service           Mann-Whitney U on the histogram buckets     |P(B>A) - 0.5| >= 0.06 (the
//	distribution               (ties by mid-rank, tie-corrected            Vargha-Delaney "small" effect),
//	                           variance); effect P(B>A) = U_B / nA nB      and the median as latency
//	ws_connecting,             quantile test, Welch                        as latency
//	ws_roundtrip,
//	ws_push_delivery p50..mean
//	error_rate (failed of      two-proportion z-test (pooled), Fisher's    |change| >= 0.1 percentage point
//	scheduled HTTP results)    exact test when an expected cell is < 5     and >= 5% of A
//	checks, shape_checks       as error_rate, on the pass rates            as error_rate, the 5% relative to
//	                                                                       A's failures
//	rate (requests per second  conditional binomial test of two Poisson    |change| >= 5% of A
//	of the run's duration)     counts
//
// and, per endpoint: HTTP statuses, error kinds and not-sent reasons seen
// in one run only (Fisher or z-test of the count against zero in the
// other run); JSON response shapes (package jsonshape, values left out)
// frequent in B that A did not list, with the metrics.ShapeDiff from A's
// most similar shape, and shapes of A not seen in B (shapes differing
// only where one side is null or empty count as alike); endpoints in one
// run only.
//
// Labels of an endpoint ("WS /v1/updates [session-scoped]") are compared
// as part of their endpoint, not one by one.
//
// Higher latency, error rates and shape mismatches, lower rates and pass
// rates are worse. A worse change is a Regression, a better one an
// Improvement; a new endpoint, a new 1xx-3xx status, a shape that only
// gained fields, or a new error too rare to be significant is a Change;
// the rest is Unchanged. A new error kind, a new 4xx or 5xx status, and a
// new shape that lost or retyped a field of A's are regressions when
// significant.
//
// # Significance
//
// Every p-value of a comparison (about 15 per endpoint) is adjusted by
// Benjamini and Hochberg over the whole family, and a difference is
// significant when its adjusted p-value is at most Alpha (default 0.01).
// When nothing changed, the chance that anything at all is flagged is
// then at most Alpha (the tests are positively dependent: latency and
// service time, p95 and p99), and when many things changed the share of
// false discoveries among them is at most Alpha. Measured on synthetic
// runs drawn from identical distributions (TestSameDistributionNoChange),
// a single test rejects at its nominal rate and the family rarely
// rejects anything; a 20% slower endpoint is found every time with 2000
// requests (TestShiftDetected), and about four times in five with 1000.
//
// Percentile tests use the distribution-free interval of a sample
// quantile: the rank of the q-quantile of n values has binomial spread
// s = sqrt(n q (1-q)), so the values of ranks nq - 2s and nq + 2s span
// about four standard errors of the quantile; the bucket width at the
// quantile adds its quantisation variance w²/12. A percentile is tested
// only with at least five values beyond it in each run (p99 needs 500);
// others are reported as untested. The tests treat requests as
// independent: a run with long stalls has correlated latencies and
// overstates significance, which is what the practical threshold is for.
//
// # Rules
//
// --threshold-delta rules (ParseRules) replace the practical threshold
// for the regressions of their metric: "p95>+10%" flags a p95 more than
// 10% above A's (if significant), "GET /v1/sessions: error_rate>+0.5pp"
// that endpoint's error rate half a point higher, "rate<-10%" a tenth
// fewer requests per second. Rules naming an endpoint take precedence over
// general ones for that endpoint. Improvements keep the default
// thresholds.
//
// # Output
//
// Report.WriteText prints the two runs, notes on what makes them hard to
// compare (other corpora, speeds or copies, a lone shard, shapes missing
// from one side, accounting that does not add up), a warning for each
// run that is partial (interrupted by a signal, or stopped by an abort
// threshold: metrics.Meta.Partial), the verdict (followed by "(PARTIAL:
// ...)" when a run is partial, since it then judges only the part that
// ran), then the regressions, improvements and changes as tables grouped
// by endpoint (the whole run first, then failures, shapes, latency), each
// titled with its number of rows, each row with A, B, the change and the
// adjusted p-value, shape rows followed by their diff; service-time rows
// only where they disagree with latency (Report.Rows lists the rows
// shown: their count is the one given, the JSON "counts" count every
// comparison); and one line counting the rest. Report.WriteJSON writes
// every comparison:
//
//	{
//	  "format": "reprise-compare", "version": 1,
//	  "verdict": "regression" | "improvement" | "change" | "unchanged",
//	  "counts": {class: n}, "tests": n,
//	  "a": {"file", "meta", "requests", "duration_s"}, "b": {...},
//	  "options": {"alpha", "min_change", "min_latency_change_ms",
//	              "min_error_change", "min_effect", "rules": [Rule]},
//	  "notes": [string], "partial": [string],
//	  "overall": Endpoint, "endpoints": [Endpoint]
//	}
//
// Endpoint: "endpoint", "presence" ("both", "new", "vanished"), "class",
// "requests_a", "requests_b", "comparisons": [{"endpoint", "metric",
// "kind", "key", "unit", "a", "b", "delta", "relative", "n_a", "n_b",
// "p_b_greater", "test", "p", "p_adjusted", "significant", "practical",
// "class", "rule", "shape", "closest", "diff", "note"}], values in
// milliseconds, ratios (0 to 1), per second or counts as "unit" says.
package compare
