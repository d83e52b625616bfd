package happyapi

import (
	"context"
	"sync"
	"time"
)

// admission limits how many requests are handled at once and how fast
// they start, the way a saturated server's worker pool and request rate
// limiter do: requests over the limits wait in one bounded FIFO queue for
// a turn, and are refused (503) when the queue is full. The time a request
// waits is part of the latency its client sees.
type admission struct {
	slots    chan struct{} // nil: no concurrency limit
	interval time.Duration // time between two starts; 0: no rate limit
	maxQueue int           // requests allowed to wait

	mu         sync.Mutex
	next       time.Time // earliest start of the next request (rate limit)
	queued     int
	peakQueued int
	active     int
	peakActive int
	waited     int64 // requests that had to wait
	refused    int64 // requests refused with the queue full
}

// admit outcomes.
const (
	admitted = iota
	refusedFull
	clientGone
)

func newAdmission(maxConcurrent int, maxRate float64, maxQueue int) *admission {
	a := &admission{maxQueue: maxQueue}
	if maxConcurrent > 0 {
		a.slots = make(chan struct{}, maxConcurrent)
	}
	if maxRate > 0 {
		a.interval = time.Duration(float64(time.Second) / maxRate)
		if a.interval <= 0 {
			a.interval = 1
		}
	}
	return a
}

// limited reports whether any limit is set.
func (a *admission) limited() bool { return a.slots != nil || a.interval > 0 }

// enter waits for the request's turn. It returns how long the request
// waited in the queue (0 when it did not queue) and whether it was admitted, refused (queue full) or given up
// by its client. An admitted request must call leave.
func (a *admission) enter(ctx context.Context) (time.Duration, int) {
	start := time.Now()
	inQueue := false
	if a.interval > 0 {
		a.mu.Lock()
		turn := start
		if a.next.After(turn) {
			turn = a.next
		}
		if turn.After(start) {
			if !a.queueLocked() {
				a.mu.Unlock()
				return 0, refusedFull
			}
			inQueue = true
		}
		a.next = turn.Add(a.interval)
		a.mu.Unlock()
		if inQueue {
			t := time.NewTimer(turn.Sub(start))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				a.dequeue()
				return time.Since(start), clientGone
			}
		}
	}
	if a.slots != nil {
		select {
		case a.slots <- struct{}{}:
		default:
			if !inQueue {
				a.mu.Lock()
				ok := a.queueLocked()
				a.mu.Unlock()
				if !ok {
					return 0, refusedFull
				}
				inQueue = true
			}
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				a.dequeue()
				return time.Since(start), clientGone
			}
		}
	}
	a.mu.Lock()
	if inQueue {
		a.queued--
	}
	a.active++
	a.peakActive = max(a.peakActive, a.active)
	a.mu.Unlock()
	if !inQueue {
		return 0, admitted
	}
	return time.Since(start), admitted
}

// leave frees the request's place.
func (a *admission) leave() {
	a.mu.Lock()
	a.active--
	a.mu.Unlock()
	if a.slots != nil {
		<-a.slots
	}
}

// queueLocked takes a place in the queue, or counts a refusal when it is
// full; a.mu must be held.
func (a *admission) queueLocked() bool {
	if a.queued >= a.maxQueue {
		a.refused++
		return false
	}
	a.queued++
	a.waited++
	a.peakQueued = max(a.peakQueued, a.queued)
	return true
}

func (a *admission) dequeue() {
	a.mu.Lock()
	a.queued--
	a.mu.Unlock()
}

// admissionCounters is a snapshot of the admission state.
type admissionCounters struct {
	active, peakActive, queued, peakQueued int
	waited, refused                        int64
}

func (a *admission) counters() admissionCounters {
	a.mu.Lock()
	defer a.mu.Unlock()
	return admissionCounters{a.active, a.peakActive, a.queued, a.peakQueued, a.waited, a.refused}
}
