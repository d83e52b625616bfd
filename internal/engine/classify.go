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
)

// Error kinds, as reported in traffic.Result.Error.
const (
	ErrRefused  = "refused"
	ErrReset    = "reset"
	ErrTimeout  = "timeout"
	ErrEOF      = "eof"
	ErrDNS      = "dns"
	ErrTLS      = "tls"
	ErrProtocol = "protocol"
	ErrCanceled = "canceled"
	ErrOther    = "other"
	// WebSocket kinds.
	ErrHandshake = "ws handshake"
	ErrAbnormal  = "ws abnormal close"
	ErrWSProto   = "ws protocol"
)

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
