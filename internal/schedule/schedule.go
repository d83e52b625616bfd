package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Event is one record at its intended time.
type Event struct {
	// Seq numbers events in schedule order, from 0.
	Seq uint64
	// At is the intended offset from the start of the run.
	At     time.Duration
	Record traffic.Record
}

// Options shapes a schedule. The zero value replays at recorded speed.
type Options struct {
	// Speed compresses time: 10 fires ten times faster. Zero means 1.
	Speed float64
	// Shard and Shards select the flows hashed to Shard (0-based) of
	// Shards; zero Shards means all.
	Shard, Shards int
	// Window is the reorder window in corpus time (default 10s).
	Window time.Duration
}

// DefaultWindow is the default reorder window.
const DefaultWindow = 10 * time.Second

// Validate checks o.
func (o Options) Validate() error {
	if o.Speed < 0 {
		return fmt.Errorf("speed %v must be positive", o.Speed)
	}
	if o.Shards < 0 || (o.Shards > 0 && (o.Shard < 0 || o.Shard >= o.Shards)) {
		return fmt.Errorf("shard %d/%d out of range: want 0 <= i < N", o.Shard, o.Shards)
	}
	if o.Window < 0 {
		return errors.New("reorder window must not be negative")
	}
	return nil
}

// Stats counts what the schedule did.
type Stats struct {
	Read    int64 // records read from the source
	Emitted int64 // events emitted
	Skipped int64 // records of other shards, and headers
	// Late counts records that arrived after a later-starting record had
	// already been emitted: they are emitted at once, out of order.
	Late int64
	// First and Last are the corpus offsets of the first and last emitted
	// records.
	First, Last time.Duration
}

// Schedule yields events from a source.
type Schedule struct {
	src     traffic.Source
	opts    Options
	pending evHeap
	arrival uint64
	origin  time.Duration
	started bool
	maxSeen time.Duration
	emitted time.Duration
	eof     bool
	seq     uint64
	stats   Stats
}

// New plans src with opts.
func New(src traffic.Source, opts Options) (*Schedule, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	return &Schedule{src: src, opts: opts}, nil
}

// Stats returns the counters so far.
func (s *Schedule) Stats() Stats { return s.stats }

// Speed returns the effective speed.
func (s *Schedule) Speed() float64 { return s.opts.Speed }

// Next returns the next event, io.EOF after the last.
func (s *Schedule) Next(ctx context.Context) (Event, error) {
	for {
		// Emit the earliest pending record once nothing earlier can still
		// arrive within the window, or once the source is drained.
		if s.pending.Len() > 0 && (s.eof || s.pending[0].start <= s.maxSeen-s.opts.Window) {
			p := heap.Pop(&s.pending).(pending)
			return s.emit(p.rec), nil
		}
		if s.eof {
			return Event{}, io.EOF
		}
		rec, err := s.src.Next(ctx)
		if err == io.EOF {
			s.eof = true
			continue
		}
		if err != nil {
			return Event{}, err
		}
		s.stats.Read++
		if !s.keep(rec) {
			s.stats.Skipped++
			continue
		}
		start := rec.Start()
		if s.stats.Emitted == 0 && (!s.started || start < s.origin) {
			// Until the first event goes out, the run starts at the
			// earliest record seen.
			s.started = true
			s.origin = start
		}
		if s.stats.Emitted > 0 && start < s.emitted {
			s.stats.Late++
			return s.emit(rec), nil
		}
		if start > s.maxSeen {
			s.maxSeen = start
		}
		s.arrival++
		heap.Push(&s.pending, pending{start: start, arrival: s.arrival, rec: rec})
	}
}

func (s *Schedule) keep(rec traffic.Record) bool {
	if rec.Kind == traffic.KindHeader {
		return false
	}
	if s.opts.Shards > 1 {
		h := fnv.New32a()
		h.Write([]byte(rec.Flow()))
		if int(h.Sum32()%uint32(s.opts.Shards)) != s.opts.Shard {
			return false
		}
	}
	return true
}

func (s *Schedule) emit(rec traffic.Record) Event {
	start := rec.Start()
	if start > s.emitted {
		s.emitted = start
	}
	if s.stats.Emitted == 0 {
		s.stats.First = start
	}
	if start > s.stats.Last {
		s.stats.Last = start
	}
	s.stats.Emitted++
	rel := max(start-s.origin, 0)
	at := time.Duration(float64(rel) / s.opts.Speed)
	ev := Event{Seq: s.seq, At: at, Record: rec}
	s.seq++
	return ev
}

type pending struct {
	start   time.Duration
	arrival uint64
	rec     traffic.Record
}

type evHeap []pending

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].start != h[j].start {
		return h[i].start < h[j].start
	}
	return h[i].arrival < h[j].arrival
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
