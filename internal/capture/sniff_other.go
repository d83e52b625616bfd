//go:build !linux

package capture

import (
	"context"
	"errors"
	"time"
)

// Sniffer captures packets from a network interface. Live capture is
// implemented on Linux only (AF_PACKET); elsewhere OpenSniffer fails.
type Sniffer struct{}

// SnifferConfig configures a Sniffer.
type SnifferConfig struct {
	Interface    string
	Filter       string
	PayloadOnly  bool
	SnapLen      int
	BlockSize    int
	Blocks       int
	BlockTimeout time.Duration
}

// SnifferStats are the kernel's counters for the capture.
type SnifferStats struct {
	Received, Dropped, Freezes, Delivered uint64
}

// OpenSniffer fails: live capture needs Linux.
func OpenSniffer(cfg SnifferConfig) (*Sniffer, error) {
	return nil, errors.New("live capture is only supported on Linux; capture with tcpdump and use record pcap")
}

// Run is not supported.
func (s *Sniffer) Run(ctx context.Context, fn func(Packet) error, tick func(time.Time) error) error {
	return errors.New("live capture is only supported on Linux")
}

// Stats is not supported.
func (s *Sniffer) Stats() (SnifferStats, error) { return SnifferStats{}, nil }

// Close does nothing.
func (s *Sniffer) Close() error { return nil }
