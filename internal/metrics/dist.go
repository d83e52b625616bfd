package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: values in microseconds from 1 µs to 1 h, three
// significant digits. Every Dist has this geometry, so merges are exact.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histSigFigs = 3
)

// maxHistEncoded bounds one encoded histogram in a results document.
const maxHistEncoded = 1 << 20

// denseAt is the number of populated buckets at which a Dist moves from
// the sparse histogram to the dense one (188 KiB, constant-time records):
// early, so a long run reaches its memory within its first minute.
const denseAt = 128

// Dist is a distribution of durations: an HDR histogram, sparse while it
// holds few distinct buckets (an endpoint seldom hit costs a few KiB) and
// dense once it holds many (constant-time records on busy endpoints).
// Values are kept in microseconds to three significant digits; a value
// above one hour is recorded as one hour and counted in Clamped. A Dist is
// not safe for concurrent use.
type Dist struct {
	p       *hdr.PackedHistogram // nil once dense
	d       *hdr.Histogram
	sparse  bool // never densify (many small distributions: one a second)
	clamped int64
	enc     string // cached encoding, valid while encOK
	encOK   bool
}

// NewDist returns an empty Dist.
func NewDist() *Dist {
	return &Dist{p: hdr.NewPacked(histLowest, histHighest, histSigFigs)}
}

// NewSparseDist returns an empty Dist that stays sparse however many
// values it holds: its memory follows the buckets it uses (a few KiB),
// never the dense histogram's 188 KiB, at the price of slower records.
// The time series keeps one a second.
func NewSparseDist() *Dist {
	d := NewDist()
	d.sparse = true
	return d
}

func (d *Dist) densify() {
	h := hdr.New(histLowest, histHighest, histSigFigs)
	d.p.MergeInto(h)
	d.d, d.p = h, nil
}

// Record adds one duration (negative durations count as zero).
func (d *Dist) Record(v time.Duration) {
	us := int64(v / time.Microsecond)
	if us < 0 {
		us = 0
	}
	if us > histHighest {
		us = histHighest
		d.clamped++
	}
	d.encOK = false
	// cannot fail: the value is in range and the count is one
	if d.d != nil {
		_ = d.d.RecordValue(us)
		return
	}
	_ = d.p.RecordValue(us)
	if !d.sparse && d.p.Populated() > denseAt {
		d.densify()
	}
}

// Merge adds every value of o to d, exactly.
func (d *Dist) Merge(o *Dist) {
	if o == nil {
		return
	}
	d.encOK = false
	d.clamped += o.clamped
	switch {
	case d.d != nil && o.d != nil:
		d.d.Merge(o.d)
	case d.d != nil:
		o.p.MergeInto(d.d)
	case o.d != nil:
		d.densify()
		d.d.Merge(o.d)
	default:
		d.p.Merge(o.p)
		if !d.sparse && d.p.Populated() > denseAt {
			d.densify()
		}
	}
}

// Clone returns an independent copy.
func (d *Dist) Clone() *Dist {
	c := &Dist{clamped: d.clamped, enc: d.enc, encOK: d.encOK, sparse: d.sparse}
	if d.d != nil {
		c.d = d.d.Clone()
	} else {
		c.p = d.p.Clone()
	}
	return c
}

// hist is what the dense and the packed histogram both answer.
type hist interface {
	TotalCount() int64
	Min() int64
	Max() int64
	Mean() float64
	ValueAtPercentile(float64) int64
	ValueAtPercentilesSlice([]float64) []int64
}

// h is the histogram d holds, dense or packed.
func (d *Dist) h() hist {
	if d.d != nil {
		return d.d
	}
	return d.p
}

// Count is the number of values recorded.
func (d *Dist) Count() int64 {
	if d == nil {
		return 0
	}
	return d.h().TotalCount()
}

// Clamped is the number of values above one hour, recorded as one hour.
func (d *Dist) Clamped() int64 { return d.clamped }

// Min is the smallest value (to histogram precision), zero when empty.
func (d *Dist) Min() time.Duration {
	if d.Count() == 0 {
		return 0
	}
	return us(d.h().Min())
}

// Max is the largest value (the upper end of its bucket), zero when empty.
func (d *Dist) Max() time.Duration {
	if d.Count() == 0 {
		return 0
	}
	return us(d.h().Max())
}

// Mean is the average, zero when empty.
func (d *Dist) Mean() time.Duration {
	if d.Count() == 0 {
		return 0
	}
	return time.Duration(d.h().Mean() * float64(time.Microsecond))
}

// Percentile returns the value at percentile p (0-100): the upper end of
// the bucket holding the value of rank p% (nearest rank), so at most 0.1%
// above the exact value and never below it. Zero when empty.
func (d *Dist) Percentile(p float64) time.Duration {
	if d.Count() == 0 {
		return 0
	}
	return us(d.h().ValueAtPercentile(p))
}

