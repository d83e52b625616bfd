package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/reprise/reprise/internal/metrics"
)

// Comparison document identification.
const (
	// DocFormat is the "format" member of a comparison document.
	DocFormat = "reprise-compare"
	// DocVersion is the version WriteJSON writes.
	DocVersion = 1
)

type document struct {
	Format    string         `json:"format"`
	Version   int            `json:"version"`
	Verdict   Class          `json:"verdict"`
	Counts    map[string]int `json:"counts"`
	Tests     int            `json:"tests"`
	A         Run            `json:"a"`
	B         Run            `json:"b"`
	A2        *Run           `json:"a2,omitempty"`
	Live      *LiveInfo      `json:"live,omitempty"`
	Options   Options        `json:"options"`
	Notes     []string       `json:"notes,omitempty"`
	Partial   []string       `json:"partial,omitempty"`
	Overall   *Endpoint      `json:"overall"`
	Endpoints []*Endpoint    `json:"endpoints"`
	// Results are the results documents of each release of a live
	// comparison, by lane name.
	Results map[string]json.RawMessage `json:"results,omitempty"`
}

// WriteJSON writes the comparison as a JSON document (see the package
// documentation).
func (r *Report) WriteJSON(w io.Writer) error {
	doc := document{
		Format: DocFormat, Version: DocVersion, Verdict: r.Verdict(),
		Counts: map[string]int{}, Tests: r.Tests,
		A: r.A, B: r.B, A2: r.A2, Live: r.Live, Options: r.Options, Notes: r.Notes, Partial: r.Partial,
		Overall: r.Overall, Endpoints: r.Endpoints,
	}
	for _, c := range []Class{Unchanged, Change, Improvement, Regression} {
		doc.Counts[c.String()] = r.Count(c)
	}
	if doc.Endpoints == nil {
		doc.Endpoints = []*Endpoint{}
	}
	for _, lr := range r.Results {
		var buf bytes.Buffer
		if err := metrics.Encode(&buf, lr.Snapshot); err != nil {
			return fmt.Errorf("write comparison: results of %s: %w", lr.Name, err)
		}
		if doc.Results == nil {
			doc.Results = map[string]json.RawMessage{}
		}
		doc.Results[lr.Name] = buf.Bytes()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}
