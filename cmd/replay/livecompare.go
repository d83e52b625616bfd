package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/compare"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/gctune"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/report"
	"github.com/reprise/reprise/internal/traffic"
)

// liveFlags are the flags of a live comparison: the releases, what is
// compared of their answers, and every replay flag (--target aside: the
// releases take its place).
func liveFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "a", Usage: "base `URL` of release A, the baseline (live form)"},
		&cli.StringFlag{Name: "b", Usage: "base `URL` of release B, the candidate (live form)"},
		&cli.StringFlag{Name: "a2", Usage: "base `URL` of a second instance of release A: fields differing as often between A and A2 are noise (ids, timestamps, request ids)"},
		&cli.StringSliceFlag{Name: "diff-header", Value: cli.NewStringSlice(compare.DefaultHeaders...), Usage: "response header compared between the releases (repeatable; replaces the defaults)"},
		&cli.StringSliceFlag{Name: "ignore-field", Usage: "field whose differences are noise: [ENDPOINT: ]FIELD as the report names it ('updatedAt', 'GET /v1/feed: items[].cursor', 'header Cache-Control'; * is any characters); repeatable"},
		&cli.IntFlag{Name: "max-pairs", Value: compare.DefaultMaxPairs, Usage: "pairs kept per endpoint for percentiles and shifts (a uniform sample beyond it, so memory stays bounded)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no live progress line"},
	}
	for _, f := range replayFlags() {
		if f.Names()[0] == "target" {
			// set from --a: a live comparison has releases, not a target
			f = &cli.StringFlag{Name: "target", Hidden: true}
		}
		flags = append(flags, f)
	}
	return flags
}

// liveOnly are the flags that only a live comparison takes.
func liveOnly() []string {
	var names []string
	for _, f := range liveFlags() {
		names = append(names, f.Names()[0])
	}
	return names
}

// liveForm tells the two forms of compare apart by their arguments: a
// corpus with --a and --b, or two results documents.
func liveForm(c *cli.Context) (bool, error) {
	first := c.Args().First()
	switch c.NArg() {
	case 1:
		if isResultsDoc(first) {
			return false, usageError{fmt.Errorf("%s is a results document: compare takes two results files (replay compare A.json B.json), or a corpus with --a URL --b URL", first)}
		}
		if c.String("a") == "" || c.String("b") == "" {
			return false, usageError{errors.New("a live comparison needs both releases: replay compare CORPUS --a URL --b URL (two results files compare without them)")}
		}
		return true, nil
	case 2:
		for _, arg := range c.Args().Slice() {
			if corpus.IsCorpus(arg) {
				return false, usageError{fmt.Errorf("%s is a corpus, not a results document: to compare releases live, give one corpus: replay compare %s --a URL --b URL", arg, arg)}
			}
		}
		for _, name := range liveOnly() {
			if c.IsSet(name) && name != "quiet" {
				return false, usageError{fmt.Errorf("--%s applies to a live comparison (replay compare CORPUS --a URL --b URL), not to two results files", name)}
			}
		}
		return false, nil
	}
	return false, usageError{errors.New("compare takes a corpus with --a URL --b URL (live: replay compare CORPUS --a URL --b URL), or two results files (replay compare A.json B.json)")}
}

// isResultsDoc reports whether the file at path is JSON (a results
// document) rather than a corpus.
func isResultsDoc(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = bytes.TrimLeft(head[:n], " \t\r\n\ufeff")
	return len(head) > 0 && head[0] == '{'
}

// releaseURL reads --a, --b or --a2.
func releaseURL(c *cli.Context, name string) (*url.URL, error) {
	raw := c.String(name)
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--%s %q: want an http:// or https:// URL with a host", name, raw)}
	}
	return u, nil
}

