package metrics

import "time"

// Saturation describes where a run's target stopped keeping up.
type Saturation struct {
	// At is the start of the first second of the surge, from the run's
	// start.
	At time.Duration
	// Rate is how many requests per second the target completed well
	// (without a sign of overload) from At on: about where it saturates.
	Rate float64
	// Overloaded counts the results from At on that showed overload
	// (traffic.Result.Overload), Completed the requests completed in that
	// time.
	Overloaded, Completed int64
}

// Thresholds of the surge: a second counts when at least surgeMin of its
// results, and surgeShare of them, show overload; the run is saturated
// from the first such second when at least surgeTotal overloads follow,
// surgeTail of its results.
const (
	surgeMin   = 3
	surgeShare = 0.10
	surgeTotal = 10
	surgeTail  = 0.05
)

// Saturation finds the second from which timeouts, resets, 429 and 5xx
// answers and requests kept back surge, and the rate the target sustained
// from then on; false when the run shows no surge.
func (s *Snapshot) Saturation() (Saturation, bool) {
	for i, sec := range s.Series {
		if sec.Overload < surgeMin || float64(sec.Overload) < surgeShare*float64(sec.Requests+sec.Overload) {
			continue
		}
		var sat Saturation
		sat.At = time.Duration(i) * time.Second
		var good int64
		full := 0
		for j := i; j < len(s.Series); j++ {
			t := s.Series[j]
			sat.Overloaded += t.Overload
			sat.Completed += t.Requests
			// the last second of a run is partial: it does not count
			// toward the rate
			if j < len(s.Series)-1 || j == i {
				good += max(t.Requests-t.Overload, 0)
				full++
			}
		}
		if sat.Overloaded < surgeTotal || float64(sat.Overloaded) < surgeTail*float64(sat.Completed+sat.Overloaded) {
			return Saturation{}, false
		}
		sat.Rate = float64(good) / float64(max(full, 1))
		return sat, true
	}
	return Saturation{}, false
}
