package har

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner walks the structure of a JSON document byte by byte and cuts
// out whole values without decoding them, so the Reader can hand one
// entry at a time to encoding/json, skip an entry that is too large or
// malformed, and go on with the next one.
type scanner struct {
	r   *bufio.Reader
	off int64 // bytes consumed so far
}

// errEOF is returned when the input ends inside a value.
var errEOF = errors.New("unexpected end of file")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek returns the next non-space byte without consuming it.
func (s *scanner) peek() (byte, error) {
	for {
		b, err := s.r.Peek(1)
		if err != nil {
			if err == io.EOF {
				return 0, errEOF
			}
			return 0, err
		}
		if !isSpace(b[0]) {
			return b[0], nil
		}
		s.r.Discard(1)
		s.off++
	}
}

// consume discards one byte already seen by peek.
func (s *scanner) consume() {
	s.r.Discard(1)
	s.off++
}

// expect consumes c or fails.
func (s *scanner) expect(c byte, what string) error {
	b, err := s.peek()
	if err != nil {
		return fmt.Errorf("byte %d: %w (expected %s)", s.off, err, what)
	}
	if b != c {
		return fmt.Errorf("byte %d: expected %s, found %s", s.off, what, quoteByte(b))
	}
	s.consume()
	return nil
}

func quoteByte(b byte) string {
	if b >= 0x20 && b < 0x7f {
		return fmt.Sprintf("%q", rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

// key reads an object key and the colon after it.
func (s *scanner) key() (string, error) {
	c, err := s.peek()
	if err != nil {
		return "", fmt.Errorf("byte %d: %w (expected a key)", s.off, err)
	}
	if c != '"' {
		return "", fmt.Errorf("byte %d: expected a quoted key, found %s", s.off, quoteByte(c))
	}
	raw, over, err := s.value(nil, 1<<16)
	if err != nil {
		return "", err
	}
	if over {
		return "", fmt.Errorf("byte %d: key longer than 64 KiB", s.off)
	}
	k, err := unquote(raw)
	if err != nil {
		return "", fmt.Errorf("byte %d: bad key: %w", s.off, err)
	}
	if err := s.expect(':', "':' after key"); err != nil {
		return "", err
	}
	return k, nil
}

// value consumes one JSON value (after optional space) and appends its
// bytes to dst while they fit in limit bytes; over reports that the value
// was longer (dst then holds its first limit bytes and the rest was
// skipped). Only strings and nesting are checked: the bytes are left to
// encoding/json to validate.
func (s *scanner) value(dst []byte, limit int) (out []byte, over bool, err error) {
	c, err := s.peek()
	if err != nil {
		return dst, false, fmt.Errorf("byte %d: %w (expected a value)", s.off, err)
	}
	scalar := c != '{' && c != '[' && c != '"'
	if c == '}' || c == ']' || c == ',' || c == ':' {
		return dst, false, fmt.Errorf("byte %d: expected a value, found %s", s.off, quoteByte(c))
	}
	depth := 0
	inStr := false
	esc := false
	base := len(dst)
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if err == io.EOF {
					if scalar {
						return dst, over, nil
					}
					return dst, over, fmt.Errorf("byte %d: %w", s.off, errEOF)
				}
				return dst, over, err
			}
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		i := 0
		done := false
	loop:
		for i < len(chunk) {
			b := chunk[i]
			if inStr {
				if esc {
					esc = false
					i++
					continue
				}
				rest := chunk[i:]
				q := bytes.IndexByte(rest, '"')
				if q >= 0 {
					rest = rest[:q]
				}
				if k := bytes.IndexByte(rest, '\\'); k >= 0 {
					i += k + 1
					esc = true
					continue
				}
				if q < 0 {
					i = len(chunk)
					break
				}
				i += q
				inStr = false
				i++
				if depth == 0 {
					done = true
					break loop
				}
				continue
			}
			if scalar {
				if isSpace(b) || b == ',' || b == '}' || b == ']' || b == ':' {
					done = true
					break loop
				}
				i++
				continue
			}
			switch b {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					i++
					done = true
					break loop
				}
			}
			i++
		}
		if !over {
			room := limit - (len(dst) - base)
			if i <= room {
				dst = append(dst, chunk[:i]...)
			} else {
				dst = append(dst, chunk[:room]...)
				over = true
			}
		}
		s.r.Discard(i)
		s.off += int64(i)
		if done {
			return dst, over, nil
		}
	}
}

// newInputReader strips a UTF-8 byte order mark and converts UTF-16
// (recognised by its byte order mark) to UTF-8.
func newInputReader(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	b, _ := br.Peek(3)
	switch {
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		br.Discard(3)
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		br.Discard(2)
		return bufio.NewReaderSize(&utf16Reader{r: br, little: true}, 64<<10)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		br.Discard(2)
		return bufio.NewReaderSize(&utf16Reader{r: br}, 64<<10)
	}
	return br
}

// utf16Reader converts a UTF-16 stream to UTF-8.
type utf16Reader struct {
	r      *bufio.Reader
	little bool
	out    []byte
	err    error
}

func (u *utf16Reader) unit() (uint16, error) {
	var b [2]byte
	if _, err := io.ReadFull(u.r, b[:]); err != nil {
		return 0, err
	}
	if u.little {
		return uint16(b[0]) | uint16(b[1])<<8, nil
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) < len(p) && u.err == nil {
		c, err := u.unit()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			u.err = err
			break
		}
		r := rune(c)
		if utf16.IsSurrogate(r) {
			c2, err := u.unit()
			if err != nil {
				u.err = io.EOF
				r = utf8.RuneError
			} else {
				r = utf16.DecodeRune(r, rune(c2))
			}
		}
		u.out = utf8.AppendRune(u.out, r)
	}
	n := copy(p, u.out)
	u.out = u.out[:copy(u.out, u.out[n:])]
	if n == 0 && u.err != nil {
		return 0, u.err
	}
	return n, nil
}

// objectFields calls fn for each top-level field of a JSON object with
// its raw value. It assumes raw is valid JSON (encoding/json checked it).
func objectFields(raw []byte, fn func(key string, val []byte)) {
	i := skipSpaceAt(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpaceAt(raw, i)
		if i >= len(raw) || raw[i] == '}' {
			return
		}
		if raw[i] == ',' {
			i++
			continue
		}
		kEnd := endOfValue(raw, i)
		k, err := unquote(raw[i:kEnd])
		if err != nil {
			return
		}
		i = skipSpaceAt(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return
		}
		i = skipSpaceAt(raw, i+1)
		vEnd := endOfValue(raw, i)
		fn(k, raw[i:vEnd])
		i = vEnd
	}
}

func skipSpaceAt(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// endOfValue returns the index just past the JSON value starting at i.
func endOfValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = endOfValue(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j
}
