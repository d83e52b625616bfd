package corpus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// maxRecordSize bounds one encoded record (a 256 MiB body is the largest a
// recorder keeps), so a corrupt length cannot make the decoder allocate
// without bound.
const maxRecordSize = 1 << 28

// errShort reports a record whose fields run past its end.
var errShort = errors.New("record cut short")

// appendRecord appends r framed as kind, uvarint payload length, payload.
func appendRecord(dst []byte, r traffic.Record) ([]byte, error) {
	var e enc
	switch r.Kind {
	case traffic.KindHeader:
		if r.Header == nil {
			return dst, errors.New("header record without header")
		}
		e.header(r.Header)
	case traffic.KindExchange:
		if r.Exchange == nil {
			return dst, errors.New("exchange record without exchange")
		}
		e.exchange(r.Exchange)
	case traffic.KindWSOpen:
		if r.WSOpen == nil {
			return dst, errors.New("ws-open record without payload")
		}
		e.wsOpen(r.WSOpen)
	case traffic.KindWSMessage:
		if r.WSMessage == nil {
			return dst, errors.New("ws-message record without payload")
		}
		e.wsMessage(r.WSMessage)
	case traffic.KindWSClose:
		if r.WSClose == nil {
			return dst, errors.New("ws-close record without payload")
		}
		e.wsClose(r.WSClose)
	default:
		return dst, fmt.Errorf("unknown record kind %d", r.Kind)
	}
	if len(e.b) > maxRecordSize {
		return dst, fmt.Errorf("%s record of %d bytes exceeds the %d byte limit", r.Kind, len(e.b), maxRecordSize)
	}
	dst = append(dst, byte(r.Kind))
	dst = binary.AppendUvarint(dst, uint64(len(e.b)))
	return append(dst, e.b...), nil
}

// decodeRecord decodes one framed record from the front of b and returns
// the number of bytes it used. Byte slices in the record alias b.
func decodeRecord(b []byte) (traffic.Record, int, error) {
	if len(b) < 2 {
		return traffic.Record{}, 0, errShort
	}
	kind := traffic.Kind(b[0])
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > maxRecordSize || uint64(len(b)-1-w) < n {
		return traffic.Record{}, 0, fmt.Errorf("%s record: bad length", kind)
	}
	used := 1 + w + int(n)
	d := dec{b: b[1+w : used]}
	r := traffic.Record{Kind: kind}
	switch kind {
	case traffic.KindHeader:
		r.Header = d.header()
	case traffic.KindExchange:
		r.Exchange = new(traffic.Exchange)
		d.exchange(r.Exchange)
	case traffic.KindWSOpen:
		r.WSOpen = d.wsOpen()
	case traffic.KindWSMessage:
		r.WSMessage = d.wsMessage()
	case traffic.KindWSClose:
		r.WSClose = d.wsClose()
	default:
		return traffic.Record{}, used, fmt.Errorf("unknown record kind %d", kind)
	}
	if d.err != nil {
		return traffic.Record{}, used, fmt.Errorf("%s record: %w", kind, d.err)
	}
	// Bytes left in d.b belong to fields added by a later minor version:
	// ignoring them is what makes the format extensible.
	return r, used, nil
}

type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) dur(d time.Duration) {
	e.varint(int64(d))
}
func (e *enc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) bytes(p []byte) {
	e.uvarint(uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.varint(math.MinInt64)
		return
	}
	e.varint(t.UnixNano())
}
func (e *enc) fields(f traffic.Fields) {
	e.uvarint(uint64(len(f)))
	for _, h := range f {
		e.str(h.Name)
		e.str(h.Value)
	}
}
func (e *enc) strmap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.str(k)
		e.str(m[k])
	}
}
func (e *enc) body(b traffic.Body) {
	e.bytes(b.Data)
	e.varint(b.Size)
	e.bool(b.Truncated)
}

func (e *enc) header(h *traffic.Header) {
	e.uvarint(uint64(h.Version))
	e.time(h.Created)
	e.str(h.Source)
	e.str(h.Origin)
	e.time(h.ClockOrigin)
	e.uvarint(uint64(len(h.Redactions)))
	for _, s := range h.Redactions {
		e.str(s)
	}
	e.strmap(h.Meta)
}

func (e *enc) exchange(x *traffic.Exchange) {
	e.str(x.Flow)
	e.uvarint(x.ConnID)
	e.dur(x.Start)
	e.uvarint(uint64(x.Flags))
	e.str(x.Error)
	e.str(x.Client)
	e.str(x.Server)
	q := &x.Request
	e.str(q.Method)
	e.str(q.URL)
	e.str(q.Host)
	e.str(q.Scheme)
	e.str(q.Proto)
	e.fields(q.Header)
	e.body(q.Body)
	if p := x.Response; p != nil {
		e.bool(true)
		e.uvarint(uint64(p.Status))
		e.str(p.Reason)
		e.str(p.Proto)
		e.fields(p.Header)
		e.body(p.Body)
		e.uvarint(uint64(len(p.Interim)))
		for _, s := range p.Interim {
			e.uvarint(uint64(s))
		}
	} else {
		e.bool(false)
	}
	e.dur(x.Timing.Send)
	e.dur(x.Timing.Wait)
	e.dur(x.Timing.Receive)
	e.dur(x.Timing.Total)
	e.strmap(x.Notes)
}

