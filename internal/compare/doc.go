// Package compare compares two replays of the same corpus (release A and
// release B) endpoint by endpoint and says what got slower, what started
// failing and what changed in the responses, flagging only what is both
// statistically significant and larger than a practical threshold, so
// that the noise between two runs of the same release is not reported as
// a regression.
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
