package happyapi

import (
	"bufio"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/reprise/reprise/internal/coding"
)

// compressWriter compresses a response with the coding negotiated from
// the request's Accept-Encoding, as a real server's compression layer
// does: JSON and text answers only, never 1xx, 204 or 304, never a body
// that already has a Content-Encoding, and not below the minimum size
// when the length is known. A compressed answer loses the handler's
// Content-Length: net/http sets the compressed one when the whole answer
// fits its buffer, and sends it chunked otherwise. Every compressible
// answer says Vary: Accept-Encoding, whether it was compressed or not.
type compressWriter struct {
	http.ResponseWriter
	coding      string // negotiated; coding.Identity for none
	minSize     int
	enc         *coding.Writer
	wroteHeader bool
	s           *Server
}

func (w *compressWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	h := w.Header()
	if compressible(code, h) {
		if !varies(h) {
			h.Add("Vary", "Accept-Encoding")
		}
		if w.coding != coding.Identity && longEnough(h, w.minSize) {
			if enc, err := coding.NewWriter(w.coding, w.ResponseWriter); err == nil {
				w.enc = enc
				h.Del("Content-Length")
				h.Set("Content-Encoding", w.coding)
				w.s.countCompressed(w.coding)
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *compressWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.enc != nil {
		return w.enc.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what is compressed so far.
func (w *compressWriter) Flush() {
	if w.enc != nil {
		w.enc.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends the compressed stream once the handler has returned.
func (w *compressWriter) finish() {
	if w.enc != nil {
		w.enc.Close()
		w.enc = nil
	}
}

func (w *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	return h.Hijack()
}

func (w *compressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// compressible reports whether an answer with this status and these
// headers is one a server compresses.
func compressible(code int, h http.Header) bool {
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	if h.Get("Content-Encoding") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "+json") ||
		strings.HasSuffix(mt, "javascript") || strings.HasSuffix(mt, "xml")
}

// longEnough reports whether a body of the announced length reaches min;
// a body of unknown length is compressed, an empty one never.
func longEnough(h http.Header, min int) bool {
	cl := h.Get("Content-Length")
	if cl == "" {
		return true
	}
	n, err := strconv.Atoi(cl)
	return err != nil || (n > 0 && n >= min)
}

func varies(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for item := range strings.SplitSeq(v, ",") {
			if it := strings.TrimSpace(item); it == "*" || strings.EqualFold(it, "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}
