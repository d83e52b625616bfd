package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/traffic"
)

// Error kinds, as reported in traffic.Result.Error.
const (
	ErrRefused  = traffic.ErrRefused
	ErrReset    = traffic.ErrReset
	ErrTimeout  = traffic.ErrTimeout
	ErrEOF      = traffic.ErrEOF
	ErrDNS      = traffic.ErrDNS
	ErrTLS      = traffic.ErrTLS
	ErrProtocol = traffic.ErrProtocol
	ErrCanceled = traffic.ErrCanceled
	ErrCut      = traffic.ErrCut
	ErrOther    = traffic.ErrOther
	// WebSocket kinds. ErrAbnormal: the server ended a session without a
	// close frame (TCP close or reset); ErrWSProto: it broke the protocol
	// (reserved opcode or bits, impossible length, long or fragmented
	// control frame, text that is not UTF-8); ErrServerClosed: it closed
	// with a close frame a session the recorded client closed.
	ErrHandshake    = "ws handshake"
	ErrAbnormal     = "ws abnormal close"
	ErrWSProto      = "ws protocol"
	ErrServerClosed = "ws closed by server"
)

// errInvalidUTF8 ends a session whose server sent a text message that is
// not UTF-8.
var errInvalidUTF8 = errors.New("websocket: invalid UTF-8 in text message")

// classifyWSEnd maps the error that ended a session's reads to a kind:
// ErrWSProto for a protocol violation, ErrAbnormal for an end without a
// close frame, "" for a close frame.
func classifyWSEnd(err error) string {
	var ce *websocket.CloseError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		if ce.Code == websocket.CloseAbnormalClosure {
			return ErrAbnormal // the library's name for EOF without a close frame
		}
		return ""
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, errInvalidUTF8):
		return ErrWSProto
	case strings.HasPrefix(err.Error(), "websocket: "):
		// The library's protocol errors ("websocket: bad opcode 3",
		// "websocket: len > 125 for control", ...).
		return ErrWSProto
	}
	return ErrAbnormal
}

// classify maps a transport error to a short kind.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	case errors.As(err, &dnsErr):
		return ErrDNS
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recErr):
		return ErrTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrEOF
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "server closed idle connection"), strings.Contains(msg, "connection reset"):
		return ErrReset
	case strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "bad Content-Length"),
		strings.Contains(msg, "invalid"), strings.Contains(msg, "unexpected EOF reading trailer"),
		strings.Contains(msg, "too many transfer encodings"), strings.Contains(msg, "net/http: HTTP/1.x transport connection broken"):
		return ErrProtocol
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return ErrTLS
	case strings.Contains(msg, "EOF"):
		return ErrEOF
	case strings.Contains(msg, "timeout"):
		return ErrTimeout
	}
	return ErrOther
}
