package coding

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/traffic"
)

// DefaultMax is the decoded-size cap used when a caller passes a cap of
// zero or less.
const DefaultMax = 64 << 20

// maxZstdWindow is the largest zstd window accepted: RFC 9659 limits the
// "zstd" content coding to 8 MiB windows.
const maxZstdWindow = 8 << 20

// Result is a decoded body.
type Result struct {
	// Data is the decoded content. For a stream that ended early, or one
	// damaged part-way (with an ErrCorrupt error), it holds what decoded
	// before the end or the damage. For a body without coding it is the
	// input itself, not a copy.
	Data []byte
	// Codings are the codings undone, in the order they had been applied;
	// nil when the body was not coded.
	Codings []string
	// Complete is false when the input ended before its encoded stream did
	// (a body cut at a recorder's size cap) or, from Body, when the body is
	// marked Truncated.
	Complete bool
}

// Coding returns the Content-Encoding the body had, normalised ("gzip",
// "gzip, br"), or "" when it had none.
func (r Result) Coding() string { return Format(r.Codings) }

// Body decodes a recorded body by the Content-Encoding of its header (all
// of its lines, in order). max caps the decoded size (DefaultMax when 0 or
// less). A body marked Truncated gives an incomplete result.
func Body(header traffic.Fields, body traffic.Body, max int64) (Result, error) {
	res, err := DecodeCodings(Parse(header.Values("Content-Encoding")...), body.Data, max)
	if body.Truncated {
		res.Complete = false
	}
	return res, err
}

// Decode undoes the codings named by ce, a Content-Encoding value, on
// data. max caps the decoded size of every step (DefaultMax when 0 or
// less). A stream that ends early is not an error: Result.Data holds what
// decoded and Complete is false. Errors are *Error: ErrUnsupported (Data
// nil), ErrCorrupt (Data holds what decoded before the damage), ErrTooLarge
// (Data nil).
func Decode(ce string, data []byte, max int64) (Result, error) {
	return DecodeCodings(Parse(ce), data, max)
}

