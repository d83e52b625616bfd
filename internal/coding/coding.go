package coding

import "strings"

// Names of the content codings the package knows.
const (
	Identity = "identity"
	Gzip     = "gzip"
	Deflate  = "deflate"
	Brotli   = "br"
	Zstd     = "zstd"
)

// Known reports whether c, a lowercase coding name as Parse returns it, is
// one this package decodes and encodes.
func Known(c string) bool {
	switch c {
	case Identity, Gzip, Deflate, Brotli, Zstd:
		return true
	}
	return false
}

// Parse splits Content-Encoding header values (one per header line) into
// the codings they name, in the order they were applied. Names are
// lowercased, "x-gzip" becomes "gzip", and identity and empty items are
// dropped: nil means the body is not coded.
func Parse(values ...string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			c := canonical(item)
			if c == "" || c == Identity {
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// canonical lowercases and trims one coding name, and maps the aliases
// RFC 9110 keeps ("x-gzip") to their names.
func canonical(s string) string {
	c := strings.ToLower(strings.TrimSpace(s))
	if c == "x-gzip" {
		return Gzip
	}
	return c
}

// Format joins codings as a Content-Encoding value ("gzip, br"); "" for
// none.
func Format(codings []string) string {
	return strings.Join(codings, ", ")
}
