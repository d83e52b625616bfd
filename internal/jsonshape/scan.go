package jsonshape

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner writes the shape of a JSON document while it checks it, without
// decoding its values into Go ones: what encoding/json accepts it accepts,
// and it writes what write writes of the decoded value.
//
// It allocates nothing per value: shapes are written into out, used as a
// stack (the shape of a value is written after those of the values still
// open around it, and an object or array, once closed, puts its own shape
// in place of its members'), and the members of the objects and arrays
// still open are kept on the fields and parts stacks. Scanners are reused
// through a pool, so a scan usually allocates only its result, and not
// even that when the shape is one already interned.
type scanner struct {
	data []byte
	i    int
	// out holds the shapes being built.
	out []byte
	// fields holds the members of the objects open, innermost last.
	fields []field
	// parts holds the distinct element shapes of the arrays open (with no
	// key).
	parts []field
	// keys holds the keys that had to be unescaped.
	keys []byte
}

// field is a member of an object, its key as decoded and "key:shape" in
// out[from:to], or an element of an array, its shape in out[from:to]. It
// holds no pointer, so that the stacks cost the collector nothing.
type field struct {
	// pre is the first 8 bytes of the key, big-endian and zero-padded:
	// keys mostly differ there, and a comparison of pre orders them as
	// their bytes do when they differ.
	pre uint64
	// the key is data[kfrom:kto], or keys[^kfrom:kto] when kfrom < 0
	kfrom, kto int
	from, to   int
}

// prefix returns the pre of key k.
func prefix(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var p uint64
	for j, c := range k {
		p |= uint64(c) << (56 - 8*j)
	}
	return p
}

// keyOf returns the key of f.
func (s *scanner) keyOf(f *field) []byte {
	if f.kfrom >= 0 {
		return s.data[f.kfrom:f.kto]
	}
	return s.keys[^f.kfrom:f.kto]
}

// compareKeys orders fields by key.
func (s *scanner) compareKeys(a, b *field) int {
	if a.pre != b.pre {
		return cmp.Compare(a.pre, b.pre)
	}
	return bytes.Compare(s.keyOf(a), s.keyOf(b))
}

// sortFields sorts fields by key, then by place in the object.
func (s *scanner) sortFields(fields []field) {
	compare := func(a, b *field) int {
		if c := s.compareKeys(a, b); c != 0 {
			return c
		}
		return a.from - b.from
	}
	if len(fields) > 16 {
		slices.SortFunc(fields, func(a, b field) int { return compare(&a, &b) })
		return
	}
	// insertion sort, moving each field once
	for i := 1; i < len(fields); i++ {
		f := fields[i]
		j := i
		for ; j > 0 && compare(&f, &fields[j-1]) < 0; j-- {
			fields[j] = fields[j-1]
		}
		fields[j] = f
	}
}

// maxNesting is how deep encoding/json lets containers nest.
const maxNesting = 10000

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// maxPooled caps the scratch a pooled scanner keeps.
const maxPooled = 64 << 10

// shapeOf returns the shape of the value data starts with.
func shapeOf(data []byte) (string, bool) {
	s := scanners.Get().(*scanner)
	s.data, s.i = data, 0
	s.out, s.fields, s.parts, s.keys = s.out[:0], s.fields[:0], s.parts[:0], s.keys[:0]
	var shape string
	ok := s.value(0)
	if ok {
		shape = intern(s.out)
	}
	s.data = nil
	if cap(s.out) <= maxPooled && cap(s.keys) <= maxPooled && cap(s.fields) <= maxPooled/32 && cap(s.parts) <= maxPooled/32 {
		scanners.Put(s)
	}
	return shape, ok
}

func (s *scanner) ws() {
	d, i := s.data, s.i
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\t' || d[i] == '\r') {
		i++
	}
	s.i = i
}

// value reads one value at depth and writes its shape.
func (s *scanner) value(depth int) bool {
	s.ws()
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '{':
		if depth >= maxNesting {
			return false
		}
		if depth >= maxDepth {
			if !s.skipObject(depth) {
				return false
			}
			s.out = append(s.out, "{…}"...)
			return true
		}
		return s.object(depth)
	case '[':
		if depth >= maxNesting {
			return false
		}
		if depth >= maxDepth {
			if !s.skipArray(depth) {
				return false
			}
			s.out = append(s.out, "[…]"...)
			return true
		}
		return s.array(depth)
	}
	t := s.scalar()
	s.out = append(s.out, t...)
	return t != ""
}

