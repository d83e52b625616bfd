package metrics

import (
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/traffic"
)

// Bounds on the shapes kept per endpoint.
const (
	// MaxShapes is the number of distinct shapes (and of distinct
	// recorded-to-live mismatches) a snapshot keeps per endpoint, the most
	// frequent first; the others count only in the totals.
	MaxShapes = 8
	// collectShapes is the number a Collector tracks per endpoint while
	// collecting (the first ones seen), so the MaxShapes it keeps are the
	// most frequent of a wider field.
	collectShapes = 2 * MaxShapes
	// MaxShapeBytes bounds a stored shape; a longer one is cut there and
	// ends in "…" (shapes of typical API responses are a few hundred
	// bytes).
	MaxShapeBytes = 4096
)

// Shapes counts the JSON shapes (package jsonshape: keys and value types,
// values left out) of an endpoint's HTTP responses, and compares each with
// the shape of the recorded response (the shape check).
type Shapes struct {
	// Count is the number of responses that had a shape (JSON bodies).
	Count int64 `json:"count"`
	// ChecksPassed and ChecksFailed count responses whose recorded
	// response had a shape: passed when the live shape is the same or
	// differs in values only (ShapeDiff: null or empty on one side),
	// failed when it differs otherwise or the live body was not JSON.
	ChecksPassed int64 `json:"checks_passed"`
	ChecksFailed int64 `json:"checks_failed"`
	// Seen holds the most frequent shapes, by count (most first, then by
	// shape). Count minus their sum is the responses of other shapes.
	// Empty for the overall stats.
	Seen []ShapeCount `json:"seen,omitempty"`
	// Mismatches holds the most frequent failed checks, recorded and live
	// shape with their count, ordered as Seen. ChecksFailed minus their
	// sum is the failed checks of other pairs. Empty for the overall
	// stats.
	Mismatches []ShapeMismatch `json:"mismatches,omitempty"`

	// compat caches ShapesCompatible verdicts while collecting
	compat map[shapePair]bool
}

type shapePair struct{ want, got string }

// maxCompatCache bounds the verdicts cached per endpoint.
const maxCompatCache = 64

func (s *Shapes) compatible(want, got string) bool {
	k := shapePair{want, got}
	if v, ok := s.compat[k]; ok {
		return v
	}
	v := ShapesCompatible(want, got)
	if s.compat == nil {
		s.compat = make(map[shapePair]bool)
	}
	if len(s.compat) < maxCompatCache {
		s.compat[k] = v
	}
	return v
}

// ShapeCount is one shape and the number of responses that had it.
type ShapeCount struct {
	Shape string `json:"shape"`
	Count int64  `json:"count"`
}

// ShapeMismatch is a failed shape check: the recorded shape, the live one
// ("" when the live body was not JSON) and how often the pair occurred.
type ShapeMismatch struct {
	Recorded string `json:"recorded"`
	Got      string `json:"got"`
	Count    int64  `json:"count"`
}

// Other is the number of responses whose shape is not among Seen.
func (s *Shapes) Other() int64 {
	if s == nil {
		return 0
	}
	n := s.Count
	for _, c := range s.Seen {
		n -= c.Count
	}
	return n
}

// MismatchesOther is the number of failed checks not among Mismatches.
func (s *Shapes) MismatchesOther() int64 {
	if s == nil {
		return 0
	}
	n := s.ChecksFailed
	for _, m := range s.Mismatches {
		n -= m.Count
	}
	return n
}

// Lookup returns the count of shape among Seen, and whether it is listed.
func (s *Shapes) Lookup(shape string) (int64, bool) {
	if s == nil {
		return 0, false
	}
	for _, c := range s.Seen {
		if c.Shape == shape {
			return c.Count, true
		}
	}
	return 0, false
}

// FailRate is ChecksFailed over the checks, zero without checks.
func (s *Shapes) FailRate() float64 {
	if s == nil || s.ChecksPassed+s.ChecksFailed == 0 {
		return 0
	}
	return float64(s.ChecksFailed) / float64(s.ChecksPassed+s.ChecksFailed)
}

// ClipShape bounds a shape to MaxShapeBytes (cut at a character boundary,
// ending in "…").
func ClipShape(shape string) string {
	if len(shape) <= MaxShapeBytes {
		return shape
	}
	cut := MaxShapeBytes - len("…")
	for cut > 0 && !utf8.RuneStart(shape[cut]) {
		cut--
	}
	return shape[:cut] + "…"
}

// add counts the shapes of one sent HTTP result; lists is false for the
// overall stats, which keep only the totals.
func (s *Shapes) add(r *traffic.Result, lists bool) {
	got := ClipShape(r.Shape)
	if got != "" {
		s.Count++
		if lists {
			s.seen(got, 1)
		}
	}
	if r.ExpectedShape == "" {
		return
	}
	want := ClipShape(r.ExpectedShape)
	if got == want || got != "" && s.compatible(want, got) {
		s.ChecksPassed++
		return
	}
	s.ChecksFailed++
	if lists {
		s.mismatch(want, got, 1)
	}
}

