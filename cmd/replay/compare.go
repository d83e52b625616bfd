package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/compare"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/report"
)

// exitRegression is the exit code of a comparison that found a regression
// (distinct from exitBreach, thresholds breached).
const exitRegression = 3

// regressionError marks a comparison that found regressions: the report
// is already printed, so only the exit code speaks.
type regressionError struct {
	n     int
	where string
}

func (r regressionError) Error() string {
	what := fmt.Sprintf("%d regressions found", r.n)
	if r.n == 1 {
		what = "1 regression found"
	}
	return what + " (" + r.where + ")"
}

// ExitCode makes the regression exit code reach the process.
func (r regressionError) ExitCode() int { return exitRegression }

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "compare two releases (A and B): live, one replay sent to both at once, or two runs' results; what got slower, what started failing, what changed in the responses",
		ArgsUsage: "CORPUS --a URL --b URL [--a2 URL] | A.json B.json",
		Description: `Live: replay compare CORPUS --a URL --b URL [--a2 URL] replays the corpus once, sending every
recorded event to each release at the same intended time (each with its own client-made ids and
correlation, as copies are), and pairs each request to B with its twin to A. Durations are judged
on the paired differences, so the noise of the moment (a busy machine, a slow network) falls on
both twins and cancels: percentiles with paired bootstrap intervals, the mean (paired t), the
shift of the whole distribution (Wilcoxon signed-rank); error rates on the pairs that disagree
(McNemar). The answers are compared field by field (status, --diff-header headers, JSON bodies by
path, WebSocket messages per connection and type): a field differing in most pairs is a
regression, unless it is noise. Noise is learnt from --a2, a second instance of release A (fields
that differ as often between A and A2: ids, timestamps, request ids), or without it recognised by
its values (ids, times, a different value in most answers). Every replay run flag applies
(--speed, --multiply, --auth-token(s), --only, --threshold judged on each release). --out
json=FILE holds each release's full results and the comparison; html=FILE a report.

Two results documents: replay compare A.json B.json reads two runs (replay run --out json=FILE, or
replay merge) and compares B against A, per endpoint and overall: latency and service-time
percentiles (p50 p90 p95 p99) and mean, the whole latency distribution (Mann-Whitney U), error
rate, checks, shape checks, request rate, statuses and errors seen in one run only, JSON response
shapes (keys and types, values ignored) and endpoints in one run only. Two runs at two times carry
the noise of each moment: prefer the live form when both releases can run at once.

A change is flagged only when it is statistically significant (p-values adjusted over all tests,
Benjamini-Hochberg, at --alpha) and beyond the practical threshold (--min-change of A and
--min-latency-change for durations), so the noise between two runs of one release is not a
regression. --threshold-delta rules set what counts as a regression for a metric:
  --threshold-delta 'p95>+10%'  --threshold-delta 'GET /v1/sessions: error_rate>+0.5pp'
  --threshold-delta 'rate<-10%'  --threshold-delta 'service.p99>+20ms'

Exit codes: 0 no regression, 1 error, 2 bad usage, 3 regression found (--fail-on never: 0),
99 (live) a --threshold breached on B, 130 interrupted.`,
		Flags: append(compareFlags(), liveFlags()...),
		Action: func(c *cli.Context) error {
			opts, err := compareOptions(c)
			if err != nil {
				return err
			}
			failOn := c.String("fail-on")
			if failOn != "regression" && failOn != "never" {
				return usageError{fmt.Errorf("--fail-on %q: want regression or never", failOn)}
			}
			outs, err := parseOuts(c.StringSlice("out"), "json", "html")
			if err != nil {
				return usageError{err}
			}
			live, err := liveForm(c)
			if err != nil {
				return err
			}
			if live {
				return liveCompare(c, opts, failOn, outs)
			}
			pa, pb := c.Args().Get(0), c.Args().Get(1)
			a, err := readResults(pa)
			if err != nil {
				return err
			}
			b, err := readResults(pb)
			if err != nil {
				return err
			}
			names := append(a.EndpointNames(), b.EndpointNames()...)
			if err := compare.CheckRules(opts.Rules, names); err != nil {
				return usageError{fmt.Errorf("--threshold-delta: %w", err)}
			}
			rep, err := compare.Compare(a, b, opts)
			if err != nil {
				return usageError{err}
			}
			rep.A.File, rep.B.File = pa, pb
			return finishCompare(c, rep, outs, failOn)
		},
	}
}

