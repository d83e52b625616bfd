package engine

import (
	"sync"
	"time"
)

// workerIdle is how long a worker goroutine waits for more work before
// it ends.
const workerIdle = 2 * time.Second

// workers runs the lane's exchanges on goroutines that outlive one
// exchange: a request's goroutine grows its stack through net/http to
// several KB, and a fresh goroutine per request paid that growth (and its
// copying) every time, about 3 % of a max-rate replay's CPU. A task goes
// to a worker waiting for one, else to a new worker; a worker idle for
// workerIdle, or told to stop, ends.
type workers struct {
	tasks chan func()
	quit  chan struct{}
	once  sync.Once
}

func newWorkers() *workers {
	return &workers{tasks: make(chan func()), quit: make(chan struct{})}
}

// run runs task on a waiting worker, or on a new one.
func (w *workers) run(task func()) {
	select {
	case w.tasks <- task:
	default:
		go w.loop(task)
	}
}

func (w *workers) loop(task func()) {
	task()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case task = <-w.tasks:
			task()
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// stop ends the waiting workers (those running a task end after it).
func (w *workers) stop() {
	w.once.Do(func() { close(w.quit) })
}