// skip reads one value at depth, as value does, without its shape.
func (s *scanner) skip(depth int) bool {
	s.ws()
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '{':
		return depth < maxNesting && s.skipObject(depth)
	case '[':
		return depth < maxNesting && s.skipArray(depth)
	}
	return s.scalar() != ""
}

// scalar reads a string, number, boolean or null and returns its type,
// "" when there is none.
func (s *scanner) scalar() string {
	switch c := s.data[s.i]; {
	case c == '"':
		if _, ok := s.str(); ok {
			return "str"
		}
	case c == 't' && s.lit("true"), c == 'f' && s.lit("false"):
		return "bool"
	case c == 'n' && s.lit("null"):
		return "null"
	case (c == '-' || c >= '0' && c <= '9') && s.number():
		return "num"
	}
	return ""
}

func (s *scanner) lit(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number reads a JSON number (RFC 8259 grammar).
func (s *scanner) number() bool {
	n := NumberLen(s.data[s.i:])
	if n < 0 {
		return false
	}
	s.i += n
	return true
}

// NumberLen returns the length of the JSON number (RFC 8259 section 6)
// that d starts with, or -1 when d does not start with one.
func NumberLen(d []byte) int {
	i := 0
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return -1
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return -1
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	return i
}

// plainByte tells the string bytes that need no second look: printable
// ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string and returns whether its value differs from its bytes
// (it has escapes or non-ASCII bytes, which may be invalid UTF-8).
func (s *scanner) str() (odd, ok bool) {
	d, i := s.data, s.i+1
	for {
		for i < len(d) && plainByte[d[i]] {
			i++
		}
		if i >= len(d) {
			return false, false
		}
		switch c := d[i]; {
		case c == '"':
			s.i = i + 1
			return odd, true
		case c == '\\':
			odd = true
			i++
			if i >= len(d) {
				return false, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(d) {
					return false, false
				}
				for _, h := range d[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false, false
					}
				}
				i += 5
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		default: // c >= utf8.RuneSelf
			odd = true
			i++
		}
	}
}

// key reads a key and returns where its value is, as field says: the
// bytes of the document when they are the value, else the value
// unescaped into s.keys.
func (s *scanner) key() (from, to int, ok bool) {
	start := s.i
	odd, ok := s.str()
	if !ok {
		return 0, 0, false
	}
	raw := s.data[start+1 : s.i-1]
	if !odd || bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return start + 1, s.i - 1, true
	}
	from = len(s.keys)
	s.keys = appendUnquoted(s.keys, raw)
	return ^from, len(s.keys), true
}

// object reads an object below maxDepth and writes its shape.
func (s *scanner) object(depth int) bool {
	s.i++ // {
	start, base, keys := len(s.out), len(s.fields), len(s.keys)
	s.out = append(s.out, '{')
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		s.out = append(s.out, '}')
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return false
		}
		kfrom, kto, ok := s.key()
		if !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		if len(s.fields) > base {
			s.out = append(s.out, ',')
		}
		f := field{kfrom: kfrom, kto: kto, from: len(s.out)}
		k := s.keyOf(&f)
		f.pre = prefix(k)
		s.out = appendKey(s.out, k)
		s.out = append(s.out, ':')
		if !s.value(depth + 1) {
			return false
		}
		f.to = len(s.out)
		s.fields = append(s.fields, f)
		more, ok := s.next('}')
		if !ok {
			return false
		}
		if more {
			continue
		}
		break
	}
	fields := s.fields[base:]
	sorted := len(fields) <= maxKeys
	for j := 1; sorted && j < len(fields); j++ {
		sorted = s.compareKeys(&fields[j-1], &fields[j]) < 0
	}
	if sorted {
		// written in order, once each: the shape is there already
		s.out = append(s.out, '}')
	} else {
		// by key, and a key given twice keeps its last value, as
		// decoding does
		s.sortFields(fields)
		w := 0
		for j, f := range fields {
			if j+1 < len(fields) && f.pre == fields[j+1].pre && bytes.Equal(s.keyOf(&f), s.keyOf(&fields[j+1])) {
				continue
			}
			if w != j {
				fields[w] = f
			}
			w++
		}
		fields = fields[:w]
		s.compose(start, '{', '}', ',', fields, maxKeys)
	}
	s.fields = s.fields[:base]
	s.keys = s.keys[:keys]
	return true
}

