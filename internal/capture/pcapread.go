package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Link types (LINKTYPE_* values of the pcap and pcapng formats) that the
// decoder understands.
const (
	LinkNull     uint32 = 0   // BSD loopback, host byte order family
	LinkEthernet uint32 = 1   // Ethernet II, 802.1Q and 802.1ad tags
	LinkRawAlt1  uint32 = 12  // DLT_RAW on most BSDs
	LinkRawAlt2  uint32 = 14  // DLT_RAW on OpenBSD
	LinkRaw      uint32 = 101 // raw IPv4 or IPv6
	LinkLoop     uint32 = 108 // OpenBSD loopback, network byte order family
	LinkLinuxSLL uint32 = 113 // Linux cooked capture v1
	LinkIPv4     uint32 = 228
	LinkIPv6     uint32 = 229
	LinkSLL2     uint32 = 276 // Linux cooked capture v2
)

// maxRecordLen bounds one captured packet in a file. Anything larger is a
// corrupt length field, not a packet.
const maxRecordLen = 1 << 20

// Packet is one captured packet.
type Packet struct {
	// Data is the captured bytes. It is only valid until the next call to
	// the source's ReadPacket.
	Data []byte
	// Timestamp is when the packet was captured.
	Timestamp time.Time
	// Length is the packet's length on the wire; more than len(Data) when
	// the capture cut it at its snap length.
	Length int
	// LinkType is the LINKTYPE_* value of Data's first header.
	LinkType uint32
}

// PacketReader reads packets from a capture file.
type PacketReader interface {
	// ReadPacket returns the next packet, io.EOF after the last one, or an
	// error naming what is wrong with the file.
	ReadPacket() (Packet, error)
}

// ErrNotCapture is returned (wrapped) by NewFileReader for input that is
// neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// ErrTruncated is returned (wrapped) by ReadPacket when the file ends in
// the middle of a record: packets read before it are good.
var ErrTruncated = errors.New("capture file truncated")

// NewFileReader detects the format of r (pcap in either byte order with
// micro- or nanosecond timestamps, or pcapng, either of them possibly
// compressed with gzip or zstd, as rotated captures often are) and
// returns a reader of its packets.
func NewFileReader(r io.Reader) (PacketReader, error) {
	return newFileReader(r, true)
}

func newFileReader(r io.Reader, mayDecompress bool) (PacketReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		var se *streamError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: compressed capture ends before its header (%v)", ErrTruncated, se)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: file shorter than a header (%d bytes)", ErrNotCapture, len(magic))
		}
		return nil, fmt.Errorf("read capture header: %w", err)
	}
	if mayDecompress {
		switch {
		case magic[0] == 0x1f && magic[1] == 0x8b:
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, fmt.Errorf("%w: gzip header: %v", ErrNotCapture, err)
			}
			return withCloser(newFileReader(&decompressed{r: zr, format: "gzip"}, false))(zr.Close)
		case binary.LittleEndian.Uint32(magic) == 0xfd2fb528:
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20))
			if err != nil {
				return nil, fmt.Errorf("%w: zstd header: %v", ErrNotCapture, err)
			}
			return withCloser(newFileReader(&decompressed{r: zr, format: "zstd"}, false))(func() error { zr.Close(); return nil })
		}
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return newPcapReader(br)
	case 0x0a0d0d0a:
		return newNgReader(br)
	}
	return nil, fmt.Errorf("%w: unknown magic %#08x (expected pcap a1b2c3d4/a1b23c4d or pcapng 0a0d0d0a)", ErrNotCapture, binary.BigEndian.Uint32(magic))
}

// closingReader is the reader of a compressed capture: closing it
// releases the decompressor.
type closingReader struct {
	PacketReader
	close func() error
}

func (c closingReader) Close() error { return c.close() }

func withCloser(pr PacketReader, err error) func(func() error) (PacketReader, error) {
	return func(close func() error) (PacketReader, error) {
		if err != nil {
			close()
			return nil, err
		}
		return closingReader{pr, close}, nil
	}
}

// decompressed reads a compressed capture. A stream that stops early or
// is corrupt ends like a truncated file: with ErrUnexpectedEOF, so the
// packets before the damage are kept; the cause is in the error's text.
type decompressed struct {
	r      io.Reader
	format string
}

func (d *decompressed) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = &streamError{format: d.format, err: err}
	}
	return n, err
}

type streamError struct {
	format string
	err    error
}

func (e *streamError) Error() string {
	return e.format + " stream: " + e.err.Error()
}
func (e *streamError) Unwrap() error { return io.ErrUnexpectedEOF }

// cutShort describes a record the file ended inside of, with the cause
// when it was not the plain end of the file.
func cutShort(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var se *streamError
	if errors.As(err, &se) {
		msg += " (" + se.Error() + ")"
	}
	return fmt.Errorf("%w: %s", ErrTruncated, msg)
}

