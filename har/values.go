package har

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Number is a JSON number kept as the text the producer wrote, so that
// times with more digits than a float64 holds survive a round trip. On
// input it also accepts a numeric string ("200") and null; anything else
// reads as absent (""). An empty Number is written as null, or left out
// where the field is optional.
type Number string

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := unquote(b)
		if err != nil {
			*n = ""
			return nil
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if validNumber(b) {
		*n = Number(b)
	} else {
		*n = ""
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	if !validNumber([]byte(n)) {
		return nil, errors.New("har: invalid number " + strconv.Quote(string(n)))
	}
	return []byte(n), nil
}

// Float returns the number as a float64; ok is false when it is absent.
func (n Number) Float() (float64, bool) {
	if n == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

// Int returns the number truncated to an integer; ok is false when it is
// absent or out of range.
func (n Number) Int() (int64, bool) {
	if n == "" {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// Duration reads the number as a count of unit (time.Millisecond for
// timings, time.Second for WebSocket message times) and converts it to a
// Duration exactly, rounding below a nanosecond. ok is false when the
// number is absent or does not fit.
func (n Number) Duration(unit time.Duration) (time.Duration, bool) {
	v, ok := scaleDecimal(string(n), int64(unit))
	return time.Duration(v), ok
}

// Int returns n as a Number.
func Int(n int64) Number { return Number(strconv.FormatInt(n, 10)) }

// Millis returns d as a Number of milliseconds with every nanosecond kept.
func Millis(d time.Duration) Number { return Number(formatScaled(int64(d), 6)) }

// Seconds returns t as a Number of seconds since the Unix epoch with every
// nanosecond kept.
func Seconds(t time.Time) Number {
	s := t.Unix()
	ns := int64(t.Nanosecond())
	if s < 0 && ns > 0 {
		// Negative times: keep the decimal exact.
		return Number(formatScaled(s*1e9+ns, 9))
	}
	if ns == 0 {
		return Number(strconv.FormatInt(s, 10))
	}
	frac := strings.TrimRight(strconv.FormatInt(1e9+ns, 10)[1:], "0")
	return Number(strconv.FormatInt(s, 10) + "." + frac)
}

// formatScaled writes v / 10^digits as an exact decimal.
func formatScaled(v int64, digits int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	ip, fp := s[:len(s)-digits], strings.TrimRight(s[len(s)-digits:], "0")
	out := ip
	if fp != "" {
		out += "." + fp
	}
	if neg {
		out = "-" + out
	}
	return out
}

// scaleDecimal parses a JSON number and multiplies it by scale exactly,
// rounding half away from zero.
func scaleDecimal(s string, scale int64) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	i := 0
	if s[0] == '-' {
		neg = true
		i++
	}
	var mant uint64
	exp := 0
	digits := 0
	seenDigit := false
	const maxDigits = 19
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		seenDigit = true
		if digits < maxDigits {
			if mant != 0 || s[i] != '0' {
				digits++
			}
			mant = mant*10 + uint64(s[i]-'0')
		} else {
			exp++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			seenDigit = true
			if digits < maxDigits {
				if mant != 0 || s[i] != '0' {
					digits++
				}
				mant = mant*10 + uint64(s[i]-'0')
				exp--
			}
		}
	}
	if !seenDigit {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		e := 0
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) {
		return 0, false
	}
	// value = mant * 10^exp * scale
	for scale%10 == 0 && scale != 0 {
		scale /= 10
		exp++
	}
	v := mant
	if exp >= 0 {
		for ; exp > 0; exp-- {
			if v > math.MaxUint64/10 {
				return 0, false
			}
			v *= 10
		}
	} else {
		if exp < -40 {
			v = 0
		} else {
			var div uint64 = 1
			for ; exp < 0; exp++ {
				if div > math.MaxUint64/10 {
					v = 0
					div = 1
					break
				}
				div *= 10
			}
			q, r := v/div, v%div
			if r*2 >= div {
				q++
			}
			v = q
		}
	}
	if scale != 1 {
		if v > math.MaxUint64/uint64(scale) {
			return 0, false
		}
		v *= uint64(scale)
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// validNumber reports whether b is a JSON number.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}

// Text is a JSON string decoded byte for byte: bytes that are not valid
// UTF-8 (files written in Latin-1, say) are kept instead of being replaced
// with U+FFFD, so bodies keep their bytes. On input a number is kept as
// its text and null reads as empty.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*t = Text(s)
	case b[0] == '{' || b[0] == '[':
		// Some producers put JSON bodies unquoted: keep the raw text.
		*t = Text(b)
	default:
		*t = Text(b)
	}
	return nil
}

var errBadString = errors.New("invalid JSON string")

// unquote decodes a JSON string literal, keeping invalid UTF-8 bytes as
// they are. Lone surrogate escapes become U+FFFD.
func unquote(b []byte) (string, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", errBadString
	}
	b = b[1 : len(b)-1]
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			j := bytes.IndexByte(b[i:], '\\')
			if j < 0 {
				out = append(out, b[i:]...)
				break
			}
			out = append(out, b[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(b) {
			return "", errBadString
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", errBadString
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := hex4(b[min(i+2, len(b)):]); ok2 && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errBadString
		}
	}
	return string(out), nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
