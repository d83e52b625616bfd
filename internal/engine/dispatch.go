package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/reprise/reprise/internal/schedule"
)

// tick is how close to its deadline the dispatcher wakes: everything due
// within it goes out together.
const tick = 500 * time.Microsecond

// dispatcher owns the run's clock and its pacing: it reads the schedule
// and hands every event, at its intended time, to every lane. It runs on
// the goroutine that called RunLanes; lanes' accept methods run on it too,
// in schedule order, which is what correlation and identities need.
type dispatcher struct {
	lanes    []*lane
	duration time.Duration
	// grace is how long past duration what is in flight may finish before
	// it is cut.
	grace time.Duration
	// maxRate dispatches every event as soon as the lanes have room
	// (Config.MaxRate).
	maxRate bool
	clock   clock
}

func (d *dispatcher) run(ctx context.Context, events Events) ([]Stats, error) {
	var maxLag, last time.Duration
	interrupted := false
	first := 0 // the lane that takes the next event first
	d.clock.start = time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// In-flight work ends when the caller's context ends, or after the
	// run's grace period.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	stopOnCtx := context.AfterFunc(ctx, cancelRun)
	defer stopOnCtx()

	var readErr error
dispatch:
	for {
		ev, err := events.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				interrupted = true
				break
			}
			readErr = fmt.Errorf("read schedule: %w", err)
			break
		}
		if d.maxRate {
			// No schedule: the event is due now, and its latency runs
			// from now. The lanes hold it back until a slot is free.
			ev.At = d.clock.now()
		}
		if d.duration > 0 && ev.At > d.duration {
			break
		}
		if !d.pace(ctx, timer, ev) {
			interrupted = true
			break dispatch
		}
		if lag := d.clock.now() - ev.At; lag > maxLag {
			maxLag = lag
		}
		last = ev.At
		// The lanes take turns going first: the order in which they
		// take an event decides which sends it first, and a lane always
		// in the same place would have the other's dispatch in its
		// latency (in a live comparison, a bias toward one target).
		for i := range d.lanes {
			d.lanes[(first+i)%len(d.lanes)].accept(runCtx, ev)
		}
		first++
	}
	if ctx.Err() != nil {
		interrupted = true
	}
	// Close what the corpus left open, then wait for everything in flight:
	// a run with a duration ends on time, cutting what is still in flight
	// after the grace period (each cut result says so).
	for _, l := range d.lanes {
		l.ws.finish(last)
	}
	if d.duration > 0 {
		cut := time.AfterFunc(max(d.duration+d.grace-d.clock.now(), 0), func() {
			for _, l := range d.lanes {
				l.cutting.Store(true)
			}
			cancelRun()
		})
		defer cut.Stop()
	}
	stats := make([]Stats, len(d.lanes))
	for i, l := range d.lanes {
		l.wg.Wait()
		l.workers.stop()
		st := l.stats()
		st.Start = d.clock.start
		st.LastIntended = last
		st.MaxLag = maxLag
		st.Interrupted = interrupted
		stats[i] = st
	}
	elapsed := d.clock.now()
	for i := range stats {
		stats[i].Elapsed = elapsed
	}
	return stats, readErr
}

// pace waits until ev is due (scheduled pacing: its intended time, less
// half a tick). It returns false when ctx ends first.
func (d *dispatcher) pace(ctx context.Context, timer *time.Timer, ev schedule.Event) bool {
	wait := ev.At - d.clock.now()
	if wait <= tick {
		return true
	}
	timer.Reset(wait - tick/2)
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
