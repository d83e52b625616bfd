package har

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Writer writes a HAR file entry by entry: the log's metadata first, each
// entry as it comes (one per line), the pages last. Nothing but the
// current entry is held in memory.
type Writer struct {
	w      *bufio.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	n      int
	err    error
	closed bool
}

// NewWriter writes the head of a HAR file with log's metadata (its Pages
// are written by Close). An empty Version is written as "1.2".
func NewWriter(out io.Writer, log Log) (*Writer, error) {
	w := &Writer{w: bufio.NewWriterSize(out, 64<<10)}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	if log.Version == "" {
		log.Version = "1.2"
	}
	w.w.WriteString(`{"log":{"version":`)
	if err := w.value(log.Version); err != nil {
		return nil, err
	}
	w.w.WriteString(`,"creator":`)
	if err := w.value(log.Creator); err != nil {
		return nil, err
	}
	if log.Browser != nil {
		w.w.WriteString(`,"browser":`)
		if err := w.value(log.Browser); err != nil {
			return nil, err
		}
	}
	if log.Comment != "" {
		w.w.WriteString(`,"comment":`)
		if err := w.value(log.Comment); err != nil {
			return nil, err
		}
	}
	if err := w.custom(log.Custom); err != nil {
		return nil, err
	}
	w.w.WriteString(`,"entries":[`)
	return w, w.flushErr()
}

// value writes v as compact JSON without HTML escaping.
func (w *Writer) value(v any) error {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return fmt.Errorf("har: encode: %w", err)
	}
	w.w.Write(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n")))
	return nil
}

// custom writes ,"_k":raw for each custom field in key order.
func (w *Writer) custom(c Custom) error {
	for _, k := range c.Keys() {
		if len(k) < 2 || k[0] != '_' {
			return fmt.Errorf("har: custom field %q does not start with '_'", k)
		}
		if !json.Valid(c[k]) {
			return fmt.Errorf("har: custom field %q is not valid JSON", k)
		}
		w.w.WriteByte(',')
		if err := w.value(k); err != nil {
			return err
		}
		w.w.WriteByte(':')
		w.w.Write(appendCompact(nil, c[k]))
	}
	return nil
}

func (w *Writer) flushErr() error {
	if w.err != nil {
		return w.err
	}
	if w.w.Buffered() > 32<<10 {
		if err := w.w.Flush(); err != nil {
			w.err = fmt.Errorf("har: write: %w", err)
		}
	}
	return w.err
}

// WriteEntry writes one entry. Required arrays left nil are written as
// empty arrays and a missing cache as {}.
func (w *Writer) WriteEntry(e *Entry) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("har: write to closed writer")
	}
	c := *e
	if len(c.Cache) == 0 {
		c.Cache = json.RawMessage(`{}`)
	}
	c.Request = fillRequest(c.Request)
	c.Response = fillResponse(c.Response)
	if w.n > 0 {
		w.w.WriteByte(',')
	}
	w.w.WriteByte('\n')
	w.buf.Reset()
	if err := w.enc.Encode(&c); err != nil {
		w.err = fmt.Errorf("har: entry %d: %w", w.n, err)
		return w.err
	}
	b := bytes.TrimSuffix(w.buf.Bytes(), []byte("\n"))
	if len(c.Custom) > 0 {
		// Splice the custom fields in before the closing brace.
		w.w.Write(b[:len(b)-1])
		if err := w.custom(c.Custom); err != nil {
			w.err = fmt.Errorf("har: entry %d: %w", w.n, err)
			return w.err
		}
		w.w.WriteByte('}')
	} else {
		w.w.Write(b)
	}
	w.n++
	return w.flushErr()
}

func fillRequest(q Request) Request {
	if q.Cookies == nil {
		q.Cookies = []Cookie{}
	}
	if q.Headers == nil {
		q.Headers = []NameValue{}
	}
	if q.QueryString == nil {
		q.QueryString = []NameValue{}
	}
	if q.HeadersSize == "" {
		q.HeadersSize = "-1"
	}
	if q.BodySize == "" {
		q.BodySize = "-1"
	}
	return q
}

func fillResponse(p Response) Response {
	if p.Cookies == nil {
		p.Cookies = []Cookie{}
	}
	if p.Headers == nil {
		p.Headers = []NameValue{}
	}
	if p.Status == "" {
		p.Status = "0"
	}
	if p.HeadersSize == "" {
		p.HeadersSize = "-1"
	}
	if p.BodySize == "" {
		p.BodySize = "-1"
	}
	if p.Content.Size == "" {
		p.Content.Size = "0"
	}
	return p
}

// Entries is the number of entries written.
func (w *Writer) Entries() int { return w.n }

// Close ends the entries, writes pages and flushes. It does not close the
// underlying writer.
func (w *Writer) Close(pages []Page) error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	w.w.WriteString("\n]")
	if len(pages) > 0 {
		w.w.WriteString(`,"pages":`)
		if err := w.value(pages); err != nil {
			w.err = err
			return err
		}
	}
	w.w.WriteString("}}\n")
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("har: write: %w", err)
	}
	return w.err
}
