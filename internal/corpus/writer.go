package corpus

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/traffic"
)

// PartialSuffix is appended to a corpus's name while it is being written.
// A recorder that dies leaves NAME.partial behind, readable to its last
// flushed block.
const PartialSuffix = ".partial"

// DefaultBlockSize is the raw size at which the writer seals a block.
const DefaultBlockSize = 1 << 20

type writerOptions struct {
	blockSize int
	level     zstd.EncoderLevel
	window    time.Duration
	flushEach time.Duration
	clock     func() time.Duration
	overwrite bool
}

// WriterOption configures a Writer.
type WriterOption func(*writerOptions) error

// WithBlockSize sets the raw size (bytes) at which a block is compressed
// and written. Smaller blocks lose less on a crash; larger ones compress
// better.
func WithBlockSize(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < 1024 || n > 64<<20 {
			return fmt.Errorf("block size %d out of range [1KiB, 64MiB]", n)
		}
		o.blockSize = n
		return nil
	}
}

// WithLevel sets the zstd compression level.
func WithLevel(l zstd.EncoderLevel) WriterOption {
	return func(o *writerOptions) error {
		if l < zstd.SpeedFastest || l > zstd.SpeedBestCompression {
			return fmt.Errorf("unknown zstd level %d", l)
		}
		o.level = l
		return nil
	}
}

// WithReorderWindow makes the writer hold records for up to d so they are
// written in Start order although they arrive in completion order. A record
// that arrives after a later-starting record was written is written anyway,
// counted in Counts.Late and, for an exchange, flagged traffic.FlagLate.
func WithReorderWindow(d time.Duration) WriterOption {
	return func(o *writerOptions) error {
		if d < 0 {
			return fmt.Errorf("negative reorder window %v", d)
		}
		o.window = d
		return nil
	}
}

// WithFlushInterval makes the writer seal and write its current block at
// least every d, so a crash loses at most d of traffic (plus the reorder
// window).
func WithFlushInterval(d time.Duration) WriterOption {
	return func(o *writerOptions) error {
		if d < 0 {
			return fmt.Errorf("negative flush interval %v", d)
		}
		o.flushEach = d
		return nil
	}
}

// WithClock gives the writer the current offset from the corpus clock
// origin, so the reorder window also releases records as time passes when
// no newer record arrives (live recorders).
func WithClock(now func() time.Duration) WriterOption {
	return func(o *writerOptions) error {
		o.clock = now
		return nil
	}
}

// WithOverwrite lets Create replace an existing corpus. Without it Create
// refuses, so nothing already recorded is lost by accident.
func WithOverwrite() WriterOption {
	return func(o *writerOptions) error {
		o.overwrite = true
		return nil
	}
}

// WriterStats reports what a Writer has done.
type WriterStats struct {
	Counts
	Blocks int
	// RawBytes is the size of the encoded records before compression.
	RawBytes int64
	// FileBytes is the size of the corpus on disk so far.
	FileBytes int64
	// OnDisk counts records in blocks written whole; Lost counts records
	// accepted by Write whose block could not be written (disk full).
	OnDisk, Lost int64
}

// Writer writes a corpus. It is a traffic.Sink: Write is safe for
// concurrent use. Compression and file writes happen on a background
// goroutine, so Write only encodes and appends to memory unless the
// background writer falls more than two blocks behind.
type Writer struct {
	opts writerOptions
	out  io.Writer
	file *os.File // nil with NewWriter
	path string   // final name with Create

	mu       sync.Mutex
	pending  pendingHeap
	seq      uint64
	maxStart time.Duration
	released time.Duration // Start of the last record released to a block
	raw      []byte
	rawCount uint32
	rawMin   time.Duration
	rawMax   time.Duration
	counts   Counts
	closed   bool

	blocks chan sealed
	done   chan struct{}
	stop   chan struct{}

	wmu      sync.Mutex // guards the fields the background goroutine sets
	werr     error
	onDisk   int64
	lost     int64
	offset   int64
	index    []BlockInfo
	rawBytes int64
}

var _ traffic.Sink = (*Writer)(nil)

type sealed struct {
	raw     []byte
	records uint32
	min     time.Duration
	max     time.Duration
	ack     chan struct{} // closed once written, for Flush
}

