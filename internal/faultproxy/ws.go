package faultproxy

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"
)

// wsGUID is the key suffix of RFC 6455 section 4.2.2.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxWSMessage bounds a client message the echo server holds.
const maxWSMessage = 1 << 20

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// serveWS plays a WebSocket echo server on c for an upgrade struck by a
// WebSocket fault: it completes the handshake (or spoils it), echoes
// client messages, answers pings and closes, and strikes after r.After
// client messages.
func (p *Proxy) serveWS(c net.Conn, br *bufio.Reader, req *http.Request, r Rule) {
	key := req.Header.Get("Sec-Websocket-Key")
	if key == "" {
		var b bytes.Buffer
		writeSimple(&b, http.StatusBadRequest, "not a WebSocket handshake: Sec-WebSocket-Key missing\n", true)
		c.Write(b.Bytes())
		return
	}
	accept := acceptKey(key)
	if r.Fault == WSBadAccept {
		accept = acceptKey("not " + key)
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n")
	if proto, _, _ := strings.Cut(req.Header.Get("Sec-Websocket-Protocol"), ","); strings.TrimSpace(proto) != "" {
		b.WriteString("Sec-WebSocket-Protocol: " + strings.TrimSpace(proto) + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := c.Write(b.Bytes()); err != nil {
		return
	}
	if r.Fault == WSBadAccept {
		// The client gives up on the handshake; wait for it to leave.
		for {
			if _, err := br.Discard(1); err != nil {
				return
			}
		}
	}
	if r.After == 0 && !p.strike(c, br, r) {
		return
	}
	echoed := 0
	var msg []byte
	var msgOp byte
	inMessage := false
	for {
		f, err := readFrame(br, maxWSMessage)
		if err != nil {
			return
		}
		switch f.op {
		case opClose:
			code := f.payload
			if len(code) > 2 {
				code = code[:2]
			}
			c.Write(appendFrame(nil, frame{fin: true, op: opClose, payload: code}))
			return
		case opPing:
			if _, err := c.Write(appendFrame(nil, frame{fin: true, op: opPong, payload: f.payload})); err != nil {
				return
			}
			continue
		case opPong:
			continue
		case opText, opBinary:
			if inMessage {
				return // a new message inside a fragmented one
			}
			msg, msgOp, inMessage = append(msg[:0], f.payload...), f.op, true
		case opContinuation:
			if !inMessage {
				return
			}
			msg = append(msg, f.payload...)
			if len(msg) > maxWSMessage {
				return
			}
		}
		if !f.fin {
			continue
		}
		inMessage = false
		if _, err := c.Write(appendFrame(nil, frame{fin: true, op: msgOp, payload: msg})); err != nil {
			return
		}
		echoed++
		if echoed == r.After && !p.strike(c, br, r) {
			return
		}
	}
}

// strike injects a session fault and reports whether the session goes
// on.
func (p *Proxy) strike(c net.Conn, br *bufio.Reader, r Rule) bool {
	p.count(r.Fault)
	var raw []byte
	switch r.Fault {
	case WSDrop:
		reset(c)
		return false
	case WSAbnormalClose:
		// A FIN without a close frame; wait for the client to leave (a
		// plain Close with unread input would send an RST instead).
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
			tc.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				if _, err := br.Discard(1); err != nil {
					break
				}
			}
		}
		return false
	case WSReservedOpcode:
		raw = appendFrame(nil, frame{fin: true, op: 0x3, payload: []byte("reserved opcode")})
	case WSBadLength:
		raw = []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}
	case WSBigControl:
		raw = appendFrame(nil, frame{fin: true, op: opPing, payload: bytes.Repeat([]byte("p"), 200)})
	case WSBadUTF8:
		raw = appendFrame(nil, frame{fin: true, op: opText, payload: []byte("bad \xff\xfe utf-8")})
	}
	_, err := c.Write(raw)
	return err == nil
}
