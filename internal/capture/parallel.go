package capture

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Parallel spreads packets over several Processors, one goroutine each,
// by connection (both directions of a connection go to the same one), so
// a live capture uses more than one core. Packet copies the data, so the
// caller may reuse its buffer; it blocks when a worker's queue is full,
// which leaves the backlog in the kernel ring where drops are counted.
type Parallel struct {
	cfg     Config
	sink    traffic.Sink
	n       int
	dec     decoder
	workers []*worker
	mu      sync.Mutex // guards origin and started for Origin
	origin  time.Time
	started bool
	wg      sync.WaitGroup
	closed  bool
}

type worker struct {
	p     *Processor
	queue chan workItem
	err   error
	mu    sync.Mutex
}

type workItem struct {
	pkt  Packet
	tick time.Time
}

// NewParallel returns a Parallel of n workers writing to sink (which must
// accept concurrent writes, as AsyncSink and corpus.Writer do). ConnIDs
// stay unique: worker i numbers its connections i+1, i+1+n, ...
func NewParallel(sink traffic.Sink, cfg Config, n int) *Parallel {
	if n < 1 {
		n = 1
	}
	return &Parallel{cfg: cfg, sink: sink, n: n, origin: cfg.Origin}
}

func (pp *Parallel) start(origin time.Time) {
	pp.mu.Lock()
	pp.started = true
	if pp.origin.IsZero() {
		pp.origin = origin
	}
	pp.mu.Unlock()
	cfg := pp.cfg
	cfg.Origin = pp.origin
	for i := 0; i < pp.n; i++ {
		p := NewProcessor(pp.sink, cfg)
		p.nextConnID = uint64(i)
		p.connIDStep = uint64(pp.n)
		w := &worker{p: p, queue: make(chan workItem, 4096)}
		pp.workers = append(pp.workers, w)
		pp.wg.Add(1)
		go pp.run(w)
	}
}

func (pp *Parallel) run(w *worker) {
	defer pp.wg.Done()
	ctx := context.Background()
	for it := range w.queue {
		if w.failed() {
			continue
		}
		var err error
		if it.pkt.Data != nil {
			err = w.p.Packet(ctx, it.pkt)
		} else {
			err = w.p.Tick(ctx, it.tick)
		}
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}
}

func (w *worker) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

func (pp *Parallel) firstErr() error {
	for _, w := range pp.workers {
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Packet hands a copy of pkt to the worker that owns its connection.
func (pp *Parallel) Packet(ctx context.Context, pkt Packet) error {
	if pp.closed {
		return errors.New("packet after close")
	}
	if !pp.started {
		pp.start(pkt.Timestamp)
	}
	if err := pp.firstErr(); err != nil {
		return err
	}
	i := 0
	if pp.dec.decode(pkt.LinkType, pkt.Data) == nil {
		h := pp.dec.flow.FastHash() ^ pp.dec.tcp.TransportFlow().FastHash()
		i = int(h % uint64(pp.n))
	}
	cp := pkt
	cp.Data = append(make([]byte, 0, len(pkt.Data)), pkt.Data...)
	item := workItem{pkt: cp}
	select {
	case pp.workers[i].queue <- item:
		return nil
	default:
	}
	select {
	case pp.workers[i].queue <- item:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Tick passes the time on to every worker (see Processor.Tick).
func (pp *Parallel) Tick(ctx context.Context, now time.Time) error {
	if !pp.started || pp.closed {
		return nil
	}
	for _, w := range pp.workers {
		select {
		case w.queue <- workItem{tick: now}:
		default: // busy worker: it ages its state on its own packets
		}
	}
	return pp.firstErr()
}

// Close drains the workers and closes their connections. It does not
// close the sink.
func (pp *Parallel) Close(ctx context.Context) error {
	if pp.closed {
		return nil
	}
	pp.closed = true
	for _, w := range pp.workers {
		close(w.queue)
	}
	pp.wg.Wait()
	errs := []error{pp.firstErr()}
	for _, w := range pp.workers {
		errs = append(errs, w.p.Close(ctx))
	}
	return errors.Join(errs...)
}

// Origin is the clock origin shared by the workers (zero before the first
// packet).
func (pp *Parallel) Origin() time.Time {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if !pp.started {
		return pp.cfg.Origin
	}
	return pp.origin
}

// Stats adds up the workers' counters.
func (pp *Parallel) Stats() Stats {
	var s Stats
	for _, w := range pp.workers {
		s.add(w.p.Stats())
	}
	return s
}

func (s *Stats) add(o Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.TCP += o.TCP
	s.NotTCP += o.NotTCP
	s.NotIP += o.NotIP
	s.Fragments += o.Fragments
	s.Reassembled += o.Reassembled
	s.FragsLost += o.FragsLost
	s.Malformed += o.Malformed
	s.CutPackets += o.CutPackets
	s.Connections += o.Connections
	s.Exchanges += o.Exchanges
	s.Incomplete += o.Incomplete
	s.NoResponse += o.NoResponse
	s.Upgrades += o.Upgrades
	s.WSConns += o.WSConns
	s.WSMessages += o.WSMessages
	s.WSFrames += o.WSFrames
	s.Gaps += o.Gaps
	s.GapBytes += o.GapBytes
	s.JunkBytes += o.JunkBytes
	s.InflateErrs += o.InflateErrs
}
