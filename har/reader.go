package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// DefaultMaxEntry is the largest entry, in bytes of JSON, that a Reader
// decodes by default. A larger entry is skipped and reported.
const DefaultMaxEntry = 256 << 20

// ErrNotHAR reports input that is not a HAR file at all (not JSON, or
// JSON without a "log" object holding "entries").
var ErrNotHAR = errors.New("not a HAR file")

// ErrTruncated reports a file that ends before its JSON does (a browser
// or proxy stopped while saving it).
var ErrTruncated = errors.New("cut short")

// ErrVersion reports a HAR version this package does not read.
var ErrVersion = errors.New("unsupported HAR version")

// EntryError reports one entry that could not be decoded or used. The
// Reader goes on with the next entry after returning it.
type EntryError struct {
	// Index is the entry's position in log.entries, from 0.
	Index int
	// URL is the entry's request URL when it could be read.
	URL string
	// Reason says what is wrong.
	Reason string
}

// Error reads "entry N (URL): reason".
func (e *EntryError) Error() string {
	if e.URL != "" {
		return fmt.Sprintf("entry %d (%s): %s", e.Index, e.URL, e.Reason)
	}
	return fmt.Sprintf("entry %d: %s", e.Index, e.Reason)
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader) error

// WithMaxEntry sets the largest entry (bytes of JSON) the Reader decodes;
// larger entries come back as an *EntryError and are skipped without
// being held in memory.
func WithMaxEntry(n int) ReaderOption {
	return func(r *Reader) error {
		if n < 1024 {
			return fmt.Errorf("har: max entry size %d below 1 KiB", n)
		}
		r.maxEntry = n
		return nil
	}
}

// Reader streams the entries of a HAR file. It walks the JSON structure
// down to log.entries and decodes one entry at a time, so memory holds one
// entry, not the file. A UTF-8 byte order mark is skipped and UTF-16 (with
// a byte order mark) is converted.
type Reader struct {
	s        scanner
	maxEntry int
	log      Log
	state    int
	index    int
	buf      []byte
	err      error
}

const (
	stEntries = iota // inside log.entries, before the first entry
	stNext           // inside log.entries, after an entry
	stDone           // entries finished
)

// NewReader reads the start of a HAR file up to its first entry. It fails
// with an error wrapping ErrNotHAR or ErrVersion when the input is not a
// HAR file this package reads.
func NewReader(in io.Reader, opts ...ReaderOption) (*Reader, error) {
	r := &Reader{maxEntry: DefaultMaxEntry}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	r.s.r = newInputReader(in)
	c, err := r.s.peek()
	if err != nil {
		if errors.Is(err, errEOF) {
			return nil, fmt.Errorf("%w: the input is empty", ErrNotHAR)
		}
		return nil, err
	}
	if c != '{' {
		return nil, fmt.Errorf("%w: not JSON or not an object: starts with %s", ErrNotHAR, quoteByte(c))
	}
	r.s.consume()
	// Top level: find "log".
	found := false
	for !found {
		k, end, err := r.nextKey()
		if err != nil {
			return nil, err
		}
		if end {
			return nil, fmt.Errorf("%w: no \"log\" object", ErrNotHAR)
		}
		if k != "log" {
			if _, _, err := r.s.value(nil, 0); err != nil {
				return nil, r.structErr(err)
			}
			continue
		}
		if err := r.s.expect('{', `"log" to be an object`); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotHAR, err)
		}
		found = true
	}
	// Inside log: read metadata up to "entries".
	for {
		k, end, err := r.nextKey()
		if err != nil {
			return nil, err
		}
		if end {
			return nil, fmt.Errorf("%w: log has no \"entries\" array", ErrNotHAR)
		}
		if k == "entries" {
			c, err := r.s.peek()
			if err != nil {
				return nil, r.structErr(err)
			}
			if c == 'n' { // null: no entries
				if _, _, err := r.s.value(nil, 8); err != nil {
					return nil, r.structErr(err)
				}
				r.state = stDone
				if err := r.finishLog(); err != nil {
					return nil, err
				}
				return r, nil
			}
			if err := r.s.expect('[', `"entries" to be an array`); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNotHAR, err)
			}
			r.state = stEntries
			return r, nil
		}
		if err := r.logField(k); err != nil {
			return nil, err
		}
	}
}

