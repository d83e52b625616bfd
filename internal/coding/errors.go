package coding

import (
	"errors"
	"fmt"
)

// Kinds of failure, matched with errors.Is on an *Error.
var (
	// ErrUnsupported is a coding this package does not know ("compress").
	ErrUnsupported = errors.New("unsupported content coding")
	// ErrCorrupt is data that is not a valid stream of its coding.
	ErrCorrupt = errors.New("corrupt stream")
	// ErrTooLarge is a body that decodes to more than the cap.
	ErrTooLarge = errors.New("decoded body too large")
)

// Error is the failure of one content coding. Its text names the coding
// and the kind ("br: corrupt stream", "gzip: decoded body over 1048576
// bytes") and is short enough for a note or a count by cause; Err keeps
// the library's own error.
type Error struct {
	// Coding is the coding that failed, as named in the header.
	Coding string
	// Kind is ErrUnsupported, ErrCorrupt or ErrTooLarge.
	Kind error
	// Limit is the cap that was exceeded (ErrTooLarge only).
	Limit int64
	// Err is the underlying library error, nil when there is none.
	Err error
}

// Error returns "CODING: KIND".
func (e *Error) Error() string {
	if e.Kind == ErrTooLarge && e.Limit > 0 {
		return fmt.Sprintf("%s: decoded body over %d bytes", e.Coding, e.Limit)
	}
	return e.Coding + ": " + e.Kind.Error()
}

// Unwrap returns the kind and, when known, the library's error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}
