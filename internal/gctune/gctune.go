// Package gctune trades memory the commands can spare for garbage
// collection CPU they cannot: at Go's default GOGC=100 a max-rate replay
// spent a tenth of its CPU marking (and assisting the marker), and every
// CPU-second the generator spends is one the measurement may lack.
//
// Start collects when the heap has grown to five times what was live
// after the last collection (GOGC=400), and earlier when the process
// would pass a soft memory limit, so memory stays bounded as before:
// the limit starts at Floor and follows the live heap (twice it, never
// below Floor), so that a replay whose live heap is large is not made to
// collect continuously near a limit it cannot stay under. A GOGC or
// GOMEMLIMIT set in the environment wins: Start then changes nothing.
package gctune

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Percent is the GOGC Start sets.
const Percent = 400

// Floor is the soft memory limit Start sets at first, and the least it
// lowers it to.
const Floor = 256 << 20

// every is how often the limit follows the live heap.
const every = time.Second

// tuned counts the Starts not yet stopped: overlapping runs in one
// process (tests, a library user) share one tuning, set by the first and
// undone by the last.
var tuned struct {
	sync.Mutex
	n       int
	percent int
	limit   int64
	done    chan struct{}
	wg      sync.WaitGroup
}

// Start tunes the collector for a load-generating command and returns a
// function that undoes it (idempotent) once every Start has been undone.
func Start() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	tuned.Lock()
	defer tuned.Unlock()
	if tuned.n == 0 {
		tuned.percent = debug.SetGCPercent(Percent)
		tuned.limit = debug.SetMemoryLimit(Floor)
		tuned.done = make(chan struct{})
		tuned.wg.Add(1)
		go follow(tuned.done)
	}
	tuned.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			tuned.Lock()
			defer tuned.Unlock()
			tuned.n--
			if tuned.n > 0 {
				return
			}
			close(tuned.done)
			tuned.wg.Wait()
			debug.SetGCPercent(tuned.percent)
			debug.SetMemoryLimit(tuned.limit)
		})
	}
}

// follow sets the memory limit from the live heap every second until
// done is closed.
func follow(done chan struct{}) {
	defer tuned.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				debug.SetMemoryLimit(Limit(sample[0].Value.Uint64()))
			}
		}
	}
}

// Limit is the soft memory limit for a live heap of live bytes: twice
// it, never below Floor.
func Limit(live uint64) int64 {
	if live > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return max(int64(Floor), int64(2*live))
}