// array reads an array below maxDepth and writes its shape: the distinct
// shapes of its first maxElements elements, sorted.
func (s *scanner) array(depth int) bool {
	s.i++ // [
	start, base := len(s.out), len(s.parts)
	s.out = append(s.out, '[')
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		s.out = append(s.out, ']')
		return true
	}
	for n := 0; ; n++ {
		if n < maxElements {
			mark := len(s.out)
			if len(s.parts) > base {
				s.out = append(s.out, '|')
			}
			from := len(s.out)
			if !s.value(depth + 1) {
				return false
			}
			e := s.out[from:]
			if slices.ContainsFunc(s.parts[base:], func(p field) bool { return bytes.Equal(s.out[p.from:p.to], e) }) {
				s.out = s.out[:mark]
			} else {
				s.parts = append(s.parts, field{from: from, to: len(s.out)})
			}
		} else if !s.skip(depth + 1) {
			return false
		}
		more, ok := s.next(']')
		if !ok {
			return false
		}
		if more {
			continue
		}
		break
	}
	parts := s.parts[base:]
	sorted := true
	for j := 1; sorted && j < len(parts); j++ {
		sorted = bytes.Compare(s.out[parts[j-1].from:parts[j-1].to], s.out[parts[j].from:parts[j].to]) < 0
	}
	if sorted {
		s.out = append(s.out, ']')
	} else {
		slices.SortFunc(parts, func(a, b field) int { return bytes.Compare(s.out[a.from:a.to], s.out[b.from:b.to]) })
		s.compose(start, '[', ']', '|', parts, maxElements)
	}
	s.parts = s.parts[:base]
	return true
}

// compose writes open, the first max members separated by sep (then ",…"
// when there are more), and close in place of the shapes written since
// start.
func (s *scanner) compose(start int, open, close, sep byte, members []field, max int) {
	n := 2 + len(",…")
	for _, m := range members {
		n += m.to - m.from + 1
	}
	s.out = slices.Grow(s.out, n)
	mark := len(s.out)
	s.out = append(s.out, open)
	for j, m := range members {
		if j == max {
			s.out = append(s.out, ",…"...)
			break
		}
		if j > 0 {
			s.out = append(s.out, sep)
		}
		s.out = append(s.out, s.out[m.from:m.to]...)
	}
	s.out = append(s.out, close)
	s.out = s.out[:start+copy(s.out[start:], s.out[mark:])]
}

// skipObject reads an object without its shape.
func (s *scanner) skipObject(depth int) bool {
	s.i++ // {
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return false
		}
		if _, ok := s.str(); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		if !s.skip(depth + 1) {
			return false
		}
		more, ok := s.next('}')
		if !ok {
			return false
		}
		if more {
			continue
		}
		return true
	}
}

// next reads what follows a member of an object or an element of an
// array: a comma (more follows) or the closing byte; ok is false for
// anything else.
func (s *scanner) next(closing byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.data) {
		return false, false
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return true, true
	case closing:
		s.i++
		return false, true
	}
	return false, false
}

// skipArray reads an array without its shape.
func (s *scanner) skipArray(depth int) bool {
	s.i++ // [
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.skip(depth + 1) {
			return false
		}
		more, ok := s.next(']')
		if !ok {
			return false
		}
		if more {
			continue
		}
		return true
	}
}

// appendKey appends a key as quoteKey writes it.
func appendKey(dst, k []byte) []byte {
	if len(k) == 0 {
		return append(dst, `""`...)
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return appendQuoted(dst, k)
		}
	}
	return append(dst, k...)
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s quoted as json.Marshal quotes a string: <, > and
// & escaped, invalid UTF-8 replaced, U+2028 and U+2029 escaped.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendUnquoted appends the value of the string whose bytes between the
// quotes are s, already checked by str, as encoding/json decodes it:
// invalid UTF-8 and lone surrogates replaced by U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:i+6])); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // " \ /
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// hex4 reads four hex digits, already checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Shapes are interned: the responses of an endpoint mostly have one
// shape, and a shape met again costs no allocation. The table is
// direct-mapped (a shape evicts the one in its slot), lock-free, and
// bounded: shapes longer than maxInterned are not kept, and none are
// added once internBudget bytes are held.
const (
	internSlots  = 2048 // a power of two
	maxInterned  = 4 << 10
	internBudget = 1 << 20
)

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSlots]atomic.Pointer[string]
	internBytes atomic.Int64
)

func intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(internSlots-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	if internBytes.Load()+int64(len(s)) <= internBudget {
		n := int64(len(s))
		if old := slot.Swap(&s); old != nil {
			n -= int64(len(*old))
		}
		internBytes.Add(n)
	}
	return s
}