// Create starts a corpus at path. The data goes to path+PartialSuffix,
// mode 0600, renamed to path by Close.
func Create(path string, h traffic.Header, opts ...WriterOption) (*Writer, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if !o.overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s already exists: choose another output name or remove it first", path)
		}
	}
	partial := path + PartialSuffix
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s exists, left by an earlier recording that did not finish: it is a readable corpus, rename or remove it first", partial)
	}
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("create corpus: %w: choose an output in a directory you can write", err)
	}
	if err != nil {
		return nil, fmt.Errorf("create corpus: %w", err)
	}
	w, err := newWriter(f, h, o)
	if err != nil {
		f.Close()
		os.Remove(partial)
		return nil, err
	}
	w.file = f
	w.path = path
	return w, nil
}

// NewWriter writes a corpus to out. Close does not close out.
func NewWriter(out io.Writer, h traffic.Header, opts ...WriterOption) (*Writer, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return newWriter(out, h, o)
}

func buildOptions(opts []WriterOption) (writerOptions, error) {
	o := writerOptions{blockSize: DefaultBlockSize, level: zstd.SpeedDefault}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, fmt.Errorf("corpus writer: %w", err)
		}
	}
	return o, nil
}

func newWriter(out io.Writer, h traffic.Header, o writerOptions) (*Writer, error) {
	if h.Version == 0 {
		h.Version = traffic.FormatVersion
	}
	if h.Created.IsZero() {
		h.Created = time.Now().UTC()
	}
	if h.ClockOrigin.IsZero() {
		h.ClockOrigin = h.Created
	}
	rec, err := appendRecord(nil, traffic.Record{Kind: traffic.KindHeader, Header: &h})
	if err != nil {
		return nil, err
	}
	data := append([]byte(nil), fileMagic[:]...)
	data = append(data, byte(ContainerVersion), 0)
	data = append(data, rec...)
	first := skippable(magicHeaderFrame, data)
	if _, err := out.Write(first); err != nil {
		return nil, fmt.Errorf("write corpus header: %w", err)
	}
	w := &Writer{
		opts:   o,
		out:    out,
		offset: int64(len(first)),
		blocks: make(chan sealed, 2),
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
	}
	go w.background()
	if o.flushEach > 0 {
		go w.ticker()
	}
	return w, nil
}

// Write adds r to the corpus. It fails once the background writer has
// failed (disk full, for example); records accepted before that are in the
// corpus up to its last whole block.
func (w *Writer) Write(ctx context.Context, r traffic.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.bgErr(); err != nil {
		return err
	}
	start := r.Start()
	w.mu.Lock()
	late := w.opts.window > 0 && start < w.released
	w.mu.Unlock()
	if late && r.Kind == traffic.KindExchange && !r.Exchange.Has(traffic.FlagLate) {
		x := *r.Exchange
		x.Flags |= traffic.FlagLate
		r.Exchange = &x
	}
	enc, err := appendRecord(nil, r)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("write to closed corpus")
	}
	if late {
		w.counts.Late++
	}
	if w.opts.window == 0 {
		return w.appendRaw(enc, start)
	}
	w.seq++
	heap.Push(&w.pending, pendingRec{start: start, seq: w.seq, enc: enc})
	if start > w.maxStart {
		w.maxStart = start
	}
	return w.release(false)
}

// release moves records out of the reorder heap into the raw block: all of
// them when all is set, else those older than the window.
func (w *Writer) release(all bool) error {
	limit := w.maxStart - w.opts.window
	if w.opts.clock != nil {
		if now := w.opts.clock() - w.opts.window; now > limit {
			limit = now
		}
	}
	for w.pending.Len() > 0 {
		top := w.pending[0]
		if !all && top.start > limit {
			break
		}
		heap.Pop(&w.pending)
		if top.start > w.released {
			w.released = top.start
		}
		if err := w.appendRaw(top.enc, top.start); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) appendRaw(enc []byte, start time.Duration) error {
	if w.rawCount == 0 || start < w.rawMin {
		w.rawMin = start
	}
	if w.rawCount == 0 || start > w.rawMax {
		w.rawMax = start
	}
	if w.raw == nil {
		w.raw = make([]byte, 0, w.opts.blockSize+w.opts.blockSize/8)
	}
	w.raw = append(w.raw, enc...)
	w.rawCount++
	w.counts.add(enc[0])
	if len(w.raw) >= w.opts.blockSize {
		w.seal(nil)
	}
	return nil
}

// seal hands the current raw block to the background writer. Called with
// w.mu held.
func (w *Writer) seal(ack chan struct{}) {
	if w.rawCount == 0 {
		if ack != nil {
			w.blocks <- sealed{ack: ack}
		}
		return
	}
	w.blocks <- sealed{raw: w.raw, records: w.rawCount, min: w.rawMin, max: w.rawMax, ack: ack}
	w.raw = nil
	w.rawCount = 0
}

// Flush writes every record released from the reorder window and waits
// until it has reached the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errors.New("flush of closed corpus")
	}
	if err := w.release(false); err != nil {
		w.mu.Unlock()
		return err
	}
	ack := make(chan struct{})
	w.seal(ack)
	w.mu.Unlock()
	<-ack
	return w.bgErr()
}

