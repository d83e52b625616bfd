package coding

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Levels the encoders use: what servers commonly use for dynamic
// answers, fast rather than small.
const (
	gzipLevel      = 5
	zlibLevel      = 5
	brotliQuality  = 4
	brotliLGWin    = 20
	zstdWindowSize = 1 << 20
)

// Writer compresses what is written to it with one coding. Close ends
// the stream (it does not close the underlying writer) and returns the
// encoder to its pool: the Writer must not be used after Close.
type Writer struct {
	coding string
	enc    encoder
	err    error
}

// encoder is what every library's writer offers.
type encoder interface {
	io.WriteCloser
	Flush() error
}

var (
	gzipWriters   sync.Pool // *gzip.Writer
	zlibWriters   sync.Pool // *zlib.Writer
	brotliWriters sync.Pool // *brotli.Writer
	zstdWriters   sync.Pool // *zstd.Encoder
)

// NewWriter returns a Writer that writes data encoded with coding c (gzip,
// deflate as zlib, br, zstd; identity passes data through) to w. An
// unknown coding is an *Error of kind ErrUnsupported.
func NewWriter(c string, w io.Writer) (*Writer, error) {
	c = canonical(c)
	var enc encoder
	switch c {
	case Identity, "":
		enc = nopEncoder{w}
		c = Identity
	case Gzip:
		if zw, ok := gzipWriters.Get().(*gzip.Writer); ok {
			zw.Reset(w)
			enc = zw
		} else {
			zw, err := gzip.NewWriterLevel(w, gzipLevel)
			if err != nil {
				return nil, &Error{Coding: c, Kind: ErrUnsupported, Err: err}
			}
			enc = zw
		}
	case Deflate:
		if zw, ok := zlibWriters.Get().(*zlib.Writer); ok {
			zw.Reset(w)
			enc = zw
		} else {
			zw, err := zlib.NewWriterLevel(w, zlibLevel)
			if err != nil {
				return nil, &Error{Coding: c, Kind: ErrUnsupported, Err: err}
			}
			enc = zw
		}
	case Brotli:
		if bw, ok := brotliWriters.Get().(*brotli.Writer); ok {
			bw.Reset(w)
			enc = bw
		} else {
			enc = brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliLGWin})
		}
	case Zstd:
		if zw, ok := zstdWriters.Get().(*zstd.Encoder); ok {
			zw.Reset(w)
			enc = zw
		} else {
			// Concurrency 1: a synchronous encoder, no goroutines.
			zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindowSize), zstd.WithEncoderLevel(zstd.SpeedDefault))
			if err != nil {
				return nil, &Error{Coding: c, Kind: ErrUnsupported, Err: err}
			}
			enc = zw
		}
	default:
		return nil, &Error{Coding: c, Kind: ErrUnsupported}
	}
	return &Writer{coding: c, enc: enc}, nil
}

// Coding returns the coding the Writer applies.
func (w *Writer) Coding() string { return w.coding }

// Write compresses p.
func (w *Writer) Write(p []byte) (int, error) {
	if w.enc == nil {
		return 0, errors.New(w.coding + ": write after close")
	}
	n, err := w.enc.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Flush writes what is buffered so far as a complete block, so that a
// reader can decode it without the end of the stream.
func (w *Writer) Flush() error {
	if w.enc == nil {
		return nil
	}
	return w.enc.Flush()
}

// Close ends the stream and releases the encoder. It returns the first
// error of a Write or of ending the stream.
func (w *Writer) Close() error {
	if w.enc == nil {
		return w.err
	}
	err := w.enc.Close()
	if w.err == nil {
		w.err = err
	}
	switch e := w.enc.(type) {
	case *gzip.Writer:
		e.Reset(io.Discard)
		gzipWriters.Put(e)
	case *zlib.Writer:
		e.Reset(io.Discard)
		zlibWriters.Put(e)
	case *brotli.Writer:
		e.Reset(io.Discard)
		brotliWriters.Put(e)
	case *zstd.Encoder:
		e.Reset(nil)
		zstdWriters.Put(e)
	}
	w.enc = nil
	return w.err
}

type nopEncoder struct{ io.Writer }

func (nopEncoder) Flush() error { return nil }
func (nopEncoder) Close() error { return nil }

// Encode applies the codings named by ce, a Content-Encoding value, to
// data in order ("gzip, br": gzip first, then br). A value naming no
// coding returns data itself.
func Encode(ce string, data []byte) ([]byte, error) {
	return EncodeCodings(Parse(ce), data)
}

// EncodeCodings is Encode for codings already parsed (in applied order).
func EncodeCodings(codings []string, data []byte) ([]byte, error) {
	for _, c := range codings {
		if !Known(c) {
			return nil, &Error{Coding: c, Kind: ErrUnsupported}
		}
	}
	for _, c := range codings {
		if c == Identity {
			continue
		}
		var buf bytes.Buffer
		buf.Grow(len(data)/2 + 64)
		w, err := NewWriter(c, &buf)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			w.Close()
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		data = buf.Bytes()
	}
	return data, nil
}