// nextKey skips the commas between an object's members and returns the
// next member's key, or end at the object's closing brace (not consumed).
func (r *Reader) nextKey() (k string, end bool, err error) {
	for {
		c, err := r.s.peek()
		if err != nil {
			return "", false, r.structErr(err)
		}
		switch c {
		case ',':
			r.s.consume()
			continue
		case '}':
			return "", true, nil
		}
		k, err := r.s.key()
		if err != nil {
			return "", false, r.structErr(err)
		}
		return k, false, nil
	}
}

func (r *Reader) structErr(err error) error {
	if errors.Is(err, errEOF) {
		return fmt.Errorf("har: file ends early (%w?): %v", ErrTruncated, err)
	}
	return fmt.Errorf("har: %w", err)
}

// logField decodes one field of the log object other than entries.
func (r *Reader) logField(k string) error {
	raw, over, err := r.s.value(r.buf[:0], r.maxEntry)
	r.buf = raw[:0]
	if err != nil {
		return r.structErr(err)
	}
	if over {
		return fmt.Errorf("har: log field %q larger than %d bytes", k, r.maxEntry)
	}
	var target any
	switch k {
	case "version":
		target = &r.log.Version
	case "creator":
		target = &r.log.Creator
	case "browser":
		target = &r.log.Browser
	case "pages":
		target = &r.log.Pages
	case "comment":
		target = &r.log.Comment
	default:
		if strings.HasPrefix(k, "_") {
			if r.log.Custom == nil {
				r.log.Custom = Custom{}
			}
			r.log.Custom[k] = append(json.RawMessage(nil), raw...)
		}
		return nil
	}
	if err := json.Unmarshal(raw, target); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return fmt.Errorf("har: log.%s: %w", k, err)
		}
	}
	if k == "version" {
		return checkVersion(r.log.Version)
	}
	return nil
}

// checkVersion accepts HAR 1.x and a missing version.
func checkVersion(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	major, _, _ := strings.Cut(v, ".")
	if major == "1" {
		return nil
	}
	return fmt.Errorf("har: %w %q (this reader reads HAR 1.x: 1.1 and 1.2)", ErrVersion, v)
}

// finishLog reads what follows the entries array: the rest of the log
// object and of the top-level object.
func (r *Reader) finishLog() error {
	for {
		k, end, err := r.nextKey()
		if err != nil {
			return err
		}
		if end {
			r.s.consume()
			break
		}
		if err := r.logField(k); err != nil {
			return err
		}
	}
	for {
		_, end, err := r.nextKey()
		if err != nil {
			return err
		}
		if end {
			r.s.consume()
			return nil
		}
		if _, _, err := r.s.value(nil, 0); err != nil {
			return r.structErr(err)
		}
	}
}

// Log returns the log's metadata. Fields written after the entries (some
// producers put pages last) are filled in once Next has returned io.EOF.
func (r *Reader) Log() Log { return r.log }

// Index is the index in log.entries of the entry Next returns next.
func (r *Reader) Index() int { return r.index }

// Offset is the number of input bytes consumed so far.
func (r *Reader) Offset() int64 { return r.s.off }

// Next returns the next entry. It returns io.EOF after the last one. An
// *EntryError is about that entry alone: call Next again for the rest.
// Any other error is final (the file is cut short or not JSON).
func (r *Reader) Next() (*Entry, error) {
	raw, idx, err := r.NextRaw()
	if err != nil {
		return nil, err
	}
	e, eerr := DecodeEntry(raw)
	if eerr != nil {
		return nil, &EntryError{Index: idx, URL: peekURL(raw), Reason: eerr.Error()}
	}
	return e, nil
}

