package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// decode undoes a Content-Encoding. complete is false when the data ended
// before the encoded stream did (a body cut at the recorder's cap): the
// bytes decoded so far are returned. A decoded size over max is an error.
func decode(ce string, data []byte, max int64) (out []byte, complete bool, err error) {
	var rd io.Reader
	switch ce {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, false, err
		}
		zr.Multistream(true)
		rd = zr
	case "deflate":
		// RFC 9110 deflate is zlib-wrapped; some servers send raw deflate.
		if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
			rd = zr
		} else {
			rd = flate.NewReader(bytes.NewReader(data))
		}
	case "br":
		rd = brotli.NewReader(bytes.NewReader(data))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(max)))
		if err != nil {
			return nil, false, err
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, false, fmt.Errorf("unsupported content-encoding %q", ce)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rd, max+1))
	if n > max {
		return nil, false, fmt.Errorf("decoded body larger than %d bytes", max)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
			return buf.Bytes(), false, nil
		}
		if buf.Len() > 0 {
			// Corrupt after a readable start: search what was readable,
			// but say the stream is not whole.
			return buf.Bytes(), false, nil
		}
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// encode applies a Content-Encoding.
func encode(ce string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch ce {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return nil, fmt.Errorf("unsupported content-encoding %q", ce)
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