// DecodeCodings is Decode for codings already parsed (in applied order).
func DecodeCodings(codings []string, data []byte, max int64) (Result, error) {
	if max <= 0 {
		max = DefaultMax
	}
	res := Result{Data: data, Complete: true}
	if len(codings) == 0 {
		return res, nil
	}
	res.Codings = codings
	for _, c := range codings {
		if !Known(c) {
			res.Data, res.Complete = nil, false
			return res, &Error{Coding: c, Kind: ErrUnsupported}
		}
	}
	for i := len(codings) - 1; i >= 0; i-- {
		out, complete, err := decodeOne(codings[i], res.Data, max)
		res.Data = out
		if !complete || err != nil {
			res.Complete = false
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// decodeOne undoes one coding.
func decodeOne(c string, data []byte, max int64) ([]byte, bool, error) {
	if c == Identity {
		return data, true, nil
	}
	if len(data) == 0 {
		// A HEAD, 204 or 304 answer names a coding and has no body.
		return data, true, nil
	}
	switch c {
	case Gzip:
		return decodeGzip(data, max)
	case Deflate:
		if zlibHeader(data) {
			out, complete, err := decodeZlib(data, max)
			if !errors.Is(err, ErrCorrupt) || len(out) > 0 {
				return out, complete, err
			}
			// About one raw stream in 500 starts like a zlib header: it
			// fails as zlib at once, and reads as raw deflate to its end.
			if out2, complete2, rest, err2 := decodeFlate(data, max); err2 == nil && complete2 && rest == 0 {
				return out2, true, nil
			}
			return out, complete, err
		}
		out, complete, _, err := decodeFlate(data, max)
		return out, complete, err
	case Brotli:
		return decodeBrotli(data, max)
	case Zstd:
		return decodeZstd(data, max)
	}
	return nil, false, &Error{Coding: c, Kind: ErrUnsupported}
}

// zlibHeader reports whether data starts with a valid RFC 1950 header
// without a preset dictionary (which HTTP never uses).
func zlibHeader(data []byte) bool {
	if len(data) < 2 {
		return false
	}
	cmf, flg := data[0], data[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0 && flg&0x20 == 0
}

var (
	gzipReaders   sync.Pool // *gzip.Reader
	zlibReaders   sync.Pool // io.ReadCloser that is a zlib.Resetter
	flateReaders  sync.Pool // io.ReadCloser that is a flate.Resetter
	brotliReaders sync.Pool // *brotli.Reader
	zstdReaders   sync.Pool // *zstd.Decoder
)

func decodeGzip(data []byte, max int64) ([]byte, bool, error) {
	src := bytes.NewReader(data)
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(src)
	} else {
		err = zr.Reset(src)
	}
	if err != nil {
		if zr != nil {
			gzipReaders.Put(zr)
		}
		return classify(Gzip, nil, err, max)
	}
	zr.Multistream(true)
	out, err := readAll(zr, len(data), max)
	gzipReaders.Put(zr)
	return classify(Gzip, out, err, max)
}

func decodeZlib(data []byte, max int64) ([]byte, bool, error) {
	src := bytes.NewReader(data)
	zr, _ := zlibReaders.Get().(io.ReadCloser)
	var err error
	if zr == nil {
		zr, err = zlib.NewReader(src)
	} else {
		err = zr.(zlib.Resetter).Reset(src, nil)
	}
	if err != nil {
		if zr != nil {
			zlibReaders.Put(zr)
		}
		return classify(Deflate, nil, err, max)
	}
	out, err := readAll(zr, len(data), max)
	zlibReaders.Put(zr)
	return classify(Deflate, out, err, max)
}

// decodeFlate decodes raw deflate and says how many input bytes are left
// after the stream's end (the reader takes bytes one at a time from a
// bytes.Reader, so none are buffered past the end).
func decodeFlate(data []byte, max int64) ([]byte, bool, int, error) {
	src := bytes.NewReader(data)
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		out, complete, err := classify(Deflate, nil, err, max)
		return out, complete, src.Len(), err
	}
	out, err := readAll(fr, len(data), max)
	flateReaders.Put(fr)
	out, complete, err := classify(Deflate, out, err, max)
	return out, complete, src.Len(), err
}

func decodeBrotli(data []byte, max int64) ([]byte, bool, error) {
	src := bytes.NewReader(data)
	br, _ := brotliReaders.Get().(*brotli.Reader)
	if br == nil {
		br = brotli.NewReader(src)
	} else {
		br.Reset(src) // always nil
	}
	out, err := readAll(br, len(data), max)
	br.Reset(nil)
	brotliReaders.Put(br)
	return classify(Brotli, out, err, max)
}

func decodeZstd(data []byte, max int64) ([]byte, bool, error) {
	// A bytes.Reader, not a bytes.Buffer: the decoder decodes a Buffer in
	// one piece and then returns nothing of a cut stream.
	src := bytes.NewReader(data)
	zr, _ := zstdReaders.Get().(*zstd.Decoder)
	var err error
	if zr == nil {
		// Concurrency 1: a synchronous stream decoder, no goroutines.
		zr, err = zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
	} else {
		err = zr.Reset(src)
	}
	if err != nil {
		if zr != nil {
			zr.Close()
		}
		return classify(Zstd, nil, err, max)
	}
	out, err := readAll(zr, len(data), max)
	if zr.Reset(nil) == nil {
		zstdReaders.Put(zr)
	} else {
		zr.Close()
	}
	return classify(Zstd, out, err, max)
}

// readAll reads r to its end, at most max+1 bytes. n is the encoded size,
// a hint for the first allocation.
func readAll(r io.Reader, n int, max int64) ([]byte, error) {
	hint := int64(n)*4 + 512
	if hint > max+1 {
		hint = max + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint))
	_, err := buf.ReadFrom(io.LimitReader(r, max+1))
	return buf.Bytes(), err
}

// classify turns a decoder's result into the package's: a cut stream is
// incomplete, not an error; anything else that failed is corrupt.
func classify(c string, out []byte, err error, max int64) ([]byte, bool, error) {
	if int64(len(out)) > max {
		return nil, false, &Error{Coding: c, Kind: ErrTooLarge, Limit: max}
	}
	switch {
	case err == nil:
		return out, true, nil
	case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
		// The input ended inside the stream (io.EOF: inside its header).
		return out, false, nil
	case errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, false, &Error{Coding: c, Kind: ErrTooLarge, Err: err}
	}
	return out, false, &Error{Coding: c, Kind: ErrCorrupt, Err: err}
}
