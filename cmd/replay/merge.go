package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
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

Refused, with one line naming the files: a file or a run given twice, a whole run (not a
shard; replay compare sets two runs side by side), two results of one shard, shards of
differently sharded runs, and shards of different corpora (unless --force). Missing shards,
and shards interrupted or stopped early, are noted; the merged run is then marked partial.

` + exitCodes,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "out", Usage: "write the merged results: json=FILE, html=FILE (repeatable)"},
			&cli.StringSliceFlag{Name: "threshold", Usage: "pass/fail criterion or named set such as hap-19 (repeatable)"},
			&cli.IntFlag{Name: "max-endpoints", Value: 40, Usage: "rows of the endpoint table (busiest first), 0 for all"},
			&cli.BoolFlag{Name: "force", Usage: "merge shards that replayed different corpora (their counts then add up runs of several corpora)"},
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
			if err := distinctFiles(paths); err != nil {
				return err
			}
			snaps := make([]*metrics.Snapshot, len(paths))
			for i, p := range paths {
				if snaps[i], err = readResults(p); err != nil {
					return err
				}
			}
			notes, err := checkShards(paths, snaps, c.Bool("force"))
			if err != nil {
				return err
			}
			merged := snaps[0]
			for _, s := range snaps[1:] {
				merged.Merge(s)
			}
			merged.Meta.RunID = rand.Text() // the merge is a run of its own
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

// distinctFiles refuses a results file given twice, under one name or
// two (a link).
func distinctFiles(paths []string) error {
	infos := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		for j := range i {
			if os.SameFile(infos[j], fi) {
				if paths[j] == p {
					return fmt.Errorf("%s is given twice: give each shard's results once", p)
				}
				return fmt.Errorf("%s and %s are the same file: give each shard's results once", paths[j], p)
			}
		}
		infos[i] = fi
	}
	return nil
}

// checkShards refuses what is not the shards of one run: a run given
// twice (the same run id), a whole run, two results of one shard, shards
// of differently sharded runs, and shards of different corpora unless
// force. It notes what is amiss but mergeable: missing shards, shards
// interrupted or stopped early, other targets or speeds.
func checkShards(paths []string, snaps []*metrics.Snapshot, force bool) ([]string, error) {
	var notes []string
	runs := map[string]string{} // run id -> file
	for i, s := range snaps {
		id := s.Meta.RunID
		if id == "" {
			continue // written before run ids
		}
		if prev, dup := runs[id]; dup {
			return nil, fmt.Errorf("%s and %s hold the same run (run id %s): give each shard's results once", prev, paths[i], id)
		}
		runs[id] = paths[i]
	}
	for i, s := range snaps {
		if s.Meta.Shard != "" {
			continue
		}
		what := "a whole run"
		if s.Meta.Shards > 1 {
			what = fmt.Sprintf("a merge of %d shards", s.Meta.Shards)
		}
		return nil, fmt.Errorf("%s is %s, not a shard: merge takes the shards of one run (replay run --shard i/N --out json=FILE); to set two runs side by side, use replay compare A.json B.json", paths[i], what)
	}
	seen := map[string]string{} // shard -> file
	total := 0
	for i, s := range snaps {
		sh := s.Meta.Shard
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
	for i, s := range snaps[1:] {
		a, b := snaps[0].Meta, s.Meta
		if a.CorpusID == "" || b.CorpusID == "" || a.CorpusID == b.CorpusID {
			continue
		}
		what := fmt.Sprintf("%s and %s replayed different corpora (%s %s, %s %s)", paths[0], paths[i+1], a.Corpus, a.CorpusID, b.Corpus, b.CorpusID)
		if !force {
			return nil, errors.New(what + ": merge the shards of one run, or pass --force to add them up anyway")
		}
		notes = append(notes, what+": added up as --force asked")
	}
	var missing []string
	for i := 0; i < total; i++ {
		if _, ok := seen[fmt.Sprintf("%d/%d", i, total)]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, total))
		}
	}
	if len(missing) > 0 {
		notes = append(notes, fmt.Sprintf("merged %d of %d shards: %s missing, so the totals cover part of the run", len(seen), total, strings.Join(missing, ", ")))
	}
	for i, s := range snaps {
		if what, partial := s.Meta.Partial(); partial {
			notes = append(notes, fmt.Sprintf("%s (shard %s) is partial: %s; the merged run is partial too", paths[i], s.Meta.Shard, what))
		}
	}
	for _, field := range []struct {
		name string
		get  func(metrics.Meta) string
	}{
		{"corpora", func(m metrics.Meta) string {
			if m.CorpusID != "" {
				return "" // told apart by identity above
			}
			return m.Corpus
		}},
		{"targets", func(m metrics.Meta) string { return m.Target }},
		{"speeds", func(m metrics.Meta) string { return strconv.FormatFloat(m.Speed, 'g', -1, 64) }},
	} {
		vals := map[string]bool{}
		for _, s := range snaps {
			if v := field.get(s.Meta); v != "" {
				vals[v] = true
			}
		}
		if len(vals) > 1 {
			notes = append(notes, fmt.Sprintf("the shards come from different %s (%s): are they shards of one run?", field.name, strings.Join(slices.Sorted(maps.Keys(vals)), ", ")))
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
