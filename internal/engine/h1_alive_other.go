//go:build !unix

package engine

import "net"

// prober cannot look at a connection without reading it here: a closed
// one is found when the request written on it gets no answer, and the
// request goes again on another.
type prober struct{}

func newProber(net.Conn) *prober { return nil }

func (*prober) alive() bool { return true }