func (e *enc) wsOpen(o *traffic.WSOpen) {
	e.str(o.Flow)
	e.uvarint(o.ConnID)
	e.dur(o.Start)
	e.str(o.Subprotocol)
	e.str(o.Extensions)
	var inner enc
	inner.exchange(&o.Upgrade)
	e.bytes(inner.b)
}

func (e *enc) wsMessage(m *traffic.WSMessage) {
	e.str(m.Flow)
	e.uvarint(m.ConnID)
	e.dur(m.Start)
	e.bool(m.FromClient)
	e.uvarint(uint64(m.Opcode))
	e.bytes(m.Payload)
	e.varint(m.Size)
	e.bool(m.Truncated)
	e.bool(m.Compressed)
	e.uvarint(uint64(m.Frames))
}

func (e *enc) wsClose(c *traffic.WSClose) {
	e.str(c.Flow)
	e.uvarint(c.ConnID)
	e.dur(c.Start)
	e.bool(c.FromClient)
	e.uvarint(uint64(c.Code))
	e.str(c.Reason)
	e.str(c.Error)
}

// dec reads fields in order; the first failure sticks in err and every
// later read returns a zero value.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) count(limit int) int {
	v := d.uvarint()
	// Every counted item takes at least one byte.
	if v > uint64(len(d.b)) || v > uint64(limit) {
		d.fail(fmt.Errorf("count %d out of range", v))
		return 0
	}
	return int(v)
}

func (d *dec) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	return int(v)
}

func (d *dec) dur() time.Duration { return time.Duration(d.varint()) }

func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	if n == 0 {
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail(fmt.Errorf("bad boolean %d", v))
		return false
	}
	return v == 1
}

func (d *dec) time() time.Time {
	v := d.varint()
	if v == math.MinInt64 || d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *dec) fields() traffic.Fields {
	n := d.count(1 << 20)
	if n == 0 {
		return nil
	}
	f := make(traffic.Fields, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		f = append(f, traffic.Field{Name: d.str(), Value: d.str()})
	}
	return f
}

func (d *dec) strmap() map[string]string {
	n := d.count(1 << 20)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *dec) body() traffic.Body {
	return traffic.Body{Data: d.bytes(), Size: d.varint(), Truncated: d.bool()}
}

func (d *dec) header() *traffic.Header {
	h := &traffic.Header{}
	h.Version = d.int()
	h.Created = d.time()
	h.Source = d.str()
	h.Origin = d.str()
	h.ClockOrigin = d.time()
	n := d.count(1 << 16)
	for i := 0; i < n && d.err == nil; i++ {
		h.Redactions = append(h.Redactions, d.str())
	}
	h.Meta = d.strmap()
	return h
}

func (d *dec) exchange(x *traffic.Exchange) {
	x.Flow = d.str()
	x.ConnID = d.uvarint()
	x.Start = d.dur()
	x.Flags = uint32(d.uvarint())
	x.Error = d.str()
	x.Client = d.str()
	x.Server = d.str()
	q := &x.Request
	q.Method = d.str()
	q.URL = d.str()
	q.Host = d.str()
	q.Scheme = d.str()
	q.Proto = d.str()
	q.Header = d.fields()
	q.Body = d.body()
	if d.bool() {
		p := &traffic.Response{}
		p.Status = d.int()
		p.Reason = d.str()
		p.Proto = d.str()
		p.Header = d.fields()
		p.Body = d.body()
		n := d.count(1 << 10)
		for i := 0; i < n && d.err == nil; i++ {
			p.Interim = append(p.Interim, d.int())
		}
		x.Response = p
	}
	x.Timing.Send = d.dur()
	x.Timing.Wait = d.dur()
	x.Timing.Receive = d.dur()
	x.Timing.Total = d.dur()
	x.Notes = d.strmap()
}

func (d *dec) wsOpen() *traffic.WSOpen {
	o := &traffic.WSOpen{}
	o.Flow = d.str()
	o.ConnID = d.uvarint()
	o.Start = d.dur()
	o.Subprotocol = d.str()
	o.Extensions = d.str()
	inner := dec{b: d.bytes()}
	if d.err == nil {
		inner.exchange(&o.Upgrade)
		if inner.err != nil {
			d.fail(fmt.Errorf("upgrade exchange: %w", inner.err))
		}
	}
	return o
}

func (d *dec) wsMessage() *traffic.WSMessage {
	m := &traffic.WSMessage{}
	m.Flow = d.str()
	m.ConnID = d.uvarint()
	m.Start = d.dur()
	m.FromClient = d.bool()
	m.Opcode = traffic.Opcode(d.uvarint())
	m.Payload = d.bytes()
	m.Size = d.varint()
	m.Truncated = d.bool()
	m.Compressed = d.bool()
	m.Frames = d.int()
	return m
}

func (d *dec) wsClose() *traffic.WSClose {
	c := &traffic.WSClose{}
	c.Flow = d.str()
	c.ConnID = d.uvarint()
	c.Start = d.dur()
	c.FromClient = d.bool()
	c.Code = d.int()
	c.Reason = d.str()
	c.Error = d.str()
	return c
}
