package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
)

// How a session's end is classified, from the errors gorilla/websocket
// returns for the faults a server can commit.
func TestClassifyWSEnd(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"close frame", &websocket.CloseError{Code: websocket.CloseNormalClosure}, ""},
		{"close frame without status", &websocket.CloseError{Code: websocket.CloseNoStatusReceived}, ""},
		{"close frame going away", &websocket.CloseError{Code: websocket.CloseGoingAway, Text: "restart"}, ""},
		{"tcp close without a close frame", &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: io.ErrUnexpectedEOF.Error()}, ErrAbnormal},
		{"reset", reset, ErrAbnormal},
		{"eof", io.EOF, ErrAbnormal},
		{"reserved opcode", errors.New("websocket: bad opcode 3"), ErrWSProto},
		{"long control frame", errors.New("websocket: len > 125 for control"), ErrWSProto},
		{"impossible length", websocket.ErrReadLimit, ErrWSProto},
		{"text not utf-8", errInvalidUTF8, ErrWSProto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyWSEnd(tt.err); got != tt.want {
				t.Errorf("classifyWSEnd(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
