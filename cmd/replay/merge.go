package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/report"
)

func mergeCommand() *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine the results of the shards of one run exactly, print its summary and judge thresholds",
		ArgsUsage: "SHARD.json...",
		Description: `Reads the results documents of the shards of one run (replay run --shard i/N --out json=FILE,
one per machine or Kubernetes Job pod) and combines them exactly: counters add, histograms
merge bucket by bucket (percentiles of the merged run are those of a single run, not averages),
response shapes and time series add. Prints the merged summary, evaluates --threshold on it
(exit 99 on a breach, as replay run) and writes it with --out json=FILE for replay compare.

Exit codes: 0 ok, 1 error, 2 bad usage, 99 thresholds breached.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "out", Usage: "write the merged results: json=FILE, html=FILE (repeatable)"},
			&cli.StringSliceFlag{Name: "threshold", Usage: "pass/fail criterion or named set such as hap-19 (repeatable)"},
			&cli.IntFlag{Name: "max-endpoints", Value: 40, Usage: "rows of the endpoint table (busiest first), 0 for all"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usageError{errors.New("merge takes the shards' results files: replay merge SHARD.json... --out json=FILE")}
			}
			ths, err := report.Resolve(c.StringSlice("threshold"))
			if err != nil {
				return usageError{fmt.Errorf("--threshold: %w", err)}
			}
			outs, err := parseOuts(c.StringSlice("out"), "json", "html")
			if err != nil {
				return usageError{err}
			}
			paths := c.Args().Slice()
			snaps := make([]*metrics.Snapshot, len(paths))
			for i, p := range paths {
				if snaps[i], err = readResults(p); err != nil {
					return err
				}
			}
			notes, err := checkShards(paths, snaps)
			if err != nil {
				return err
			}
			merged := snaps[0]
			for _, s := range snaps[1:] {
				merged.Merge(s)
			}
			if err := ths.Check(merged.EndpointNames()); err != nil {
				return usageError{fmt.Errorf("--threshold: %w", err)}
			}
			verdicts := report.Evaluate(merged, ths)
			merged.Thresholds = verdicts.Results()
			if err := report.Summary(c.App.Writer, merged, report.SummaryOptions{Verdicts: verdicts, MaxEndpoints: c.Int("max-endpoints")}); err != nil {
				return err
			}
			writeNotes(c.App.Writer, notes)
			for _, o := range outs {
				if err := writeOutput(o, merged, verdicts); err != nil {
					return err
				}
			}
			if n := verdicts.Failed(); n > 0 {
				return breachError{n: n}
			}
			return nil
		},
	}
}

// checkShards refuses a shard given twice or shards of differently
// sharded runs, and notes what looks amiss: missing shards, whole runs
// merged with shards, other corpora or targets.
func checkShards(paths []string, snaps []*metrics.Snapshot) ([]string, error) {
	var notes []string
	seen := map[string]string{} // shard -> file
	total := 0
	var whole []string
	for i, s := range snaps {
		sh := s.Meta.Shard
		if sh == "" {
			if s.Meta.Shards > 1 {
				whole = append(whole, fmt.Sprintf("%s (already %d merged shards)", paths[i], s.Meta.Shards))
			} else {
				whole = append(whole, paths[i])
			}
			continue
		}
		if prev, dup := seen[sh]; dup {
			return nil, fmt.Errorf("shard %s is in both %s and %s: give each shard once", sh, prev, paths[i])
		}
		seen[sh] = paths[i]
		_, n, ok := strings.Cut(sh, "/")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 {
			return nil, fmt.Errorf("%s: shard %q is not i/N", paths[i], sh)
		}
		if total != 0 && count != total {
			return nil, fmt.Errorf("%s is shard %s but others are shards of %d: merge the shards of one run", paths[i], sh, total)
		}
		total = count
	}
	if total > 0 {
		var missing []string
		for i := 0; i < total; i++ {
			if _, ok := seen[fmt.Sprintf("%d/%d", i, total)]; !ok {
				missing = append(missing, fmt.Sprintf("%d/%d", i, total))
			}
		}
		if len(missing) > 0 {
			notes = append(notes, fmt.Sprintf("merged %d of %d shards: %s missing, so the totals cover part of the run", len(seen), total, strings.Join(missing, ", ")))
		}
		if len(whole) > 0 {
			notes = append(notes, "not shards, added as further runs: "+strings.Join(whole, ", "))
		}
	}
	for _, field := range []struct {
		name string
		get  func(metrics.Meta) string
	}{
		{"corpora", func(m metrics.Meta) string { return m.Corpus }},
		{"targets", func(m metrics.Meta) string { return m.Target }},
		{"speeds", func(m metrics.Meta) string { return strconv.FormatFloat(m.Speed, 'g', -1, 64) }},
	} {
		vals := map[string]bool{}
		for _, s := range snaps {
			vals[field.get(s.Meta)] = true
		}
		if len(vals) > 1 {
			var list []string
			for v := range vals {
				list = append(list, v)
			}
			sort.Strings(list)
			notes = append(notes, fmt.Sprintf("the results come from different %s (%s): are they shards of one run?", field.name, strings.Join(list, ", ")))
		}
	}
	return notes, nil
}

func writeNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "     note: %s\n", n)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
	}
}
