package corpus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/traffic"
)

// maxBlock bounds a block's compressed and raw size, so a corrupt
// descriptor cannot make the reader allocate without bound.
const maxBlock = 512 << 20

// ReaderStats reports what a Reader has read.
type ReaderStats struct {
	Counts
	Blocks int
	// RawBytes is the decoded size of the blocks read so far.
	RawBytes int64
	// Truncated is set once the reader has hit a cut tail: the file ended
	// inside a block, or had no index (the recorder did not close it).
	Truncated bool
	// TailBytes is how many bytes after the last whole block were ignored.
	TailBytes int64
	// Indexed reports that the corpus ended with its index (closed cleanly).
	Indexed bool
}

// Reader reads a corpus sequentially. It is a traffic.Source. Blocks are
// read and decompressed one ahead on a background goroutine.
type Reader struct {
	name   string
	file   *os.File
	header traffic.Header

	blocks chan decoded
	cancel chan struct{}
	cur    []byte
	curErr error

	// st interns the strings of the records Next decodes: most repeat
	// from one record to the next (see decState).
	st *decState

	stats  ReaderStats
	closed bool
	// index is the trailing index when the corpus has one.
	index  []BlockInfo
	counts Counts
}

var _ traffic.Source = (*Reader)(nil)

type decoded struct {
	raw     []byte
	desc    blockDesc
	offset  int64
	err     error
	trunc   bool
	tail    int64
	indexed bool
	index   []BlockInfo
	counts  Counts
}

// Open opens the corpus at path.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	// The last bytes tell whether the writer closed the corpus (its index
	// ends it): known before reading, unlike Stats().Truncated.
	closed := false
	if fi, err := f.Stat(); err == nil && fi.Size() >= 16 {
		var tail [8]byte
		if _, err := f.ReadAt(tail[:], fi.Size()-8); err == nil && tail == indexMagic {
			closed = true
		}
	}
	r, err := newReader(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.file = f
	r.closed = closed
	return r, nil
}

// ClosedCleanly reports, for a corpus opened with Open, whether its writer
// closed it: false for a corpus whose recorder was killed (it still reads
// to its last whole block).
func (r *Reader) ClosedCleanly() bool { return r.closed }

// NewReader reads a corpus from in. The caller closes in.
func NewReader(in io.Reader) (*Reader, error) { return newReader(in, "corpus") }

// IsCorpus reports whether the file at path starts as a corpus does: a
// header frame holding the corpus magic (whatever follows).
func IsCorpus(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [16]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(head[:]) == magicHeaderFrame && [8]byte(head[8:]) == fileMagic
}

func newReader(in io.Reader, name string) (*Reader, error) {
	br := bufio.NewReaderSize(in, 256<<10)
	var fh [8]byte
	n, err := io.ReadFull(br, fh[:])
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return nil, ErrEmpty
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: file shorter than a corpus header", ErrBadMagic)
		}
		return nil, fmt.Errorf("read corpus header: %w", err)
	}
	if binary.LittleEndian.Uint32(fh[:]) != magicHeaderFrame {
		return nil, ErrBadMagic
	}
	size := binary.LittleEndian.Uint32(fh[4:])
	if size < 10 || size > 1<<24 {
		return nil, fmt.Errorf("%w: header frame of %d bytes", ErrBadMagic, size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, fmt.Errorf("corpus header cut short: %w", err)
	}
	if [8]byte(data[:8]) != fileMagic {
		return nil, ErrBadMagic
	}
	if v := int(data[8]); v != ContainerVersion {
		return nil, fmt.Errorf("%w: container version %d, this build reads %d", ErrVersion, v, ContainerVersion)
	}
	rec, _, err := decodeRecord(data[10:])
	if err != nil || rec.Kind != traffic.KindHeader {
		return nil, fmt.Errorf("%w: header record: %v", ErrCorrupt, err)
	}
	if rec.Header.Version > traffic.FormatVersion {
		return nil, fmt.Errorf("%w: record version %d, this build reads up to %d", ErrVersion, rec.Header.Version, traffic.FormatVersion)
	}
	r := &Reader{
		name:   name,
		header: *rec.Header,
		blocks: make(chan decoded, 2),
		cancel: make(chan struct{}),
		st:     newDecState(),
	}
	go r.readAhead(br, int64(8+size))
	return r, nil
}

// Header returns the corpus header.
func (r *Reader) Header() traffic.Header { return r.header }

// Stats returns what the reader has seen so far; after Next returned
// io.EOF it covers the whole corpus.
func (r *Reader) Stats() ReaderStats { return r.stats }

// Index returns the trailing index and its counts once Next has returned
// io.EOF, if the corpus had one.
func (r *Reader) Index() ([]BlockInfo, Counts, bool) { return r.index, r.counts, r.stats.Indexed }

