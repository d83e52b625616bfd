// Package gctune trades memory the commands can spare for garbage
// collection CPU they cannot: a replay generating load spends a fifth of
// its CPU collecting at Go's default GOGC=100, and every CPU-second the
// generator spends is one the measurement may lack.
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

// Start tunes the collector for a load-generating command and returns a
// function that restores what was set before (idempotent).
func Start() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prevPercent := debug.SetGCPercent(Percent)
	prevLimit := debug.SetMemoryLimit(Floor)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
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
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			debug.SetGCPercent(prevPercent)
			debug.SetMemoryLimit(prevLimit)
		})
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
