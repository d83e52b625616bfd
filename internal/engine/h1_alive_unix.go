//go:build unix

package engine

import (
	"errors"
	"net"
	"syscall"
)

// prober tells whether an idle connection is still open: nothing to read
// on it (a server that closed it sent a FIN, one that broke it a reset,
// and one that answers unasked is not to be trusted). One non-blocking
// peek, no wait; built once per connection.
type prober struct {
	rc   syscall.RawConn
	open bool
	buf  [1]byte
	peek func(fd uintptr) bool
}

func newProber(c net.Conn) *prober {
	for {
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &prober{rc: rc}
	p.peek = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.open = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true
	}
	return p
}

// alive reports whether the connection is still open; a connection that
// cannot be looked at is taken as open (a request written on a closed
// one gets no answer and goes again on another).
func (p *prober) alive() bool {
	if p == nil {
		return true
	}
	p.open = false
	return p.rc.Read(p.peek) == nil && p.open
}
