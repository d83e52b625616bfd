package redact

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/jsonshape"
)

var (
	errJSONSyntax = errors.New("json syntax error")
	errJSONEOF    = errors.New("json input ends early")
)

// maxJSONDepth bounds object and array nesting; deeper documents are
// handled by the lenient scanner instead.
const maxJSONDepth = 512

// maxEmbedded bounds how many levels of JSON carried inside JSON strings
// are opened.
const maxEmbedded = 3

// jsonWalker copies a JSON document byte by byte, replacing the values of
// keys that match a rule. Everything it does not replace is copied as is,
// so key order, spacing and number spelling survive.
type jsonWalker struct {
	r       *Redactor
	in      []byte
	pos     int
	out     []byte
	path    [][]byte
	depth   int
	embed   int
	changed bool
	found   *found
}

// JSON redacts a JSON document (or a sequence of whitespace-separated
// documents, as in NDJSON). A document cut short, as a truncated body is,
// is redacted up to where it ends. Input that is not JSON is handled by a
// lenient scanner that replaces the values of matching "key": value pairs
// wherever they appear (matching JSON rules by their last key only, which
// redacts more, never less). It reports whether anything changed.
func (r *Redactor) JSON(in []byte) ([]byte, bool) {
	return r.json(in, 0, nil)
}

// json is JSON adding the secrets it replaces to f.
func (r *Redactor) json(in []byte, embed int, f *found) ([]byte, bool) {
	if len(r.jsonRules) == 0 {
		return in, false
	}
	w := jsonWalker{r: r, in: in, out: make([]byte, 0, len(in)+len(in)/16), embed: embed, found: f}
	err := w.document()
	switch {
	case err == nil || errors.Is(err, errJSONEOF):
		if !w.changed {
			return in, false
		}
		// A document cut short keeps only the bytes copied so far, which is
		// all of the input (the walker copies as it reads) except for a
		// redacted tail.
		return w.out, true
	default:
		return r.lenient(in, embed, f)
	}
}

func (w *jsonWalker) document() error {
	w.ws()
	if w.pos >= len(w.in) {
		return nil
	}
	for w.pos < len(w.in) {
		if err := w.value(false); err != nil {
			return err
		}
		w.ws()
	}
	return nil
}

func (w *jsonWalker) ws() {
	start := w.pos
	for w.pos < len(w.in) {
		switch w.in[w.pos] {
		case ' ', '\t', '\r', '\n':
			w.pos++
			continue
		}
		break
	}
	w.out = append(w.out, w.in[start:w.pos]...)
}

func (w *jsonWalker) matches() bool {
	if w.r.exactKey(w.path[len(w.path)-1]) {
		return true
	}
	for i := range w.r.jsonPathRules {
		if w.r.jsonPathRules[i].matchPath(w.path) {
			return true
		}
	}
	return false
}

func (w *jsonWalker) value(match bool) error {
	if w.pos >= len(w.in) {
		return errJSONEOF
	}
	c := w.in[w.pos]
	if match && c != 'n' {
		start := w.pos
		err := w.skip()
		if err != nil && !errors.Is(err, errJSONEOF) {
			return err
		}
		raw := w.in[start:w.pos]
		secret := raw
		if c == '"' && err == nil {
			if s, ok := unquote(raw); ok {
				secret = []byte(s)
			}
		}
		w.out = append(w.out, '"')
		w.out = append(w.out, w.r.hide(w.found, secret)...)
		w.out = append(w.out, '"')
		w.changed = true
		return err
	}
	switch c {
	case '{':
		return w.object()
	case '[':
		return w.array()
	case '"':
		return w.str()
	}
	start := w.pos
	err := w.literal()
	if err == nil || errors.Is(err, errJSONEOF) {
		w.out = append(w.out, w.in[start:w.pos]...)
	}
	return err
}

// open copies the opening byte of an object or array and reports
// whether close follows at once (an empty one, copied too).
func (w *jsonWalker) open(close byte) (empty bool, err error) {
	if w.depth >= maxJSONDepth {
		return false, errJSONSyntax
	}
	w.out = append(w.out, w.in[w.pos])
	w.pos++
	w.ws()
	if w.pos < len(w.in) && w.in[w.pos] == close {
		w.out = append(w.out, close)
		w.pos++
		return true, nil
	}
	return false, nil
}

