package corpus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
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
func decodeRecord(b []byte) (traffic.Record, int, error) { return decodeWith(b, nil) }

// decodeWith is decodeRecord with the state a Reader keeps from one record
// to the next (nil for none): the record decoded is the same either way.
func decodeWith(b []byte, st *decState) (traffic.Record, int, error) {
	if len(b) < 2 {
		return traffic.Record{}, 0, errShort
	}
	kind := traffic.Kind(b[0])
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > maxRecordSize || uint64(len(b)-1-w) < n {
		return traffic.Record{}, 0, fmt.Errorf("%s record: bad length", kind)
	}
	used := 1 + w + int(n)
	d := dec{b: b[1+w : used], st: st}
	r := traffic.Record{Kind: kind}
	switch kind {
	case traffic.KindHeader:
		r.Header = d.header()
	case traffic.KindExchange:
		// One allocation for the exchange and its response.
		xr := new(struct {
			x traffic.Exchange
			p traffic.Response
		})
		r.Exchange = &xr.x
		d.exchange(&xr.x, &xr.p)
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
	// Bytes left in d.b[d.i:] belong to fields added by a later minor
	// version: ignoring them is what makes the format extensible.
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

// Interning: a Reader keeps the strings it decoded last in a table and
// hands out the kept string when the same bytes come again. Header names,
// methods, hosts, flows, bearer tokens and most header values repeat from
// one record to the next, so most strings cost a hash and a compare instead
// of an allocation. The table is two-way set associative, indexed by a hash
// of the length and of bytes taken at the start, the middle and the end
// (cheap whatever the length; strings that differ elsewhere only share a
// set), the least recently used way of a set making room: strings that do
// not repeat (request ids, most URLs) pass through without pushing out the
// ones that do. It stays bounded: internSets*2 strings of at most
// maxInterned bytes.
const (
	internSets  = 2048
	maxInterned = 512
)

// decState is what a Reader's decoder keeps from one record to the next.
type decState struct {
	strs [internSets][2]string
	// lru says which way of a set was used least recently.
	lru [internSets]uint8
}

func newDecState() *decState { return new(decState) }

// internSet picks b's set in the intern table.
func internSet(b []byte) uint64 {
	const k0, k1 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	n := len(b)
	var x, y uint64
	switch {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b)
		y = binary.LittleEndian.Uint64(b[n-8:])
		if n > 16 {
			x ^= bits.RotateLeft64(binary.LittleEndian.Uint64(b[n/2-4:]), 29)
		}
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b))
		y = uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		x = uint64(b[0])<<16 | uint64(b[n/2])<<8 | uint64(b[n-1])
	}
	hi, lo := bits.Mul64(x^k0, y^k1^uint64(n))
	return (hi ^ lo) & (internSets - 1)
}

// intern returns string(b), the kept string when it has the same bytes.
func (st *decState) intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	i := internSet(b)
	set := &st.strs[i]
	if set[0] == string(b) {
		st.lru[i] = 1
		return set[0]
	}
	if set[1] == string(b) {
		st.lru[i] = 0
		return set[1]
	}
	s := string(b)
	w := st.lru[i] & 1
	set[w] = s
	st.lru[i] = w ^ 1
	return s
}

// dec reads fields in order from b[i:]; the first failure sticks in err,
// and moves i to the end so that every later read returns a zero value.
// Reading moves an index, not a slice: no pointer is written, so reading
// costs no write barrier while the GC runs.
type dec struct {
	b   []byte
	i   int
	err error
	st  *decState // nil: no interning
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.i = len(d.b)
}

// left is how many bytes are left to read.
func (d *dec) left() int { return len(d.b) - d.i }

func (d *dec) uvarint() uint64 {
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 {
		d.i++
		return uint64(d.b[i])
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.i += n
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.i += n
	return v
}

func (d *dec) count(limit int) int {
	v := d.uvarint()
	// Every counted item takes at least one byte.
	if v > uint64(d.left()) || v > uint64(limit) {
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
	// Fast path: a one-byte length (below 128) that fits.
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 && int(d.b[i]) < len(d.b)-i {
		start, end := i+1, i+1+int(d.b[i])
		d.i = end
		if start == end {
			return nil
		}
		return d.b[start:end:end]
	}
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left()) {
		d.fail(errShort)
		return nil
	}
	if n == 0 {
		return nil
	}
	start, end := d.i, d.i+int(n)
	d.i = end
	return d.b[start:end:end]
}

func (d *dec) str() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	if d.st == nil {
		return string(b)
	}
	return d.st.intern(b)
}

func (d *dec) bool() bool {
	if d.i >= len(d.b) {
		d.fail(errShort)
		return false
	}
	v := d.b[d.i]
	d.i++
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

// fieldCount reads the count of a header field list.
func (d *dec) fieldCount() int { return d.count(1 << 20) }

// fieldsInto reads the fields of a list whose count was read into f, which
// has that length.
func (d *dec) fieldsInto(f traffic.Fields) {
	for i := 0; i < len(f) && d.err == nil; i++ {
		f[i] = traffic.Field{Name: d.str(), Value: d.str()}
	}
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

// responseFields looks ahead, past the request's nq header fields and its
// body, for the count of the response's header fields: 0 when there is no
// response, or when the record is cut short (reading it fails anyway).
func (d *dec) responseFields(nq int) int {
	a := dec{b: d.b, i: d.i} // reads without interning or moving d
	for range 2 * nq {
		a.bytes()
	}
	a.body()
	if !a.bool() {
		return 0
	}
	a.int()
	a.bytes()
	a.bytes()
	n := a.fieldCount()
	if a.err != nil {
		return 0
	}
	return n
}

// exchange decodes into x, and into p (a new Response when nil) if the
// exchange has a response.
func (d *dec) exchange(x *traffic.Exchange, p *traffic.Response) {
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
	// The request's and the response's header fields share one slice of
	// the right size, each list capped at its own length.
	nq := d.fieldCount()
	np := 0
	var all traffic.Fields
	if d.err == nil {
		np = d.responseFields(nq)
		if nq+np > 0 {
			all = make(traffic.Fields, nq+np)
		}
	}
	if nq > 0 {
		q.Header = all[:nq:nq]
		d.fieldsInto(q.Header)
	}
	q.Body = d.body()
	if d.bool() {
		if p == nil {
			p = &traffic.Response{}
		}
		p.Status = d.int()
		p.Reason = d.str()
		p.Proto = d.str()
		if n := d.fieldCount(); n == np && n > 0 {
			p.Header = all[nq:]
		} else if n > 0 {
			p.Header = make(traffic.Fields, n)
		}
		d.fieldsInto(p.Header)
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
	inner := dec{b: d.bytes(), st: d.st}
	if d.err == nil {
		inner.exchange(&o.Upgrade, nil)
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