// Next returns the next record, io.EOF at the end. A corpus cut short ends
// with io.EOF too, after its last whole block; Stats().Truncated says so.
// A corrupt block is an error wrapping ErrCorrupt that names its offset.
func (r *Reader) Next(ctx context.Context) (traffic.Record, error) {
	for len(r.cur) == 0 {
		if r.curErr != nil {
			r.st = nil // nothing left to decode: let the interned strings go
			return traffic.Record{}, r.curErr
		}
		select {
		case <-ctx.Done():
			return traffic.Record{}, ctx.Err()
		case d, ok := <-r.blocks:
			if !ok {
				r.curErr = io.EOF
				continue
			}
			if d.err != nil {
				r.curErr = d.err
				continue
			}
			if d.indexed || d.trunc {
				r.stats.Indexed = d.indexed
				r.stats.Truncated = d.trunc
				r.stats.TailBytes = d.tail
				r.index, r.counts = d.index, d.counts
				r.curErr = io.EOF
				continue
			}
			r.cur = d.raw
			r.stats.Blocks++
			r.stats.RawBytes += int64(len(d.raw))
		}
	}
	rec, n, err := decodeWith(r.cur, r.st)
	if err != nil {
		r.curErr = fmt.Errorf("%w: %v", ErrCorrupt, err)
		r.cur = nil
		return traffic.Record{}, r.curErr
	}
	r.cur = r.cur[n:]
	r.stats.add(byte(rec.Kind))
	return rec, nil
}

// Close stops the reader and closes the file it opened.
func (r *Reader) Close() error {
	select {
	case <-r.cancel:
	default:
		close(r.cancel)
	}
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

func (r *Reader) send(d decoded) bool {
	select {
	case r.blocks <- d:
		return true
	case <-r.cancel:
		return false
	}
}

// readAhead reads blocks from br and sends them decompressed, ending with
// one decoded value that carries the end state (index or cut tail) or an
// error.
func (r *Reader) readAhead(br *bufio.Reader, offset int64) {
	defer close(r.blocks)
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlock))
	if err != nil {
		r.send(decoded{err: fmt.Errorf("zstd decoder: %w", err)})
		return
	}
	defer zd.Close()
	var hdr [8]byte
	// comp holds one compressed block at a time: DecodeAll copies out of
	// it, so it is reused. Raw blocks are not: records alias them.
	var comp []byte
	cut := func(read int64) { r.send(decoded{trunc: true, tail: read}) }
	for {
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			cut(0) // no index: the writer did not close
			return
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				cut(int64(n))
			} else {
				r.send(decoded{err: fmt.Errorf("read corpus at offset %d: %w", offset, err)})
			}
			return
		}
		magic := binary.LittleEndian.Uint32(hdr[:])
		size := binary.LittleEndian.Uint32(hdr[4:])
		switch magic {
		case magicBlockFrame:
			if size != blockDescSize {
				r.send(decoded{err: fmt.Errorf("%w: block descriptor of %d bytes at offset %d", ErrCorrupt, size, offset)})
				return
			}
			var dp [blockDescSize]byte
			if n, err := io.ReadFull(br, dp[:]); err != nil {
				cut(int64(8 + n))
				return
			}
			desc := parseBlockDesc(dp[:])
			if desc.Compressed > maxBlock || desc.Raw > maxBlock {
				r.send(decoded{err: fmt.Errorf("%w: block of %d bytes at offset %d", ErrCorrupt, desc.Compressed, offset)})
				return
			}
			comp, err = readN(br, int(desc.Compressed), comp)
			if err != nil {
				cut(int64(8 + blockDescSize + len(comp)))
				return
			}
			if desc.checksum(comp) != desc.CRC {
				r.send(decoded{err: fmt.Errorf("%w: block at offset %d fails its checksum", ErrCorrupt, offset)})
				return
			}
			raw, err := zd.DecodeAll(comp, make([]byte, 0, desc.Raw))
			if err != nil || len(raw) != int(desc.Raw) {
				r.send(decoded{err: fmt.Errorf("%w: block at offset %d does not decompress: %v", ErrCorrupt, offset, err)})
				return
			}
			if !r.send(decoded{raw: raw, desc: desc, offset: offset}) {
				return
			}
			offset += int64(8 + blockDescSize + len(comp))
		case magicIndexFrame:
			data, err := readN(br, int(min(size, maxBlock)), nil)
			if err != nil {
				cut(int64(8 + len(data)))
				return
			}
			idx, counts, err := parseIndex(data)
			if err != nil {
				r.send(decoded{err: fmt.Errorf("%w: index at offset %d: %v", ErrCorrupt, offset, err)})
				return
			}
			r.send(decoded{indexed: true, index: idx, counts: counts})
			return
		default:
			r.send(decoded{err: fmt.Errorf("%w: unexpected frame 0x%08x at offset %d", ErrCorrupt, magic, offset)})
			return
		}
	}
}

// readN reads exactly n bytes into buf's storage (a new buffer when buf is
// too small), growing it as data arrives beyond 4 MiB so that a corrupt
// length in a short file does not allocate the whole length.
func readN(r io.Reader, n int, buf []byte) ([]byte, error) {
	const step = 4 << 20
	if n <= max(cap(buf), step) {
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		k, err := io.ReadFull(r, buf[:n])
		return buf[:k], err
	}
	buf = buf[:0]
	for len(buf) < n {
		chunk := min(n-len(buf), step)
		buf = slices.Grow(buf, chunk)
		k, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+k]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
