package metrics

import (
	"strings"

	"github.com/reprise/reprise/internal/jsonshape"
)

// ShapeDiff lists how shape got differs from shape want as
// jsonshape.Diff does ("-path: type" for what got lost, "+path: type" for
// what it gained), leaving out the differences that are values rather
// than structure: where one side holds null, an empty array or an empty
// object (below the top level) and the other holds something at that
// place ("-nextCursor: null +nextCursor: str", "-items: []
// +items[].key: str"). A field present on one side only is a difference,
// null or not. Empty when the shapes are compatible.
func ShapeDiff(want, got string) []string {
	if want == got {
		return nil
	}
	d := jsonshape.Diff(want, got)
	if len(d) == 0 {
		return nil
	}
	type line struct {
		path, typ string
	}
	split := func(s string) line {
		i := strings.LastIndex(s, ": ")
		if i < 0 {
			return line{s, ""}
		}
		return line{s[:i], s[i+2:]}
	}
	// null and [] hold no value; {} neither, below the root (a map with
	// no entries), while a whole response reduced to {} is a change
	empty := func(l line) bool {
		return l.typ == "null" || l.typ == "[]" || l.typ == "{}" && l.path != "."
	}
	// under reports whether path p is at or below q
	under := func(p, q string) bool {
		return q == "." || p == q || strings.HasPrefix(p, q+".") || strings.HasPrefix(p, q+"[]")
	}
	side := func(shape string) []line {
		var out []line
		for _, p := range jsonshape.Paths(shape) {
			out = append(out, split(p))
		}
		return out
	}
	paths := map[byte][]line{'-': side(got), '+': side(want)} // the other side of a diff line
	explained := func(s string) bool {
		l := split(s[1:])
		for _, o := range paths[s[0]] {
			switch {
			case empty(l) && under(o.path, l.path):
				// no value here, something there: values differ
				return true
			case empty(o) && under(l.path, o.path):
				// something here, no value there
				return true
			}
		}
		return false
	}
	var out []string
	for _, s := range d {
		if !explained(s) {
			out = append(out, s)
		}
	}
	return out
}

// ShapesCompatible reports whether got differs from want in values only
// (see ShapeDiff): the shape check passes.
func ShapesCompatible(want, got string) bool {
	return want == got || len(ShapeDiff(want, got)) == 0
}