// next copies what follows a member or element: a comma (more to come)
// or close (done).
func (w *jsonWalker) next(close byte) (done bool, err error) {
	w.ws()
	if w.pos >= len(w.in) {
		return false, errJSONEOF
	}
	switch c := w.in[w.pos]; c {
	case ',', close:
		w.out = append(w.out, c)
		w.pos++
		return c == close, nil
	}
	return false, errJSONSyntax
}

func (w *jsonWalker) object() error {
	if empty, err := w.open('}'); empty || err != nil {
		return err
	}
	w.depth++
	defer func() { w.depth-- }()
	for {
		w.ws()
		if w.pos >= len(w.in) {
			return errJSONEOF
		}
		if w.in[w.pos] != '"' {
			return errJSONSyntax
		}
		kstart := w.pos
		err := w.skipString()
		w.out = append(w.out, w.in[kstart:w.pos]...)
		if err != nil {
			return err
		}
		key := w.in[kstart+1 : w.pos-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			k, ok := unquote(w.in[kstart:w.pos])
			if !ok {
				return errJSONSyntax
			}
			key = []byte(k)
		}
		w.ws()
		if w.pos >= len(w.in) {
			return errJSONEOF
		}
		if w.in[w.pos] != ':' {
			return errJSONSyntax
		}
		w.out = append(w.out, ':')
		w.pos++
		w.ws()
		w.path = append(w.path, key)
		err = w.value(w.matches())
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		if done, err := w.next('}'); done || err != nil {
			return err
		}
	}
}

func (w *jsonWalker) array() error {
	if empty, err := w.open(']'); empty || err != nil {
		return err
	}
	w.depth++
	defer func() { w.depth-- }()
	for {
		w.ws()
		if err := w.value(false); err != nil {
			return err
		}
		if done, err := w.next(']'); done || err != nil {
			return err
		}
	}
}

// str copies a string value; a string that itself holds a JSON document
// (a common way to nest payloads) is redacted inside.
func (w *jsonWalker) str() error {
	start := w.pos
	err := w.skipString()
	raw := w.in[start:w.pos]
	if err == nil && w.embed < maxEmbedded && len(raw) > 3 && (raw[1] == '{' || raw[1] == '[') {
		if s, ok := unquote(raw); ok {
			if red, changed := w.r.json([]byte(s), w.embed+1, w.found); changed {
				w.out = appendQuoted(w.out, red)
				w.changed = true
				return nil
			}
		}
	}
	w.out = append(w.out, raw...)
	return err
}

// skipString advances past a string starting at w.pos.
func (w *jsonWalker) skipString() error {
	end, err := scanString(w.in, w.pos)
	w.pos = end
	return err
}

// scanString returns the index just past the string that starts with the
// quote at in[i]. At end of input it returns len(in) and errJSONEOF.
func scanString(in []byte, i int) (int, error) {
	i++
	for i < len(in) {
		switch c := in[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i += 2
		case c < 0x20:
			return i, errJSONSyntax
		default:
			i++
		}
	}
	return len(in), errJSONEOF
}

func isLiteralByte(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	}
	return c == '-' || c == '+' || c == '.'
}

// literal advances past a number, true, false or null.
func (w *jsonWalker) literal() error {
	c := w.in[w.pos]
	if !(c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
		return errJSONSyntax
	}
	start := w.pos
	for w.pos < len(w.in) && isLiteralByte(w.in[w.pos]) {
		w.pos++
	}
	lit := w.in[start:w.pos]
	switch string(lit) {
	case "true", "false", "null":
		return nil
	}
	if c >= 'a' {
		if w.pos == len(w.in) && len(lit) < 5 && (startsWith("true", lit) || startsWith("false", lit) || startsWith("null", lit)) {
			return errJSONEOF
		}
		return errJSONSyntax
	}
	if !validNumber(lit) {
		if w.pos == len(w.in) {
			return errJSONEOF
		}
		return errJSONSyntax
	}
	return nil
}

// validNumber reports whether b is a JSON number (RFC 8259 section 6).
func validNumber(b []byte) bool { return jsonshape.NumberLen(b) == len(b) }

func startsWith(s string, prefix []byte) bool {
	return len(s) >= len(prefix) && s[:len(prefix)] == string(prefix)
}

