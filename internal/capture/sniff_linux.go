//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Sniffer captures packets from a network interface through a memory
// mapped AF_PACKET ring (TPACKET_V3), with no cgo and no libpcap. The
// socket is SOCK_DGRAM, so every packet starts at its IP header whatever
// the interface's link layer, and the BPF filter runs in the kernel before
// a packet is copied into the ring.
type Sniffer struct {
	cfg      SnifferConfig
	fd       int
	ring     []byte
	loopback bool
	cur      int

	mu       sync.Mutex
	received uint64
	dropped  uint64
	freezes  uint64
	seen     atomic.Int64
	closed   bool
}

// SnifferConfig configures a Sniffer. Zero fields take their defaults.
type SnifferConfig struct {
	// Interface to capture on ("lo", "eth0").
	Interface string
	// Filter is a CompileFilter expression; empty captures all packets.
	Filter string
	// PayloadOnly drops, in the kernel, TCP segments without payload and
	// without SYN, FIN or RST (pure ACKs, window updates): the recorder
	// does not need them, and on keep-alive traffic they are a third of
	// the packets.
	PayloadOnly bool
	// SnapLen caps the bytes kept of each packet (default 262144).
	SnapLen int
	// BlockSize and Blocks size the ring (defaults 4 MiB x 16 = 64 MiB).
	BlockSize int
	Blocks    int
	// BlockTimeout hands a partly filled block to the reader after this
	// long (default 20ms), bounding latency on a quiet link.
	BlockTimeout time.Duration
}

// SnifferStats are the kernel's counters for the socket.
type SnifferStats struct {
	// Received counts the packets that passed the filter.
	Received uint64
	// Dropped counts those the kernel dropped because the ring was full.
	Dropped uint64
	// Freezes counts times the ring was full and the queue frozen.
	Freezes uint64
	// Delivered counts the packets handed to the callback.
	Delivered uint64
}

// OpenSniffer opens a capture on cfg.Interface. It needs CAP_NET_RAW.
func OpenSniffer(cfg SnifferConfig) (*Sniffer, error) {
	if cfg.SnapLen <= 0 {
		cfg.SnapLen = 262144
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 4 << 20
	}
	if cfg.Blocks <= 0 {
		cfg.Blocks = 16
	}
	if cfg.BlockTimeout <= 0 {
		cfg.BlockTimeout = 20 * time.Millisecond
	}
	pageSize := os.Getpagesize()
	if cfg.BlockSize%pageSize != 0 {
		return nil, fmt.Errorf("ring block size %d is not a multiple of the page size %d", cfg.BlockSize, pageSize)
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", cfg.Interface, err)
	}
	prog, err := compileFilterOpts(cfg.Filter, uint32(cfg.SnapLen), cfg.PayloadOnly)
	if err != nil {
		return nil, err
	}
	loopback := ifc.Flags&net.FlagLoopback != 0
	if loopback {
		// On loopback every packet is seen twice, leaving and arriving:
		// drop the outgoing copy in the kernel.
		prog = append([]bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 0, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		}, prog...)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble filter: %w", err)
	}
	// Protocol 0: nothing is received until bind, after the filter is set.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("open packet socket: %w (live capture needs root or CAP_NET_RAW)", err)
		}
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	s := &Sniffer{cfg: cfg, fd: fd, loopback: loopback}
	fail := func(what string, err error) (*Sniffer, error) {
		s.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fprog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("select TPACKET_V3", err)
	}
	frame := 1 << 16
	if frame > cfg.BlockSize {
		frame = cfg.BlockSize
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.Blocks),
		Frame_size:     uint32(frame),
		Frame_nr:       uint32(cfg.BlockSize / frame * cfg.Blocks),
		Retire_blk_tov: uint32(cfg.BlockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("set up the capture ring", err)
	}
	ring, err := unix.Mmap(fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		ring, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		return fail("map the capture ring", err)
	}
	s.ring = ring
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind to "+cfg.Interface, err)
	}
	// Reset the counters: what came before bind is not ours.
	unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Block descriptor offsets (struct tpacket_block_desc, tpacket_hdr_v1).
const (
	bdStatus   = 8
	bdNumPkts  = 12
	bdFirstPkt = 16
)

// Run reads packets until ctx is done, calling fn for each. A packet's
// Data is only valid during the call. tick is called about every 100ms
// with the current time, also when no packet arrives, so the caller can
// age its state. Run returns ctx's error, or fn's first error.
func (s *Sniffer) Run(ctx context.Context, fn func(Packet) error, tick func(time.Time) error) error {
	pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN | unix.POLLERR}}
	lastTick := time.Now()
	var drainUntil time.Time
	for {
		if drainUntil.IsZero() && ctx.Err() != nil {
			// Stop, but first take what the kernel already captured: the
			// block being filled is handed over at its retire timeout.
			drainUntil = time.Now().Add(3*s.cfg.BlockTimeout + 10*time.Millisecond)
		}
		if now := time.Now(); tick != nil && now.Sub(lastTick) >= 100*time.Millisecond {
			lastTick = now
			if err := tick(now); err != nil {
				return err
			}
		}
		block := s.ring[s.cur*s.cfg.BlockSize : (s.cur+1)*s.cfg.BlockSize]
		status := (*uint32)(unsafe.Pointer(&block[bdStatus]))
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			timeout := 100
			if !drainUntil.IsZero() {
				if time.Now().After(drainUntil) {
					return ctx.Err()
				}
				timeout = 5
			}
			_, err := unix.Poll(pfd, timeout)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("poll capture socket: %w", err)
			}
			continue
		}
		if ferr := s.block(block, fn); ferr != nil {
			atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
			s.cur = (s.cur + 1) % s.cfg.Blocks
			return ferr
		}
		atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
		s.cur = (s.cur + 1) % s.cfg.Blocks
	}
}

// block hands the packets of one ring block to fn.
func (s *Sniffer) block(block []byte, fn func(Packet) error) error {
	n := *(*uint32)(unsafe.Pointer(&block[bdNumPkts]))
	off := int(*(*uint32)(unsafe.Pointer(&block[bdFirstPkt])))
	for i := uint32(0); i < n && off > 0 && off+unix.SizeofTpacket3Hdr <= len(block); i++ {
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&block[off]))
		start := off + int(h.Mac)
		end := start + int(h.Snaplen)
		if end <= len(block) && start <= end {
			s.seen.Add(1)
			err := fn(Packet{
				Data:      block[start:end],
				Timestamp: time.Unix(int64(h.Sec), int64(h.Nsec)),
				Length:    int(h.Len),
				LinkType:  LinkRaw,
			})
			if err != nil {
				return err
			}
		}
		if h.Next_offset == 0 {
			break
		}
		off += int(h.Next_offset)
	}
	return nil
}

// Stats returns the kernel's counters accumulated since the capture
// started.
func (s *Sniffer) Stats() (SnifferStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return SnifferStats{}, fmt.Errorf("read capture statistics: %w", err)
		}
		// The kernel counts drops in tp_packets and resets on read.
		s.received += uint64(st.Packets)
		s.dropped += uint64(st.Drops)
		s.freezes += uint64(st.Freeze_q_cnt)
	}
	return SnifferStats{Received: s.received, Dropped: s.dropped, Freezes: s.freezes, Delivered: uint64(s.seen.Load())}, nil
}

// Close releases the ring and the socket.
func (s *Sniffer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.ring != nil {
		err = unix.Munmap(s.ring)
		s.ring = nil
	}
	return errors.Join(err, unix.Close(s.fd))
}
