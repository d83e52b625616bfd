package report

import (
	"io"

	"github.com/reprise/reprise/internal/metrics"
)

// WriteJSON writes the results document (metrics.Encode) of s with the
// threshold verdicts vs, for --out json=FILE. s is not modified.
func WriteJSON(w io.Writer, s *metrics.Snapshot, vs Verdicts) error {
	c := *s
	if vs != nil {
		c.Thresholds = vs.Results()
	}
	return metrics.Encode(w, &c)
}

// ReadJSON reads a results document written by WriteJSON.
func ReadJSON(r io.Reader) (*metrics.Snapshot, error) {
	return metrics.Decode(r)
}
