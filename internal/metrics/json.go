package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// Results document identification.
const (
	// DocFormat is the "format" member of a results document.
	DocFormat = "reprise-results"
	// DocVersion is the version this build writes and reads.
	DocVersion = 1
)

// maxDocBytes bounds a results document read by Decode.
const maxDocBytes = 1 << 30

// Errors of Decode that callers may branch on.
var (
	// ErrFormat means the input is not a reprise results document.
	ErrFormat = errors.New("not a reprise results document")
	// ErrVersion means the document has a version this build cannot read.
	ErrVersion = errors.New("unsupported results document version")
)

type document struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	Meta       Meta              `json:"meta"`
	Accounting *accountingJSON   `json:"accounting,omitempty"`
	First      int64             `json:"first_ns"`
	Last       int64             `json:"last_ns"`
	Flows      int64             `json:"flows"`
	Iterations *IterationStats   `json:"iterations,omitempty"`
	Overall    *Stats            `json:"overall"`
	Endpoints  []*Stats          `json:"endpoints"`
	Series     *seriesJSON       `json:"series,omitempty"`
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
}

type accountingJSON struct {
	Accounting
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type seriesJSON struct {
	IntervalMS int      `json:"interval_ms"`
	Seconds    []Second `json:"seconds"`
}

// Encode writes s as a results document (see the package documentation).
func Encode(w io.Writer, s *Snapshot) error {
	s.finalize()
	var he histEncoder
	if err := he.encodeAll(s); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	doc := document{
		Format:     DocFormat,
		Version:    DocVersion,
		Meta:       s.Meta,
		First:      int64(s.First),
		Last:       int64(s.Last),
		Flows:      s.Flows,
		Iterations: s.Iterations,
		Overall:    s.Overall,
		Endpoints:  s.Endpoints,
		Thresholds: s.Thresholds,
	}
	if doc.Endpoints == nil {
		doc.Endpoints = []*Stats{}
	}
	a, err := s.Accounting()
	doc.Accounting = &accountingJSON{Accounting: a, OK: err == nil}
	if err != nil {
		doc.Accounting.Error = err.Error()
	}
	if len(s.Series) > 0 {
		doc.Series = &seriesJSON{IntervalMS: 1000, Seconds: s.Series}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// Decode reads a results document written by Encode. Histograms are the
// truth: summary values and rates are derived again from them, and a
// document whose counts disagree with its histograms is refused.
func Decode(r io.Reader) (*Snapshot, error) {
	lr := &io.LimitedReader{R: r, N: maxDocBytes + 1}
	dec := json.NewDecoder(lr)
	var doc document
	if err := dec.Decode(&doc); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("read results: document over %d bytes", maxDocBytes)
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read results: empty input: %w", ErrFormat)
		}
		return nil, fmt.Errorf("read results: %w", err)
	}
	if doc.Format != DocFormat {
		return nil, fmt.Errorf("read results: format %q: %w", doc.Format, ErrFormat)
	}
	if doc.Version != DocVersion {
		return nil, fmt.Errorf("read results: version %d (this build reads %d): %w", doc.Version, DocVersion, ErrVersion)
	}
	if doc.Overall == nil {
		return nil, errors.New("read results: no overall stats")
	}
	if err := validMeta(&doc.Meta); err != nil {
		return nil, fmt.Errorf("read results: meta: %w", err)
	}
	if doc.Last < doc.First || doc.Flows < 0 {
		return nil, errors.New("read results: last before first, or negative flows")
	}
	if err := validStats(doc.Overall); err != nil {
		return nil, fmt.Errorf("read results: overall: %w", err)
	}
	seen := map[string]bool{}
	for i, e := range doc.Endpoints {
		if e == nil || e.Endpoint == "" {
			return nil, fmt.Errorf("read results: endpoint %d has no name", i)
		}
		if seen[e.Endpoint] {
			return nil, fmt.Errorf("read results: endpoint %q twice", e.Endpoint)
		}
		seen[e.Endpoint] = true
		if err := validStats(e); err != nil {
			return nil, fmt.Errorf("read results: endpoint %q: %w", e.Endpoint, err)
		}
	}
	if it := doc.Iterations; it != nil {
		if err := it.validate(); err != nil {
			return nil, fmt.Errorf("read results: %w", err)
		}
	}
	sort.Slice(doc.Endpoints, func(i, j int) bool { return doc.Endpoints[i].Endpoint < doc.Endpoints[j].Endpoint })
	s := &Snapshot{
		Iterations: doc.Iterations,
		Meta:       doc.Meta,
		Overall:    doc.Overall,
		Endpoints:  doc.Endpoints,
		Flows:      doc.Flows,
		Thresholds: doc.Thresholds,
	}
	s.First, s.Last = time.Duration(doc.First), time.Duration(doc.Last)
	if doc.Series != nil {
		if doc.Series.IntervalMS != 1000 {
			return nil, fmt.Errorf("read results: series interval %d ms, want 1000", doc.Series.IntervalMS)
		}
		if len(doc.Series.Seconds) > maxSeconds {
			return nil, fmt.Errorf("read results: series of %d seconds over the %d limit", len(doc.Series.Seconds), maxSeconds)
		}
		for i, sec := range doc.Series.Seconds {
			if sec.Requests < 0 || sec.Failed < 0 || sec.Flows < 0 || sec.VUs < 0 {
				return nil, fmt.Errorf("read results: series second %d has a negative count", i)
			}
		}
		s.Series = doc.Series.Seconds
	}
	s.finalize()
	return s, nil
}

func validMeta(m *Meta) error {
	if m.Duration < 0 || m.Scheduled < 0 || m.Shards < 0 || m.Multiply < 0 || m.VUsMax < 0 || m.Speed < 0 {
		return errors.New("negative duration, count or speed")
	}
	if m.Interrupted != nil && m.Interrupted.At < 0 {
		return errors.New("negative interruption time")
	}
	for k, v := range m.ScheduledByKind {
		if v < 0 {
			return fmt.Errorf("negative scheduled count for %q", k)
		}
	}
	return nil
}

func validStats(s *Stats) error {
	for _, n := range []int64{s.Requests, s.Failed, s.ChecksPassed, s.ChecksFailed, s.BytesSent, s.BytesReceived} {
		if n < 0 {
			return errors.New("negative count")
		}
	}
	if err := validCounts(s.StatusClasses); err != nil {
		return err
	}
	for _, m := range []map[int]int64{s.Statuses, s.FailedStatuses} {
		for k, v := range m {
			if v < 0 || k < 0 || k > 999 {
				return fmt.Errorf("bad status count %d: %d", k, v)
			}
		}
	}
	for k, o := range s.Outcomes {
		if o == nil {
			return fmt.Errorf("outcome %q is null", k)
		}
		if o.Completed < 0 {
			return fmt.Errorf("outcome %q: negative count", k)
		}
		if err := validCounts(o.Failed); err != nil {
			return fmt.Errorf("outcome %q: %w", k, err)
		}
		if err := validCounts(o.NotSent); err != nil {
			return fmt.Errorf("outcome %q: %w", k, err)
		}
	}
	if s.Shapes != nil {
		if err := s.Shapes.validate(); err != nil {
			return err
		}
	}
	if w := s.WS; w != nil {
		for _, n := range []int64{w.Connects, w.Sessions, w.MsgsSent, w.MsgsReceived, w.MsgsRecorded, w.Sends} {
			if n < 0 {
				return errors.New("ws: negative count")
			}
		}
	}
	labels := map[string]bool{}
	for _, l := range s.ByLabel {
		if l == nil || l.Label == "" {
			return errors.New("by_label entry without a label")
		}
		if labels[l.Label] {
			return fmt.Errorf("label %q twice", l.Label)
		}
		labels[l.Label] = true
		if len(l.ByLabel) > 0 {
			return fmt.Errorf("label %q has labels of its own", l.Label)
		}
		if err := validStats(l); err != nil {
			return fmt.Errorf("label %q: %w", l.Label, err)
		}
	}
	sort.Slice(s.ByLabel, func(i, j int) bool { return s.ByLabel[i].Label < s.ByLabel[j].Label })
	return nil
}

func validCounts(m map[string]int64) error {
	for k, v := range m {
		if v < 0 {
			return fmt.Errorf("negative count for %q", k)
		}
	}
	return nil
}