type pcapReader struct {
	r        *bufio.Reader
	order    binary.ByteOrder
	nano     bool
	linkType uint32
	hdr      [16]byte
	buf      []byte
	n        int
}

func newPcapReader(r *bufio.Reader) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: pcap header cut short", ErrTruncated)
	}
	p := &pcapReader{r: r}
	switch binary.LittleEndian.Uint32(h[:4]) {
	case 0xa1b2c3d4:
		p.order = binary.LittleEndian
	case 0xa1b23c4d:
		p.order, p.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		p.order = binary.BigEndian
	case 0x4d3cb2a1:
		p.order, p.nano = binary.BigEndian, true
	}
	if major := p.order.Uint16(h[4:6]); major != 2 {
		return nil, fmt.Errorf("%w: pcap version %d.%d is not 2.x", ErrNotCapture, major, p.order.Uint16(h[6:8]))
	}
	// The upper bits of the link type field carry FCS information.
	p.linkType = p.order.Uint32(h[20:24]) & 0x0fffffff
	return p, nil
}

func (p *pcapReader) ReadPacket() (Packet, error) {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		return Packet{}, cutShort(err, "record header of packet %d cut short", p.n+1)
	}
	sec := p.order.Uint32(p.hdr[0:4])
	frac := p.order.Uint32(p.hdr[4:8])
	capLen := p.order.Uint32(p.hdr[8:12])
	wireLen := p.order.Uint32(p.hdr[12:16])
	if capLen > maxRecordLen {
		return Packet{}, fmt.Errorf("packet %d: corrupt record: captured length %d exceeds %d", p.n+1, capLen, maxRecordLen)
	}
	if cap(p.buf) < int(capLen) {
		p.buf = make([]byte, capLen, max(int(capLen), 1<<16))
	}
	data := p.buf[:capLen]
	if _, err := io.ReadFull(p.r, data); err != nil {
		return Packet{}, cutShort(err, "data of packet %d cut short", p.n+1)
	}
	p.n++
	ns := int64(frac) * 1000
	if p.nano {
		ns = int64(frac)
	}
	if wireLen < capLen {
		wireLen = capLen
	}
	return Packet{Data: data, Timestamp: time.Unix(int64(sec), ns), Length: int(wireLen), LinkType: p.linkType}, nil
}

// pcapng block types.
const (
	ngSectionHeader  = 0x0a0d0d0a
	ngInterfaceDesc  = 0x00000001
	ngObsoletePacket = 0x00000002
	ngSimplePacket   = 0x00000003
	ngEnhancedPacket = 0x00000006
)

type ngInterface struct {
	linkType uint32
	snapLen  uint32
	// perSec is the number of timestamp ticks per second (if_tsresol,
	// a million by default); tsOffset is added (s, if_tsoffset).
	perSec   uint64
	tsOffset int64
}

type ngReader struct {
	r      *bufio.Reader
	order  binary.ByteOrder
	ifaces []ngInterface
	buf    []byte
	n      int
	blocks int
}

func newNgReader(r *bufio.Reader) (*ngReader, error) {
	g := &ngReader{r: r}
	// The first block must be a section header; readBlock handles it.
	return g, nil
}

// readBlock returns the type and body (without type, length and trailing
// length) of the next block.
func (g *ngReader) readBlock() (uint32, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(g.r, h[:]); err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, cutShort(err, "pcapng block header cut short after %d packets", g.n)
	}
	typ := binary.LittleEndian.Uint32(h[:4])
	if typ == ngSectionHeader {
		// Byte order comes from the byte-order magic after the length.
		bom, err := g.r.Peek(4)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: pcapng section header cut short", ErrTruncated)
		}
		switch binary.LittleEndian.Uint32(bom) {
		case 0x1a2b3c4d:
			g.order = binary.LittleEndian
		case 0x4d3c2b1a:
			g.order = binary.BigEndian
		default:
			return 0, nil, fmt.Errorf("%w: pcapng section header has bad byte-order magic %#x", ErrNotCapture, bom)
		}
		g.ifaces = g.ifaces[:0]
	} else if g.order == nil {
		return 0, nil, fmt.Errorf("%w: pcapng file does not start with a section header", ErrNotCapture)
	} else {
		typ = g.order.Uint32(h[:4])
	}
	length := g.order.Uint32(h[4:8])
	if length < 12 || length%4 != 0 || length > maxRecordLen+64 {
		return 0, nil, fmt.Errorf("pcapng block %d: corrupt block length %d", g.blocks+1, length)
	}
	body := int(length) - 12
	if cap(g.buf) < body+4 {
		g.buf = make([]byte, body+4, max(body+4, 1<<16))
	}
	b := g.buf[:body+4]
	if _, err := io.ReadFull(g.r, b); err != nil {
		return 0, nil, cutShort(err, "pcapng block %d cut short after %d packets", g.blocks+1, g.n)
	}
	if trail := g.order.Uint32(b[body:]); trail != length {
		return 0, nil, fmt.Errorf("pcapng block %d: trailing length %d differs from leading length %d", g.blocks+1, trail, length)
	}
	g.blocks++
	return typ, b[:body], nil
}