// compareFlags are the flags of both forms of compare.
func compareFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "threshold-delta", Usage: "what counts as a regression: [ENDPOINT: ]METRIC OP CHANGE, e.g. 'p95>+10%' (repeatable)"},
		&cli.Float64Flag{Name: "alpha", Value: compare.DefaultAlpha, Usage: "significance level, over p-values adjusted for the number of tests"},
		&cli.StringFlag{Name: "min-change", Value: "5%", Usage: "practical threshold: smallest change worth flagging, relative to A"},
		&cli.DurationFlag{Name: "min-latency-change", Value: compare.DefaultMinLatencyChange, Usage: "practical threshold for durations, with --min-change"},
		&cli.StringFlag{Name: "fail-on", Value: "regression", Usage: "exit 3 on: regression, or never"},
		&cli.StringSliceFlag{Name: "out", Usage: "write the comparison: json=FILE (every comparison with its test; live: each release's full results too), html=FILE (verdict, latency A against B, field differences); repeatable"},
		&cli.BoolFlag{Name: "all", Usage: "also list every comparison, unchanged ones included"},
	}
}

// finishCompare prints a comparison, writes its outputs and turns a
// regression into the exit code.
func finishCompare(c *cli.Context, rep *compare.Report, outs []output, failOn string) error {
	if err := rep.WriteText(c.App.Writer, compare.TextOptions{All: c.Bool("all")}); err != nil {
		return err
	}
	if err := writeComparison(rep, outs); err != nil {
		return err
	}
	if n := len(rep.Rows(compare.Regression)); n > 0 && failOn == "regression" {
		return regressionError{n, rep.Tally()}
	}
	return nil
}

// writeComparison writes the --out files of a comparison.
func writeComparison(rep *compare.Report, outs []output) error {
	if err := makeOutDirs(outs); err != nil {
		return err
	}
	for _, o := range outs {
		write := rep.WriteJSON
		if o.format == "html" {
			write = rep.WriteHTML
		}
		if err := writeAtomic(o.path, 0o644, write); err != nil {
			return fmt.Errorf("--out %s: %w", o.path, err)
		}
	}
	return nil
}

// compareOptions reads the statistical flags.
func compareOptions(c *cli.Context) (compare.Options, error) {
	var o compare.Options
	o.Alpha = c.Float64("alpha")
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return o, usageError{fmt.Errorf("--alpha %v: want a significance level between 0 and 1, such as 0.01", o.Alpha)}
	}
	raw := strings.TrimSpace(c.String("min-change"))
	v, err := strconv.ParseFloat(strings.TrimSuffix(raw, "%"), 64)
	if err == nil && strings.HasSuffix(raw, "%") {
		v /= 100
	}
	if err != nil || !(v > 0 && v < 10) {
		return o, usageError{fmt.Errorf("--min-change %q: want a positive share of A such as 5%% or 0.05", raw)}
	}
	o.MinChange = v
	o.MinLatencyChange = c.Duration("min-latency-change")
	if o.MinLatencyChange <= 0 {
		return o, usageError{fmt.Errorf("--min-latency-change %v: want a positive duration such as 1ms", o.MinLatencyChange)}
	}
	rules, err := compare.ParseRules(c.StringSlice("threshold-delta"))
	if err != nil {
		return o, usageError{fmt.Errorf("--threshold-delta: %w", err)}
	}
	o.Rules = rules
	return o, nil
}

// readResults reads a results document, naming the file in errors.
func readResults(path string) (*metrics.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := report.ReadJSON(f)
	if err != nil {
		if errors.Is(err, metrics.ErrFormat) {
			return nil, fmt.Errorf("%s: %w (want a file written by replay run --out json=FILE or replay merge)", path, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// writeAtomic writes a file with the given mode through a temporary file
// renamed into place, so a failed write leaves no partial file.
func writeAtomic(path string, mode os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