// liveCompare replays the corpus once against every release and
// compares B against A on the pairs.
func liveCompare(c *cli.Context, cmpOpts compare.Options, failOn string, outs []output) error {
	corpusPath := c.Args().First()
	if c.IsSet("target") {
		return usageError{errors.New("--target is replay run's: a live comparison takes --a URL (release A) and --b URL (release B)")}
	}
	var urls [3]*url.URL
	for i, name := range []string{"a", "b", "a2"} {
		u, err := releaseURL(c, name)
		if err != nil {
			return err
		}
		urls[i] = u
	}
	if err := c.Set("target", urls[0].String()); err != nil {
		return err
	}
	opts, nw, err := replayOptions(c, corpusPath)
	if err != nil {
		return err
	}
	ths, err := report.Resolve(c.StringSlice("threshold"))
	if err != nil {
		return usageError{fmt.Errorf("--threshold: %w", err)}
	}
	ignore, err := compare.ParseIgnore(c.StringSlice("ignore-field"))
	if err != nil {
		return usageError{err}
	}
	if c.Int("max-pairs") < 100 {
		return usageError{errors.New("--max-pairs must be at least 100")}
	}
	lo := compare.LiveOptions{Lanes: 2, Headers: c.StringSlice("diff-header"), Ignore: ignore, MaxPairs: c.Int("max-pairs")}
	opts.Also = []replay.Lane{{Name: "b", Target: urls[1], Flag: "--b", Preflight: nw.Direct(urls[1])}}
	if urls[2] != nil {
		lo.Lanes = 3
		opts.Also = append(opts.Also, replay.Lane{Name: "a2", Target: urls[2], Flag: "--a2", Preflight: nw.Direct(urls[2])})
	}
	live := compare.NewLive(lo)
	opts.Result = live.Result
	opts.Observe = func(lane int, o engine.Observation) {
		live.Observe(lane, compare.Answer{Seq: o.Seq, WS: o.Kind == traffic.ResultWSSession, Endpoint: o.Endpoint,
			Status: o.Status, Header: o.Header, Body: o.Body, Text: o.Text})
	}
	if !c.Bool("quiet") {
		opts.Progress = progressPrinter(c.App.ErrWriter, opts.Engine.Duration)
	}
	targets := []*url.URL{urls[0], urls[1]}
	if urls[2] != nil {
		targets = append(targets, urls[2])
	}
	opts.Preflight = nw.Direct(urls[0])
	opts.TargetFlag = "--a"

	opts.CheckEndpoints = func(known []string) error {
		if err := ths.Check(known); err != nil {
			return usageError{fmt.Errorf("--threshold: %w", err)}
		}
		if err := compare.CheckRules(cmpOpts.Rules, known); err != nil {
			return usageError{fmt.Errorf("--threshold-delta: %w", err)}
		}
		return beforeSending(c, nw, opts, outs, targets...)
	}
	stopTuning := gctune.Start()
	out, err := replay.Run(c.Context, opts)
	stopTuning()
	if out == nil {
		return notStarted(c, err, opts, urls[0])
	}
	if opts.Progress != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
	snaps := []*metrics.Snapshot{out.Snapshot}
	for _, al := range out.Also {
		snaps = append(snaps, al.Snapshot)
	}
	verdicts := make([]report.Verdicts, len(snaps))
	for i, s := range snaps {
		verdicts[i] = report.Evaluate(s, ths)
		s.Thresholds = verdicts[i].Results()
	}
	var a2 *metrics.Snapshot
	if len(snaps) > 2 {
		a2 = snaps[2]
	}
	rep, cerr := live.Compare(snaps[0], snaps[1], a2, cmpOpts)
	if cerr != nil {
		return usageError{cerr}
	}
	if werr := rep.WriteText(c.App.Writer, compare.TextOptions{All: c.Bool("all")}); werr != nil {
		return werr
	}
	writeNotes(c.App.Writer, liveNotes(out, ths, verdicts))
	if werr := writeComparison(rep, outs); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if i := out.Snapshot.Meta.Interrupted; i != nil {
		ie := interruptedError{what: fmt.Sprintf("after %s (%s): the comparison covers what was sent before it", i.At.Round(time.Millisecond), i.Reason)}
		if len(outs) > 0 {
			ie.what += ", and so do the --out files"
		}
		return ie
	}
	for i, s := range snaps {
		if acc, aerr := s.Accounting(); aerr == nil && acc.Scheduled > 0 && acc.Completed == 0 {
			return fmt.Errorf("no request reached %s: all %d scheduled events failed or were not sent (see the report above)", targets[i], acc.Scheduled)
		}
	}
	if n := len(rep.Rows(compare.Regression)); n > 0 && failOn == "regression" {
		return regressionError{n, rep.Tally()}
	}
	if n := verdicts[1].Failed(); n > 0 {
		return breachError{n: n, about: "on B: " + verdicts[1].Breached()}
	}
	return nil
}

// liveNotes are the lines after a live comparison: thresholds judged on
// each release, and what the replay did.
func liveNotes(out *replay.Outcome, ths report.Thresholds, verdicts []report.Verdicts) []string {
	var lines []string
	names := []string{"A", "B", "A2"}
	for i, vs := range verdicts {
		if len(ths) == 0 {
			break
		}
		switch n := vs.Failed(); {
		case n > 0:
			lines = append(lines, fmt.Sprintf("thresholds on %s: %d of %d breached: %s", names[i], n, len(vs), vs.Breached()))
		default:
			lines = append(lines, fmt.Sprintf("thresholds on %s: all %d met", names[i], len(vs)-vs.Skipped()))
		}
	}
	if out.LeftOut > 0 {
		lines = append(lines, fmt.Sprintf("%d events left out by --only/--skip", out.LeftOut))
	}
	if lag := out.Engine.MaxLag; lag > 50*time.Millisecond {
		lines = append(lines, fmt.Sprintf("the dispatcher ran up to %s behind schedule (machine overloaded?): both releases got the late events at the same time", lag.Round(time.Millisecond)))
	}
	if out.RunTag != "" {
		tags := []string{out.RunTag}
		for _, al := range out.Also {
			tags = append(tags, al.RunTag)
		}
		lines = append(lines, fmt.Sprintf("run tags %s: each release got client-made values (tags, ids, keys) of its own (--run-tag %s gives the same again)", strings.Join(tags, ", "), out.RunTag))
	}
	return lines
}