// seen adds n to shape in Seen while it has room for collecting.
func (s *Shapes) seen(shape string, n int64) {
	for i := range s.Seen {
		if s.Seen[i].Shape == shape {
			s.Seen[i].Count += n
			return
		}
	}
	if len(s.Seen) < collectShapes {
		s.Seen = append(s.Seen, ShapeCount{shape, n})
	}
}

func (s *Shapes) mismatch(recorded, got string, n int64) {
	for i := range s.Mismatches {
		if m := &s.Mismatches[i]; m.Recorded == recorded && m.Got == got {
			m.Count += n
			return
		}
	}
	if len(s.Mismatches) < collectShapes {
		s.Mismatches = append(s.Mismatches, ShapeMismatch{recorded, got, n})
	}
}

// merge adds o into s and keeps the MaxShapes most frequent of each list.
// Totals are always exact; the lists are exact while an endpoint has at
// most MaxShapes distinct shapes (and mismatch pairs).
func (s *Shapes) merge(o *Shapes) {
	s.Count += o.Count
	s.ChecksPassed += o.ChecksPassed
	s.ChecksFailed += o.ChecksFailed
	seen := make(map[string]int64, len(s.Seen)+len(o.Seen))
	for _, l := range [][]ShapeCount{s.Seen, o.Seen} {
		for _, c := range l {
			seen[c.Shape] += c.Count
		}
	}
	s.Seen = s.Seen[:0]
	for k, v := range seen {
		s.Seen = append(s.Seen, ShapeCount{k, v})
	}
	type pair struct{ r, g string }
	mm := make(map[pair]int64, len(s.Mismatches)+len(o.Mismatches))
	for _, l := range [][]ShapeMismatch{s.Mismatches, o.Mismatches} {
		for _, m := range l {
			mm[pair{m.Recorded, m.Got}] += m.Count
		}
	}
	s.Mismatches = s.Mismatches[:0]
	for k, v := range mm {
		s.Mismatches = append(s.Mismatches, ShapeMismatch{k.r, k.g, v})
	}
	s.normalize()
}

// normalize orders the lists (most frequent first, then by shape) and
// keeps MaxShapes of each.
func (s *Shapes) normalize() {
	sort.Slice(s.Seen, func(i, j int) bool {
		a, b := s.Seen[i], s.Seen[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Shape < b.Shape
	})
	if len(s.Seen) > MaxShapes {
		s.Seen = s.Seen[:MaxShapes]
	}
	if len(s.Seen) == 0 {
		s.Seen = nil
	}
	sort.Slice(s.Mismatches, func(i, j int) bool {
		a, b := s.Mismatches[i], s.Mismatches[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Recorded != b.Recorded {
			return a.Recorded < b.Recorded
		}
		return a.Got < b.Got
	})
	if len(s.Mismatches) > MaxShapes {
		s.Mismatches = s.Mismatches[:MaxShapes]
	}
	if len(s.Mismatches) == 0 {
		s.Mismatches = nil
	}
}

// validate checks a decoded Shapes and normalizes its lists.
func (s *Shapes) validate() error {
	if s.Count < 0 || s.ChecksPassed < 0 || s.ChecksFailed < 0 {
		return errors.New("shapes: negative count")
	}
	var sum int64
	dup := map[string]bool{}
	for _, c := range s.Seen {
		if c.Shape == "" || c.Count <= 0 {
			return errors.New("shapes: seen entry without a shape or count")
		}
		if len(c.Shape) > MaxShapeBytes {
			return fmt.Errorf("shapes: shape of %d bytes over the %d limit", len(c.Shape), MaxShapeBytes)
		}
		if dup[c.Shape] {
			return fmt.Errorf("shapes: shape %q twice", c.Shape)
		}
		dup[c.Shape] = true
		if c.Count > s.Count-sum {
			return fmt.Errorf("shapes: seen shapes add up to more than the count %d", s.Count)
		}
		sum += c.Count
	}
	sum = 0
	type pair struct{ r, g string }
	pairs := map[pair]bool{}
	for _, m := range s.Mismatches {
		if m.Recorded == "" || m.Count <= 0 || m.Recorded == m.Got {
			return errors.New("shapes: mismatch without a recorded shape, a count or a difference")
		}
		if len(m.Recorded) > MaxShapeBytes || len(m.Got) > MaxShapeBytes {
			return fmt.Errorf("shapes: mismatch shape over the %d byte limit", MaxShapeBytes)
		}
		if pairs[pair{m.Recorded, m.Got}] {
			return errors.New("shapes: mismatch pair twice")
		}
		pairs[pair{m.Recorded, m.Got}] = true
		if m.Count > s.ChecksFailed-sum {
			return fmt.Errorf("shapes: mismatches add up to more than the %d failed checks", s.ChecksFailed)
		}
		sum += m.Count
	}
	s.normalize()
	return nil
}
