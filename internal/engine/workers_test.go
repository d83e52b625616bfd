package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersRunEveryTaskAndEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	w := newWorkers()
	var ran atomic.Int64
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for i := 0; i < 50; i++ {
			wg.Add(1)
			w.run(func() {
				defer wg.Done()
				time.Sleep(time.Millisecond)
				ran.Add(1)
			})
		}
		wg.Wait()
	}
	if ran.Load() != 150 {
		t.Fatalf("%d tasks ran, want 150", ran.Load())
	}
	w.stop()
	w.stop()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after stop, %d before: workers left behind", n, before)
	}
}
