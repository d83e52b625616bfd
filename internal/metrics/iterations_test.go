package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

const msec = time.Millisecond

// vuResults feeds c the iterations of VUs first..first+n-1 of a run: each
// VU runs iterations of 1s back to back for 3.5s (the fourth cut at
// 3.5s), each iteration an HTTP request at its start answered in 100ms
// and one at +900ms answered in lat (so a slow last answer lengthens the
// iteration).
func vuResults(c *Collector, first, n int, lat time.Duration) {
	for vu := first; vu < first+n; vu++ {
		for round := 0; round < 4; round++ {
			start := time.Duration(round) * time.Second
			c.StartIteration(vu, round, start)
			add := func(at, took time.Duration) {
				c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Flow: "u", Copy: vu, Round: round,
					Intended: at, Sent: at, Latency: took, Service: took, Status: 200, Expected: 200})
			}
			add(start, 100*msec)
			if round == 3 {
				c.EndIteration(vu, round, start, 3500*msec, false)
				continue
			}
			add(start+900*msec, lat)
			c.EndIteration(vu, round, start+900*msec, start+time.Second, true)
		}
	}
}

// Iterations count whole and cut ones apart; a whole one lasts from its
// start to its last result's completion; VUs count per second.
func TestIterations(t *testing.T) {
	c := NewCollector()
	vuResults(c, 0, 3, 50*msec)
	s := c.Snapshot()
	it := s.Iterations
	if it == nil || it.Complete != 9 || it.Interrupted != 3 || it.Duration.Count() != 9 {
		t.Fatalf("iterations %+v", it)
	}
	if d := it.Duration.Max(); d < 949*msec || d > 951*msec {
		t.Fatalf("iteration duration %v, want 950ms (900ms + the last answer's 50ms)", d)
	}
	var vus []int64
	for _, sec := range s.Series {
		vus = append(vus, sec.VUs)
	}
	if len(vus) != 4 || vus[0] != 3 || vus[3] != 3 {
		t.Fatalf("VUs per second %v, want 3 in each of 4 seconds", vus)
	}
	if med, lo, hi := s.VUsActive(); med != 3 || lo != 3 || hi != 3 {
		t.Fatalf("VUs active %d %d %d", med, lo, hi)
	}
	// A slow last answer shows in the duration.
	slow := NewCollector()
	vuResults(slow, 0, 1, 2*time.Second)
	if d := slow.Snapshot().Iterations.Duration.Min(); d < 2899*msec {
		t.Fatalf("iteration duration %v with a 2s last answer, want 2.9s", d)
	}
	// An iteration started and never ended (the run was interrupted)
	// counts as interrupted, and its VU as running to the last result.
	c.StartIteration(7, 0, 3600*msec)
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Copy: 7, Intended: 3600 * msec, Sent: 3600 * msec, Latency: 1500 * msec, Status: 200, Expected: 200})
	s = c.Snapshot()
	if s.Iterations.Interrupted != 4 || s.Series[4].VUs != 1 || s.Series[3].VUs != 4 {
		t.Fatalf("interrupted %d, VUs %v", s.Iterations.Interrupted, s.Series)
	}
	// A run of copies has none.
	plain := NewCollector()
	plain.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /x", Intended: 0, Latency: msec, Status: 200})
	if s := plain.Snapshot(); s.Iterations != nil || s.Series[0].VUs != 0 {
		t.Fatalf("copies run has iterations %+v", s.Iterations)
	}
}

// Shards of a VU run (each with its share of the VUs) merge into the
// counts of the whole run: iterations, their durations, VUs per second
// and vus_max.
func TestIterationsMergeExactly(t *testing.T) {
	whole := NewCollector()
	vuResults(whole, 0, 5, 50*msec)
	want := whole.Snapshot()
	want.Meta = Meta{VUsMax: 5, Duration: 4 * time.Second}
	merged := &Snapshot{}
	for _, vus := range [][2]int{{0, 3}, {3, 2}} {
		c := NewCollector()
		vuResults(c, vus[0], vus[1], 50*msec)
		s := c.Snapshot()
		s.Meta = Meta{VUsMax: vus[1], Duration: 4 * time.Second}
		var b bytes.Buffer
		if err := Encode(&b, s); err != nil {
			t.Fatal(err)
		}
		d, err := Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(d)
	}
	merged.Meta.Shards = 0
	if got, w := encode(t, merged), encode(t, want); !bytes.Equal(got, w) {
		t.Fatalf("merged shards differ from the whole run:\n%s", firstDiff(got, w))
	}
	if merged.Meta.VUsMax != 5 || merged.Iterations.Complete != 15 {
		t.Fatalf("merged vus_max %d, iterations %+v", merged.Meta.VUsMax, merged.Iterations)
	}
	doc := string(encode(t, merged))
	for _, w := range []string{`"vus_max": 5`, `"iterations": {`, `"complete": 15`, `"interrupted": 5`, `"vus": 5`} {
		if !strings.Contains(doc, w) {
			t.Errorf("results document lacks %s", w)
		}
	}
}

func TestIterationsDecodeErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"negative iterations": `{"format":"reprise-results","version":1,"overall":{},"endpoints":[],"iterations":{"complete":-1,"interrupted":0}}`,
		"negative vus":        `{"format":"reprise-results","version":1,"overall":{},"endpoints":[],"meta":{"vus_max":-2}}`,
		"negative vus second": `{"format":"reprise-results","version":1,"overall":{},"endpoints":[],"series":{"interval_ms":1000,"seconds":[{"vus":-1}]}}`,
	} {
		if _, err := Decode(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Ended iterations wait for their late results only so long: memory
// stays bounded over a long run, and every iteration is still counted.
func TestIterationsBounded(t *testing.T) {
	c := NewCollector()
	n := maxIterPending + 100
	for i := 0; i < n; i++ {
		at := time.Duration(i) * msec
		c.StartIteration(0, i, at)
		c.EndIteration(0, i, at, at+msec, true)
	}
	if len(c.iters.spans) > maxIterPending {
		t.Fatalf("%d iterations kept", len(c.iters.spans))
	}
	if it := c.Snapshot().Iterations; it.Complete != int64(n) || it.Duration.Count() != int64(n) {
		t.Fatalf("iterations %+v, want %d", it, n)
	}
}