// NextRaw returns the raw JSON of the next entry and its index, without
// decoding it. Its bytes are valid until the next call.
func (r *Reader) NextRaw() ([]byte, int, error) {
	if r.err != nil {
		return nil, r.index, r.err
	}
	for {
		if r.state == stDone {
			r.err = io.EOF
			return nil, r.index, io.EOF
		}
		c, err := r.s.peek()
		if errors.Is(err, errEOF) {
			r.err = fmt.Errorf("har: entry %d: file ends inside log.entries (%w?)", r.index, ErrTruncated)
			return nil, r.index, r.err
		}
		if err != nil {
			r.err = fmt.Errorf("har: entry %d: %w", r.index, err)
			return nil, r.index, r.err
		}
		if c == ']' {
			r.s.consume()
			r.state = stDone
			if err := r.finishLog(); err != nil {
				r.err = err
				return nil, r.index, err
			}
			continue
		}
		if r.state == stNext {
			if c != ',' {
				r.err = fmt.Errorf("har: entry %d: byte %d: expected ',' or ']' after entry, found %s", r.index, r.s.off, quoteByte(c))
				return nil, r.index, r.err
			}
			r.s.consume()
			r.state = stEntries
			continue
		}
		raw, over, err := r.s.value(r.buf[:0], r.maxEntry)
		r.buf = raw[:0]
		idx := r.index
		if err != nil {
			if errors.Is(err, errEOF) {
				r.err = fmt.Errorf("har: entry %d: file ends inside the entry (%w?)", idx, ErrTruncated)
			} else {
				r.err = fmt.Errorf("har: entry %d: %w", idx, err)
			}
			return nil, idx, r.err
		}
		r.index++
		r.state = stNext
		if over {
			return nil, idx, &EntryError{Index: idx, URL: peekURL(raw),
				Reason: fmt.Sprintf("entry is larger than %d bytes of JSON (raise the entry size limit to import it)", r.maxEntry)}
		}
		return raw, idx, nil
	}
}

// knownEntryFields are decoded into Entry's fields, not kept in Custom.
var knownEntryFields = map[string]bool{
	"_resourceType": true, "_initiator": true, "_priority": true,
	"_webSocketMessages": true, "_webSocketClose": true, "_reprise": true,
}

// DecodeEntry decodes one entry's JSON. Values of the wrong type are left
// at their zero value (numbers also accept numeric strings); an error
// means the bytes are not a JSON object.
func DecodeEntry(raw []byte) (*Entry, error) {
	i := skipSpaceAt(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, errors.New("entry is not a JSON object")
	}
	e := new(Entry)
	if err := json.Unmarshal(raw, e); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
	}
	objectFields(raw, func(k string, v []byte) {
		if len(k) > 1 && k[0] == '_' && !knownEntryFields[k] {
			if e.Custom == nil {
				e.Custom = Custom{}
			}
			e.Custom[strings.ToValidUTF8(k, "\uFFFD")] = compactRaw(v)
		}
	})
	return e, nil
}

// compactRaw returns a compact copy of a raw JSON value, bytes that are
// not UTF-8 replaced (JSON text is UTF-8).
func compactRaw(v []byte) json.RawMessage {
	out := appendCompact(make([]byte, 0, len(v)), v)
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return json.RawMessage(out)
}

// appendCompact appends v without insignificant space.
func appendCompact(dst, v []byte) []byte {
	inStr, esc := false, false
	for _, c := range v {
		if inStr {
			dst = append(dst, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if isSpace(c) {
			continue
		}
		if c == '"' {
			inStr = true
		}
		dst = append(dst, c)
	}
	return dst
}

// peekURL extracts request.url from an entry's JSON for error messages.
func peekURL(raw []byte) string {
	var p struct {
		Request struct {
			URL string `json:"url"`
		} `json:"request"`
	}
	if json.Unmarshal(raw, &p) != nil && p.Request.URL == "" {
		return ""
	}
	return p.Request.URL
}
