package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	long := bytes.Repeat([]byte("x"), 300)
	tests := []struct {
		name    string
		in      []byte
		want    frame
		wantErr string
	}{
		{"masked text", appendFrame(nil, frame{fin: true, op: opText, masked: true, key: key, payload: []byte("hi")}),
			frame{fin: true, op: opText, masked: true, key: key, payload: []byte("hi")}, ""},
		{"16-bit length", appendFrame(nil, frame{fin: true, op: opBinary, payload: long}),
			frame{fin: true, op: opBinary, payload: long}, ""},
		{"fragment", appendFrame(nil, frame{op: opContinuation, payload: []byte("part")}),
			frame{op: opContinuation, payload: []byte("part")}, ""},
		{"reserved bits", []byte{0xc1, 0}, frame{}, "reserved bits"},
		{"reserved opcode", []byte{0x83, 0}, frame{}, "reserved opcode"},
		{"top bit of length", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, frame{}, "top bit"},
		{"long control", appendFrame(nil, frame{fin: true, op: opPing, payload: long}), frame{}, "control frame"},
		{"fragmented control", []byte{0x09, 0}, frame{}, "control frame"},
		{"over the limit", appendFrame(nil, frame{fin: true, op: opBinary, payload: make([]byte, 70000)}), frame{}, "more than"},
		{"cut in the payload", []byte{0x81, 5, 'a'}, frame{}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readFrame(bytes.NewReader(tt.in), 65536)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.fin != tt.want.fin || f.op != tt.want.op || f.masked != tt.want.masked || f.key != tt.want.key || !bytes.Equal(f.payload, tt.want.payload) {
				t.Errorf("got %+v, want %+v", f, tt.want)
			}
		})
	}
	if _, err := readFrame(bytes.NewReader(nil), 10); !errors.Is(err, io.EOF) {
		t.Errorf("empty input: %v, want EOF", err)
	}
}

// FuzzReadFrame: no input panics the frame reader, and a frame it accepts
// encodes to bytes that read back to the same frame.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, frame{fin: true, op: opText, masked: true, key: [4]byte{9, 8, 7, 6}, payload: []byte("hello")}))
	f.Add(appendFrame(nil, frame{fin: true, op: opClose, payload: []byte{3, 232}}))
	f.Add([]byte{0x82, 126, 0, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := readFrame(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		enc := appendFrame(nil, fr)
		again, err := readFrame(bytes.NewReader(enc), 1<<16)
		if err != nil {
			t.Fatalf("re-read of %x: %v", enc, err)
		}
		if again.fin != fr.fin || again.op != fr.op || again.masked != fr.masked || again.key != fr.key || !bytes.Equal(again.payload, fr.payload) {
			t.Fatalf("round trip changed the frame: %+v -> %+v", fr, again)
		}
	})
}