// Percentiles returns Percentile for each of ps, in one pass.
func (d *Dist) Percentiles(ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if d.Count() == 0 {
		return out
	}
	v := d.h().ValueAtPercentilesSlice(ps)
	for i := range v {
		out[i] = us(v[i])
	}
	return out
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// Encode returns the histogram in HdrHistogram's base64 V2 compressed
// encoding (what Histogram.Encode(V2CompressedEncodingCookieBase) writes),
// readable by any HdrHistogram implementation.
func (d *Dist) Encode() (string, error) {
	if d.encOK {
		return d.enc, nil
	}
	var e histEncoder
	return e.encode(d)
}

// DecodeDist decodes a histogram written by Encode. It must have reprise's
// geometry (1 µs to 1 h, 3 significant digits), so it merges exactly.
func DecodeDist(s string) (*Dist, error) {
	if len(s) > maxHistEncoded {
		return nil, fmt.Errorf("histogram of %d bytes is over the %d limit", len(s), maxHistEncoded)
	}
	if err := checkGeometry(s); err != nil {
		return nil, err
	}
	h, err := hdr.DecodePacked([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	d := &Dist{p: h}
	if h.Populated() > denseAt {
		d.densify()
	}
	return d, nil
}

// checkGeometry reads the header of an encoded histogram (inflating only
// its first 40 bytes) and refuses a geometry other than reprise's.
func checkGeometry(s string) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	if len(raw) < 8 {
		return errors.New("decode histogram: too short")
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8:]))
	if err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	defer z.Close()
	var h [40]byte
	if _, err := io.ReadFull(z, h[:]); err != nil {
		return fmt.Errorf("decode histogram header: %w", err)
	}
	sig := int32(binary.BigEndian.Uint32(h[12:]))
	low := int64(binary.BigEndian.Uint64(h[16:]))
	high := int64(binary.BigEndian.Uint64(h[24:]))
	if sig != histSigFigs || low != histLowest || high != histHighest {
		return fmt.Errorf("histogram geometry %d..%d with %d digits is not reprise's %d..%d µs with %d digits",
			low, high, sig, histLowest, histHighest, histSigFigs)
	}
	return nil
}

// distJSON is a Dist in a results document: summary values in
// milliseconds (derived, for people and jq) and the histogram (the truth).
type distJSON struct {
	Count   int64   `json:"count"`
	Min     float64 `json:"min_ms"`
	Mean    float64 `json:"mean_ms"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P95     float64 `json:"p95_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p99_9_ms"`
	Max     float64 `json:"max_ms"`
	Clamped int64   `json:"clamped,omitempty"`
	Hist    string  `json:"hist"`
}

// ms converts to milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// MarshalJSON writes the summary and the encoded histogram.
func (d *Dist) MarshalJSON() ([]byte, error) {
	enc, err := d.Encode()
	if err != nil {
		return nil, err
	}
	p := d.Percentiles(50, 90, 95, 99, 99.9)
	return json.Marshal(distJSON{
		Count: d.Count(), Min: ms(d.Min()), Mean: ms(d.Mean()),
		P50: ms(p[0]), P90: ms(p[1]), P95: ms(p[2]), P99: ms(p[3]), P999: ms(p[4]),
		Max: ms(d.Max()), Clamped: d.clamped, Hist: enc,
	})
}

// UnmarshalJSON reads the histogram; the summary values are derived from
// it, and a count that disagrees with the histogram is an error.
func (d *Dist) UnmarshalJSON(b []byte) error {
	var j distJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	nd, err := DecodeDist(j.Hist)
	if err != nil {
		return err
	}
	if nd.Count() != j.Count {
		return fmt.Errorf("histogram holds %d values but count says %d", nd.Count(), j.Count)
	}
	if j.Clamped < 0 || j.Clamped > j.Count {
		return fmt.Errorf("clamped %d out of range 0..%d", j.Clamped, j.Count)
	}
	nd.clamped = j.Clamped
	*d = *nd
	return nil
}

// Buckets calls fn for every populated bucket of the histogram in
// ascending order with the bucket's lowest value, its width (every value
// v recorded in it has lo <= v < lo+width, to the microsecond) and its
// count, until fn returns false. Buckets are the same in every Dist, so
// two distributions can be compared bucket by bucket (rank statistics
// with ties are exact at the histogram's precision).
func (d *Dist) Buckets(fn func(lo, width time.Duration, count int64) bool) {
	switch {
	case d.Count() == 0:
		return
	case d.d != nil:
		for idx, c := range d.d.Export().Counts {
			if c == 0 {
				continue
			}
			v := valueFromIndex(idx)
			if !fn(us(v), us(bucketWidth(v)), c) {
				return
			}
		}
	default:
		d.p.ForEachBucket(func(v, c int64) bool {
			if c == 0 {
				return true
			}
			return fn(us(v), us(bucketWidth(v)), c)
		})
	}
}