// Close writes everything still held, the index, and renames the file to
// its final name. After an error the corpus still reads to its last whole
// block.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	relErr := w.release(true)
	w.seal(nil)
	w.closed = true
	close(w.blocks)
	w.mu.Unlock()
	close(w.stop)
	<-w.done

	err := errors.Join(relErr, w.bgErr())
	if err == nil {
		w.wmu.Lock()
		idx := appendIndex(nil, w.index, w.counts, w.offset)
		w.wmu.Unlock()
		if _, werr := w.out.Write(idx); werr != nil {
			err = fmt.Errorf("write corpus index: %w", werr)
		}
	}
	if w.file != nil {
		if serr := w.file.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("sync corpus: %w", serr)
		}
		if cerr := w.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close corpus: %w", cerr)
		}
		if rerr := os.Rename(w.path+PartialSuffix, w.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rename corpus: %w", rerr))
		}
	}
	return err
}

// Path is the corpus's final name ("" for NewWriter).
func (w *Writer) Path() string { return w.path }

// Stats returns a snapshot of the writer's counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	c := w.counts
	w.mu.Unlock()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return WriterStats{Counts: c, Blocks: len(w.index), RawBytes: w.rawBytes, FileBytes: w.offset, OnDisk: w.onDisk, Lost: w.lost}
}

func (w *Writer) bgErr() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.werr
}

func (w *Writer) ticker() {
	t := time.NewTicker(w.opts.flushEach)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if w.closed {
				w.mu.Unlock()
				return
			}
			// Errors surface on the next Write or Close.
			_ = w.release(false)
			w.seal(nil)
			w.mu.Unlock()
		}
	}
}

func (w *Writer) background() {
	defer close(w.done)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(w.opts.level), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	if err != nil {
		w.setErr(fmt.Errorf("zstd encoder: %w", err))
	}
	var buf []byte
	for b := range w.blocks {
		if b.records > 0 && w.bgErr() != nil {
			w.wmu.Lock()
			w.lost += int64(b.records)
			w.wmu.Unlock()
		}
		if b.records > 0 && w.bgErr() == nil {
			buf = enc.EncodeAll(b.raw, buf[:0])
			desc := blockDesc{
				Compressed: uint32(len(buf)), Raw: uint32(len(b.raw)), Records: b.records,
				MinStart: b.min, MaxStart: b.max,
			}
			desc.CRC = desc.checksum(buf)
			frame := skippable(magicBlockFrame, desc.append(nil))
			frame = append(frame, buf...)
			w.wmu.Lock()
			at := w.offset
			w.wmu.Unlock()
			n, werr := w.out.Write(frame)
			w.wmu.Lock()
			w.offset += int64(n)
			if werr != nil {
				w.werr = fmt.Errorf("write corpus block at offset %d: %w", at, werr)
				w.lost += int64(b.records)
			} else {
				w.onDisk += int64(b.records)
				w.index = append(w.index, BlockInfo{Offset: at, Records: int(b.records), Raw: len(b.raw), Size: len(frame), MinStart: b.min, MaxStart: b.max})
				w.rawBytes += int64(len(b.raw))
			}
			w.wmu.Unlock()
		}
		if b.ack != nil {
			close(b.ack)
		}
	}
}

func (w *Writer) setErr(err error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.werr == nil {
		w.werr = err
	}
}

type pendingRec struct {
	start time.Duration
	seq   uint64
	enc   []byte
}

type pendingHeap []pendingRec

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].start != h[j].start {
		return h[i].start < h[j].start
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pendingRec)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
