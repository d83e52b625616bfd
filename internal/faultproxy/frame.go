package faultproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// frame is one WebSocket frame, payload unmasked.
type frame struct {
	fin     bool
	op      byte
	masked  bool
	key     [4]byte
	payload []byte
}

// readFrame reads one well-formed frame from r, refusing reserved bits and
// opcodes, control frames that are long or fragmented, 64-bit lengths with
// the top bit set, and payloads over limit bytes.
func readFrame(r io.Reader, limit int64) (frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	if h[0]&0x70 != 0 {
		return f, errors.New("websocket frame: reserved bits set")
	}
	switch f.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return f, fmt.Errorf("websocket frame: reserved opcode %#x", f.op)
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return f, unexpected(err)
		}
		n = int64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(r, h[:8]); err != nil {
			return f, unexpected(err)
		}
		u := binary.BigEndian.Uint64(h[:8])
		if u>>63 != 0 {
			return f, errors.New("websocket frame: length has its top bit set")
		}
		n = int64(u)
	}
	if f.op >= opClose && (n > 125 || !f.fin) {
		return f, errors.New("websocket frame: control frame longer than 125 bytes or fragmented")
	}
	if n > limit {
		return f, fmt.Errorf("websocket frame: %d bytes, more than the %d allowed", n, limit)
	}
	if f.masked {
		if _, err := io.ReadFull(r, f.key[:]); err != nil {
			return f, unexpected(err)
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, unexpected(err)
	}
	if f.masked {
		mask(f.key, f.payload)
	}
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func mask(key [4]byte, b []byte) {
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// appendFrame encodes a frame (lengths in their shortest form), masked
// with f.key when f.masked. It encodes whatever it is given, invalid
// frames included.
func appendFrame(dst []byte, f frame) []byte {
	b0 := f.op & 0x0f
	if f.fin {
		b0 |= 0x80
	}
	var m byte
	if f.masked {
		m = 0x80
	}
	n := len(f.payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, m|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if f.masked {
		dst = append(dst, f.key[:]...)
		start := len(dst)
		dst = append(dst, f.payload...)
		mask(f.key, dst[start:])
		return dst
	}
	return append(dst, f.payload...)
}
