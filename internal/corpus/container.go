package corpus

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// Skippable zstd frames (RFC 8878 section 3.1.2) carry the container's own
// metadata, so a corpus is also a valid zstd stream: `zstd -dc` yields the
// raw record stream.
const (
	magicHeaderFrame = 0x184D2A50
	magicBlockFrame  = 0x184D2A51
	magicIndexFrame  = 0x184D2A52
)

// fileMagic opens the header frame's data.
var fileMagic = [8]byte{'R', 'E', 'P', 'R', 'I', 'S', 'E', 0}

// indexMagic ends a corpus that has a trailing index.
var indexMagic = [8]byte{'R', 'P', 'R', 'S', 'I', 'D', 'X', '1'}

// ContainerVersion is the container layout version written by this build.
const ContainerVersion = 1

// Sentinel errors callers branch on.
var (
	// ErrBadMagic means the file is not a reprise corpus.
	ErrBadMagic = errors.New("not a reprise corpus (bad magic)")
	// ErrVersion means the corpus was written by a newer reprise.
	ErrVersion = errors.New("corpus format version not supported")
	// ErrEmpty means the file has no bytes at all.
	ErrEmpty = errors.New("corpus file is empty")
	// ErrCorrupt means a block failed its checksum or did not decode.
	ErrCorrupt = errors.New("corpus is corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockDesc describes one compressed block; it is the data of the
// skippable frame that precedes the block's zstd frame.
type blockDesc struct {
	Compressed uint32
	Raw        uint32
	Records    uint32
	CRC        uint32 // CRC-32C of the other descriptor fields and the compressed bytes
	MinStart   time.Duration
	MaxStart   time.Duration
}

const blockDescSize = 4*4 + 8*2

func (b blockDesc) append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, b.Compressed)
	dst = binary.LittleEndian.AppendUint32(dst, b.Raw)
	dst = binary.LittleEndian.AppendUint32(dst, b.Records)
	dst = binary.LittleEndian.AppendUint32(dst, b.CRC)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.MinStart))
	return binary.LittleEndian.AppendUint64(dst, uint64(b.MaxStart))
}

// checksum is the CRC-32C of the descriptor (CRC field zeroed) followed by
// the compressed bytes, so a flipped length is caught before it is used.
func (b blockDesc) checksum(comp []byte) uint32 {
	b.CRC = 0
	c := crc32.Update(0, castagnoli, b.append(make([]byte, 0, blockDescSize)))
	return crc32.Update(c, castagnoli, comp)
}

func parseBlockDesc(p []byte) blockDesc {
	return blockDesc{
		Compressed: binary.LittleEndian.Uint32(p[0:]),
		Raw:        binary.LittleEndian.Uint32(p[4:]),
		Records:    binary.LittleEndian.Uint32(p[8:]),
		CRC:        binary.LittleEndian.Uint32(p[12:]),
		MinStart:   time.Duration(binary.LittleEndian.Uint64(p[16:])),
		MaxStart:   time.Duration(binary.LittleEndian.Uint64(p[24:])),
	}
}

// skippable frames one item of metadata.
func skippable(magic uint32, data []byte) []byte {
	out := make([]byte, 0, 8+len(data))
	out = binary.LittleEndian.AppendUint32(out, magic)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}

// BlockInfo is one entry of a corpus index.
type BlockInfo struct {
	// Offset is the file offset of the block's descriptor frame.
	Offset   int64
	Records  int
	Raw      int
	Size     int
	MinStart time.Duration
	MaxStart time.Duration
}

// Counts tallies records by kind.
type Counts struct {
	Records    int64
	Exchanges  int64
	WSOpens    int64
	WSMessages int64
	WSCloses   int64
	// Late counts records written after a record that started later, past
	// the writer's reorder window.
	Late int64
}

func (c *Counts) add(kind uint8) {
	c.Records++
	switch kind {
	case 2:
		c.Exchanges++
	case 3:
		c.WSOpens++
	case 4:
		c.WSMessages++
	case 5:
		c.WSCloses++
	}
}

func appendIndex(dst []byte, blocks []BlockInfo, c Counts, indexOffset int64) []byte {
	var data []byte
	data = binary.AppendUvarint(data, uint64(len(blocks)))
	for _, b := range blocks {
		data = binary.AppendUvarint(data, uint64(b.Offset))
		data = binary.AppendUvarint(data, uint64(b.Records))
		data = binary.AppendUvarint(data, uint64(b.Raw))
		data = binary.AppendUvarint(data, uint64(b.Size))
		data = binary.AppendVarint(data, int64(b.MinStart))
		data = binary.AppendVarint(data, int64(b.MaxStart))
	}
	for _, v := range []int64{c.Records, c.Exchanges, c.WSOpens, c.WSMessages, c.WSCloses, c.Late} {
		data = binary.AppendUvarint(data, uint64(v))
	}
	data = binary.LittleEndian.AppendUint64(data, uint64(indexOffset))
	data = append(data, indexMagic[:]...)
	return append(dst, skippable(magicIndexFrame, data)...)
}

func parseIndex(data []byte) ([]BlockInfo, Counts, error) {
	bad := errors.New("bad index")
	rd := func() uint64 {
		v, n := binary.Uvarint(data)
		if n <= 0 {
			data = nil
			return 0
		}
		data = data[n:]
		return v
	}
	rds := func() int64 {
		v, n := binary.Varint(data)
		if n <= 0 {
			data = nil
			return 0
		}
		data = data[n:]
		return v
	}
	n := rd()
	if n > uint64(len(data)) {
		return nil, Counts{}, bad
	}
	blocks := make([]BlockInfo, 0, n)
	for i := uint64(0); i < n; i++ {
		blocks = append(blocks, BlockInfo{
			Offset: int64(rd()), Records: int(rd()), Raw: int(rd()), Size: int(rd()),
			MinStart: time.Duration(rds()), MaxStart: time.Duration(rds()),
		})
	}
	var c Counts
	for _, p := range []*int64{&c.Records, &c.Exchanges, &c.WSOpens, &c.WSMessages, &c.WSCloses, &c.Late} {
		*p = int64(rd())
	}
	if data == nil {
		return nil, Counts{}, bad
	}
	return blocks, c, nil
}
