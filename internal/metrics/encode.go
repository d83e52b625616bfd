package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// HdrHistogram V2 encoding constants (see HdrHistogram's encoding spec).
const (
	v2EncodingCookie           = 0x1c849303 | 0x10
	v2CompressedEncodingCookie = 0x1c849304 | 0x10
	v2HeaderSize               = 40
	subBucketHalfCountMag      = 10 // 3 significant digits: 2048 sub-buckets
	subBucketHalfCount         = 1 << subBucketHalfCountMag
	subBucketMask              = 2*subBucketHalfCount - 1
)

// histEncoder writes the V2 compressed encoding, reusing one zlib writer
// across histograms (a fresh writer per histogram costs most of the time
// of writing a results document).
type histEncoder struct {
	zw    *zlib.Writer
	zbuf  bytes.Buffer
	inner []byte
}

// countsIndex is HdrHistogram's flat counts index of value v for reprise's
// geometry (unit magnitude 0, 2048 sub-buckets).
func countsIndex(v int64) int {
	bucket := 64 - bits.LeadingZeros64(uint64(v)|subBucketMask) - (subBucketHalfCountMag + 1)
	sub := int(v >> uint(bucket))
	return (bucket+1)<<subBucketHalfCountMag + sub - subBucketHalfCount
}

// appendZigZag appends v in HdrHistogram's ZigZag LEB128 (at most nine
// bytes, the ninth holding eight bits).
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u < 0x80 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}

func (e *histEncoder) encode(d *Dist) (string, error) {
	buf := e.inner[:0]
	buf = append(buf, make([]byte, v2HeaderSize)...)
	next := 0 // next counts index to write
	emit := func(idx int, count int64) {
		if gap := idx - next; gap == 1 {
			buf = appendZigZag(buf, 0)
		} else if gap > 1 {
			buf = appendZigZag(buf, -int64(gap))
		}
		buf = appendZigZag(buf, count)
		next = idx + 1
	}
	if d.d != nil {
		for idx, c := range d.d.Export().Counts {
			if c != 0 {
				emit(idx, c)
			}
		}
	} else {
		d.p.ForEachBucket(func(value, count int64) bool {
			emit(countsIndex(value), count)
			return true
		})
	}
	if next == 0 {
		buf = appendZigZag(buf, 0) // an empty histogram has one zero count
	}
	payload := len(buf) - v2HeaderSize
	binary.BigEndian.PutUint32(buf[0:], v2EncodingCookie)
	binary.BigEndian.PutUint32(buf[4:], uint32(payload))
	binary.BigEndian.PutUint32(buf[8:], 0) // normalizing index offset
	binary.BigEndian.PutUint32(buf[12:], histSigFigs)
	binary.BigEndian.PutUint64(buf[16:], uint64(histLowest))
	binary.BigEndian.PutUint64(buf[24:], uint64(histHighest))
	binary.BigEndian.PutUint64(buf[32:], math.Float64bits(1))
	e.inner = buf

	e.zbuf.Reset()
	e.zbuf.Write(make([]byte, 8))
	if e.zw == nil {
		e.zw = zlib.NewWriter(&e.zbuf)
	} else {
		e.zw.Reset(&e.zbuf)
	}
	if _, err := e.zw.Write(buf); err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	out := e.zbuf.Bytes()
	binary.BigEndian.PutUint32(out[0:], v2CompressedEncodingCookie)
	binary.BigEndian.PutUint32(out[4:], uint32(len(out)-8))
	return base64.StdEncoding.EncodeToString(out), nil
}

// encodeAll fills the encoding cache of every histogram of s with one
// encoder.
func (e *histEncoder) encodeAll(s *Snapshot) error {
	var err error
	visit := func(d *Dist) {
		if d == nil || d.encOK || err != nil {
			return
		}
		var enc string
		if enc, err = e.encode(d); err == nil {
			d.enc, d.encOK = enc, true
		}
	}
	var stats func(st *Stats)
	stats = func(st *Stats) {
		if st == nil {
			return
		}
		for _, d := range []*Dist{st.Latency, st.Service, st.Connecting, st.ScheduleLag,
			st.Blocked, st.TLSHandshaking, st.Sending, st.Waiting, st.Receiving} {
			visit(d)
		}
		if w := st.WS; w != nil {
			for _, d := range []*Dist{w.Connecting, w.SessionDuration, w.RoundTrip, w.Push} {
				visit(d)
			}
		}
		for _, l := range st.ByLabel {
			stats(l)
		}
	}
	stats(s.Overall)
	for _, ep := range s.Endpoints {
		stats(ep)
	}
	if s.Iterations != nil {
		visit(s.Iterations.Duration)
	}
	for i := range s.Series {
		visit(s.Series[i].Latency)
	}
	return err
}

// valueFromIndex is the lowest value of the bucket at counts index idx,
// the inverse of countsIndex.
func valueFromIndex(idx int) int64 {
	bucket := idx>>subBucketHalfCountMag - 1
	sub := idx&(subBucketHalfCount-1) + subBucketHalfCount
	if bucket < 0 {
		sub -= subBucketHalfCount
		bucket = 0
	}
	return int64(sub) << uint(bucket)
}

// bucketWidth is the width of the bucket holding value v: 1 below 2048
// µs, doubling with every power of two above.
func bucketWidth(v int64) int64 {
	bucket := 64 - bits.LeadingZeros64(uint64(v)|subBucketMask) - (subBucketHalfCountMag + 1)
	return 1 << uint(bucket)
}
