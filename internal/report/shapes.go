package report

import (
	"bufio"
	"fmt"
	"sort"
	"strings"

	"github.com/reprise/reprise/internal/jsonshape"
	"github.com/reprise/reprise/internal/metrics"
)

// Bounds of the response shape section.
const (
	shapePairsShown = 3 // mismatch pairs per endpoint
	shapeDiffShown  = 4 // diff lines per pair
)

// ShapeDiff describes how a live shape differs from a recorded one, for
// display: the metrics.ShapeDiff lines ("-session.seq: num",
// "+session.seq: str"; differences of values such as null against a
// string left out), at most max of them and then "… N more" (all when
// max is 0), or "not JSON" when the live body was not JSON.
func ShapeDiff(recorded, got string, max int) []string {
	if got == "" {
		return []string{"not JSON (recorded: JSON)"}
	}
	if recorded == "" {
		return []string{"JSON (recorded: not JSON)"}
	}
	d := metrics.ShapeDiff(recorded, got)
	if len(d) == 0 {
		if len(jsonshape.Diff(recorded, got)) > 0 {
			return []string{"values only (null or empty on one side)"}
		}
		// different strings with the same paths: the order of union
		// members or a cut differs
		return []string{"same fields, arranged differently"}
	}
	if max > 0 && len(d) > max {
		n := len(d) - max
		d = append(d[:max:max], fmt.Sprintf("… %d more", n))
	}
	return d
}

// writeShapes lists the endpoints whose responses differ in shape from the
// recorded ones, with what differs.
func writeShapes(w *bufio.Writer, s *metrics.Snapshot, opts SummaryOptions) {
	var eps []*metrics.Stats
	for _, e := range s.Endpoints {
		if e.Shapes != nil && e.Shapes.ChecksFailed > 0 {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return
	}
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Shapes.ChecksFailed > eps[j].Shapes.ChecksFailed })
	hidden := 0
	if opts.MaxEndpoints > 0 && len(eps) > opts.MaxEndpoints {
		hidden = len(eps) - opts.MaxEndpoints
		eps = eps[:opts.MaxEndpoints]
	}
	fmt.Fprintf(w, "\n%sresponse shapes differing from the recording (keys and types; values ignored):\n", indent)
	for _, e := range eps {
		sh := e.Shapes
		n := sh.ChecksPassed + sh.ChecksFailed
		fmt.Fprintf(w, "%s%s  %s of %s differ (%s)\n", indent, e.Endpoint, itoa(sh.ChecksFailed), itoa(n), formatPercent(sh.FailRate()))
		for i, m := range sh.Mismatches {
			if i == shapePairsShown {
				break
			}
			fmt.Fprintf(w, "%s  %s×  %s\n", indent, itoa(m.Count), strings.Join(ShapeDiff(m.Recorded, m.Got, shapeDiffShown), "  "))
		}
		shown := int64(0)
		for i, m := range sh.Mismatches {
			if i < shapePairsShown {
				shown += m.Count
			}
		}
		if rest := sh.ChecksFailed - shown; rest > 0 {
			fmt.Fprintf(w, "%s  %s×  other differences\n", indent, itoa(rest))
		}
	}
	if hidden > 0 {
		fmt.Fprintf(w, "%s(%d more endpoints not shown)\n", indent, hidden)
	}
}