// skip advances past any value without copying it.
func (w *jsonWalker) skip() error {
	c := w.in[w.pos]
	switch c {
	case '"':
		return w.skipString()
	case '{', '[':
		depth := 0
		for w.pos < len(w.in) {
			switch w.in[w.pos] {
			case '"':
				if err := w.skipString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					w.pos++
					return nil
				}
			}
			w.pos++
		}
		return errJSONEOF
	}
	return w.literal()
}

// unquote decodes a JSON string token, quotes included.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	simple := true
	for _, c := range body {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(body), true
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			if c < 0x20 {
				return "", false
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(body) {
			return "", false
		}
		switch e := body[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(body) {
				return "", false
			}
			v, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
			if err != nil {
				return "", false
			}
			r := rune(v)
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
				if v2, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16); err == nil && v2 >= 0xDC00 && v2 < 0xE000 {
					r = (r-0xD800)<<10 + (rune(v2) - 0xDC00) + 0x10000
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string, escaping only what JSON
// requires.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// lenient redacts "key": value pairs found anywhere in text that is not a
// well-formed JSON document (socket.io frames such as 42["ev",{...}], a
// JSON body cut inside a token, JavaScript). Keys match JSON rules by their
// last segment. Strings holding quoted text are searched inside too.
func (r *Redactor) lenient(in []byte, embed int, f *found) ([]byte, bool) {
	var out []byte
	copied := 0
	changed := false
	i := 0
	for i < len(in) {
		q := bytes.IndexByte(in[i:], '"')
		if q < 0 {
			break
		}
		q += i
		end, err := scanString(in, q)
		if err != nil && !errors.Is(err, errJSONEOF) {
			// A control byte inside a would-be string: not a string; go on
			// after the control byte (no quote lies before it).
			i = end + 1
			continue
		}
		k := end
		for k < len(in) && (in[k] == ' ' || in[k] == '\t' || in[k] == '\r' || in[k] == '\n') {
			k++
		}
		if err == nil && k < len(in) && in[k] == ':' {
			key, ok := unquote(in[q:end])
			if ok && r.matchKey(key) {
				k++
				for k < len(in) && (in[k] == ' ' || in[k] == '\t' || in[k] == '\r' || in[k] == '\n') {
					k++
				}
				vstart, vend := k, k
				if k < len(in) {
					switch c := in[k]; {
					case c == '"':
						vend, _ = scanString(in, k)
					case c != '{' && c != '[' && c != 'n' && isLiteralByte(c):
						for vend < len(in) && isLiteralByte(in[vend]) {
							vend++
						}
					}
				}
				if vend > vstart {
					secret := in[vstart:vend]
					if s, ok := unquote(secret); ok {
						secret = []byte(s)
					}
					out = append(out, in[copied:vstart]...)
					out = append(out, '"')
					out = append(out, r.hide(f, secret)...)
					out = append(out, '"')
					copied = vend
					changed = true
					i = vend
					continue
				}
			}
			i = end
			continue
		}
		if err == nil && embed < maxEmbedded && bytes.IndexByte(in[q+1:end-1], '\\') >= 0 {
			if s, ok := unquote(in[q:end]); ok && strings.IndexByte(s, '"') >= 0 {
				if red, ch := r.json([]byte(s), embed+1, f); ch {
					out = append(out, in[copied:q]...)
					out = appendQuoted(out, red)
					copied = end
					changed = true
				}
			}
		}
		i = end
	}
	if !changed {
		return in, false
	}
	return append(out, in[copied:]...), true
}

// matchKey reports whether a key matches the last segment of any JSON
// rule (the lenient scanner does not know paths).
func (r *Redactor) matchKey(key string) bool {
	if r.exactKey([]byte(key)) {
		return true
	}
	for i := range r.jsonRules {
		segs := r.jsonRules[i].segs
		if globFold(segs[len(segs)-1], key) {
			return true
		}
	}
	return false
}

// exactKey reports whether key equals (ignoring ASCII case) the pattern of
// a one-key JSON rule without wildcards. It does not allocate.
func (r *Redactor) exactKey(key []byte) bool {
	if len(key) < r.exactMin || len(key) > r.exactMax {
		return false
	}
	var buf [64]byte
	for i, c := range key {
		buf[i] = lowerASCII(c)
	}
	return r.jsonExact[string(buf[:len(key)])]
}
