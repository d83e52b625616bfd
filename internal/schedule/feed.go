package schedule

import (
	"container/heap"
	"context"
	"hash/fnv"
	"io"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// feed is one pass over the corpus: records of the selected shard in start
// order, re-sorted within the reorder window. A record that arrives after
// a later-starting one was already returned comes out at once, marked
// late.
type feed struct {
	src   traffic.Source
	close func() error // set when the schedule opened src itself
	opts  *Options

	pending recHeap
	arrival uint64
	origin  time.Duration
	started bool
	maxSeen time.Duration // latest start read
	emitted time.Duration // latest start returned
	srcEOF  bool
	pos     uint64 // records returned
	// idle is the corpus time cut out of gaps longer than Options.MaxGap
	// so far; last is the start of the latest record returned in order.
	idle time.Duration
	last time.Duration

	// disorder is the furthest a record came after a later-starting one
	// so far: the reorder window holds twice that (at least minWindow, at
	// most Options.Window), so a corpus written in order holds few records
	// in memory.
	disorder time.Duration

	read, skipped int64
}

// minWindow is the smallest reorder window.
const minWindow = 250 * time.Millisecond

// window is the reorder window in use: twice the disorder seen so far,
// within minWindow and Options.Window.
func (f *feed) window() time.Duration {
	return ReorderWindow(f.disorder, f.opts.Window)
}

// ReorderWindow is the reorder window for a corpus as far out of start
// order as disorder: twice it, at least 250ms and at most longest
// (Options.Window; DefaultWindow when 0).
func ReorderWindow(disorder, longest time.Duration) time.Duration {
	if longest == 0 {
		longest = DefaultWindow
	}
	return min(longest, max(minWindow, 2*disorder))
}

func newFeed(src traffic.Source, closer func() error, opts *Options) *feed {
	return &feed{src: src, close: closer, opts: opts, disorder: opts.Disorder}
}

// next returns the next record and its position in the pass, io.EOF after
// the last.
func (f *feed) next(ctx context.Context) (rec traffic.Record, pos uint64, late bool, err error) {
	for {
		// Return the earliest pending record once nothing earlier can
		// still arrive within the window, or once the source is drained.
		if f.pending.Len() > 0 && (f.srcEOF || f.pending[0].start <= f.maxSeen-f.window()) {
			p := heap.Pop(&f.pending).(pendingRec)
			return f.emit(p.rec, false)
		}
		if f.srcEOF {
			return traffic.Record{}, 0, false, io.EOF
		}
		rec, err := f.src.Next(ctx)
		if err == io.EOF {
			f.srcEOF = true
			continue
		}
		if err != nil {
			return traffic.Record{}, 0, false, err
		}
		f.read++
		if rec.Kind == traffic.KindHeader {
			f.skipped++
			continue
		}
		start := rec.Start()
		if f.pos == 0 && (!f.started || start < f.origin) {
			// Until the first record goes out, the pass starts at the
			// earliest record seen, of any shard: shards of one run
			// share its clock.
			f.started = true
			f.origin = start
		}
		if !f.keep(rec) {
			f.skipped++
			continue
		}
		if f.pos > 0 && start < f.emitted {
			return f.emit(rec, true)
		}
		if start > f.maxSeen {
			f.maxSeen = start
		} else if d := f.maxSeen - start; d > f.disorder {
			f.disorder = d
		}
		f.arrival++
		heap.Push(&f.pending, pendingRec{start: start, arrival: f.arrival, rec: rec})
	}
}

func (f *feed) emit(rec traffic.Record, late bool) (traffic.Record, uint64, bool, error) {
	s := rec.Start()
	if g := f.opts.MaxGap; g > 0 && f.pos > 0 && s-f.last > g {
		f.idle += s - f.last - g
	}
	if s > f.emitted {
		f.emitted = s
	}
	if s > f.last {
		f.last = s
	}
	pos := f.pos
	f.pos++
	return rec, pos, late, nil
}

// rel is the offset of a record start from the pass's origin, idle gaps
// longer than Options.MaxGap cut down to it.
func (f *feed) rel(start time.Duration) time.Duration {
	return max(start-f.origin-f.idle, 0)
}

func (f *feed) keep(rec traffic.Record) bool {
	if f.opts.Shards <= 1 {
		return true
	}
	if f.opts.ShardOf != nil {
		return f.opts.ShardOf(rec.Flow(), f.opts.Shards) == f.opts.Shard
	}
	h := fnv.New32a()
	h.Write([]byte(rec.Flow()))
	return int(h.Sum32()%uint32(f.opts.Shards)) == f.opts.Shard
}

func (f *feed) shut() {
	if f.close != nil {
		f.close()
		f.close = nil
	}
}

type pendingRec struct {
	start   time.Duration
	arrival uint64
	rec     traffic.Record
}

type recHeap []pendingRec

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	if h[i].start != h[j].start {
		return h[i].start < h[j].start
	}
	return h[i].arrival < h[j].arrival
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(pendingRec)) }
func (h *recHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