func (g *ngReader) ReadPacket() (Packet, error) {
	for {
		typ, b, err := g.readBlock()
		if err != nil {
			return Packet{}, err
		}
		switch typ {
		case ngSectionHeader:
			if len(b) < 12 {
				return Packet{}, fmt.Errorf("pcapng block %d: section header too short", g.blocks)
			}
			if major := g.order.Uint16(b[4:6]); major != 1 {
				return Packet{}, fmt.Errorf("%w: pcapng version %d is not 1.x", ErrNotCapture, major)
			}
		case ngInterfaceDesc:
			if len(b) < 8 {
				return Packet{}, fmt.Errorf("pcapng block %d: interface description too short", g.blocks)
			}
			ifc := ngInterface{linkType: uint32(g.order.Uint16(b[0:2])), snapLen: g.order.Uint32(b[4:8]), perSec: 1e6}
			g.parseIfaceOptions(&ifc, b[8:])
			g.ifaces = append(g.ifaces, ifc)
		case ngEnhancedPacket, ngObsoletePacket:
			if len(b) < 20 {
				return Packet{}, fmt.Errorf("pcapng block %d: packet block too short", g.blocks)
			}
			var id uint32
			if typ == ngEnhancedPacket {
				id = g.order.Uint32(b[0:4])
			} else {
				id = uint32(g.order.Uint16(b[0:2]))
			}
			if int(id) >= len(g.ifaces) {
				return Packet{}, fmt.Errorf("pcapng block %d: packet refers to interface %d but only %d are described", g.blocks, id, len(g.ifaces))
			}
			ifc := g.ifaces[id]
			ts := uint64(g.order.Uint32(b[4:8]))<<32 | uint64(g.order.Uint32(b[8:12]))
			capLen := g.order.Uint32(b[12:16])
			wireLen := g.order.Uint32(b[16:20])
			if int(capLen) > len(b)-20 {
				return Packet{}, fmt.Errorf("pcapng block %d: captured length %d exceeds the block", g.blocks, capLen)
			}
			if wireLen < capLen {
				wireLen = capLen
			}
			g.n++
			return Packet{Data: b[20 : 20+capLen], Timestamp: ifc.time(ts), Length: int(wireLen), LinkType: ifc.linkType}, nil
		case ngSimplePacket:
			if len(g.ifaces) == 0 {
				return Packet{}, fmt.Errorf("pcapng block %d: simple packet before any interface description", g.blocks)
			}
			if len(b) < 4 {
				return Packet{}, fmt.Errorf("pcapng block %d: simple packet block too short", g.blocks)
			}
			ifc := g.ifaces[0]
			wireLen := g.order.Uint32(b[0:4])
			capLen := uint32(len(b) - 4)
			if ifc.snapLen > 0 && capLen > ifc.snapLen {
				capLen = ifc.snapLen
			}
			if wireLen < capLen {
				capLen = wireLen
			}
			g.n++
			// Simple packets carry no timestamp.
			return Packet{Data: b[4 : 4+capLen], Length: int(wireLen), LinkType: ifc.linkType}, nil
		}
		// Other blocks (name resolution, statistics, custom) are skipped.
	}
}

func (g *ngReader) parseIfaceOptions(ifc *ngInterface, opts []byte) {
	for len(opts) >= 4 {
		code := g.order.Uint16(opts[0:2])
		l := int(g.order.Uint16(opts[2:4]))
		opts = opts[4:]
		if l > len(opts) {
			return
		}
		v := opts[:l]
		switch code {
		case 0:
			return
		case 9: // if_tsresol
			if l >= 1 {
				// 2^n ticks per second with the high bit set, else 10^n;
				// what does not fit 64 bits keeps the default.
				if r := v[0]; r&0x80 != 0 && r&0x7f < 64 {
					ifc.perSec = 1 << (r & 0x7f)
				} else if r <= 19 {
					ifc.perSec = 1
					for range r {
						ifc.perSec *= 10
					}
				}
			}
		case 14: // if_tsoffset
			if l >= 8 {
				ifc.tsOffset = int64(g.order.Uint64(v))
			}
		}
		opts = opts[(l+3)&^3:]
	}
}

func (ifc ngInterface) time(ticks uint64) time.Time {
	sec, rem := ticks/ifc.perSec, ticks%ifc.perSec
	// rem*1e9/perSec without overflow: rem < perSec, so the quotient fits.
	hi, lo := bits.Mul64(rem, uint64(time.Second))
	ns, _ := bits.Div64(hi, lo, ifc.perSec)
	return time.Unix(int64(sec)+ifc.tsOffset, int64(ns))
}
