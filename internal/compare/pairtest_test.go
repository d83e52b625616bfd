package compare

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPairedReferenceValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		// P(X >= 8) for X ~ Bin(10, 0.5) = 56/1024
		{"binomial upper", binomialUpper(8, 10, 0.5), 0.0546875},
		{"binomial upper all", binomialUpper(0, 10, 0.5), 1},
		{"binomial upper none", binomialUpper(11, 10, 0.5), 0},
		// McNemar: 1 against 9 discordant pairs, two-sided exact
		{"mcnemar", mcnemar(1, 9), 0.021484375},
		// Student's 95% critical values
		{"t crit df=5", tCritical(5), 2.570582},
		{"t crit df=30", tCritical(30), 2.042272},
	} {
		if !near(tc.got, tc.want, 1e-5*math.Max(1, tc.want)) {
			t.Errorf("%s = %.8g, want %.8g", tc.name, tc.got, tc.want)
		}
	}
	if p := mcnemar(0, 0); !math.IsNaN(p) {
		t.Errorf("mcnemar with no discordant pair = %v, want NaN", p)
	}
}

// windows spreads n pairs evenly over k windows.
func windows(n, k int) []int64 {
	w := make([]int64, n)
	for i := range w {
		w[i] = int64(i * k / n)
	}
	return w
}

func TestSignedRank(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	noise := func(n int, shift float64) []float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = r.NormFloat64() + shift
		}
		return d
	}
	t.Run("shift found", func(t *testing.T) {
		p, slower := signedRank(noise(200, 0.5), windows(200, 20))
		if p > 1e-4 || slower < 0.6 {
			t.Errorf("p %v, P(B slower) %v: a shift of half a standard deviation over 200 pairs", p, slower)
		}
	})
	t.Run("no shift", func(t *testing.T) {
		rejected := 0
		for range 200 {
			if p, _ := signedRank(noise(100, 0), windows(100, 20)); p < 0.01 {
				rejected++
			}
		}
		// nominal 1%: at most 6 of 200 by chance (binomial 99.5%)
		if rejected > 6 {
			t.Errorf("rejected %d of 200 samples without a shift at 1%%", rejected)
		}
	})
	t.Run("too few", func(t *testing.T) {
		if p, _ := signedRank([]float64{1, 2, 0, 0, 3}, windows(5, 5)); !math.IsNaN(p) {
			t.Errorf("p = %v for 3 nonzero differences, want untested", p)
		}
		if p, _ := signedRank(noise(50, 1), windows(50, 2)); !math.IsNaN(p) {
			t.Errorf("p = %v over 2 windows, want untested", p)
		}
	})
	// A moment that disturbs one release moves every pair of its window
	// the same way: 20 windows, each with an offset of its own sign. A
	// test of independent pairs finds a shift nearly every time; the
	// window-robust one at about its nominal rate.
	t.Run("bursts are not a shift", func(t *testing.T) {
		rejected := 0
		for range 100 {
			d := make([]float64, 400)
			w := windows(400, 20)
			offset := make([]float64, 20)
			for i := range offset {
				offset[i] = 3 * r.NormFloat64()
			}
			for i := range d {
				d[i] = offset[w[i]] + 0.2*r.NormFloat64()
			}
			if p, _ := signedRank(d, w); p < 0.01 {
				rejected++
			}
		}
		if rejected > 5 {
			t.Errorf("rejected %d of 100 runs of bursts without a shift at 1%%", rejected)
		}
	})
}

func TestPairedQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1000
	a, b, same := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range a {
		// a lognormal service time in ms, and a moment's load shared by
		// the twins
		load := 5 * r.ExpFloat64()
		a[i] = math.Exp(r.NormFloat64()*0.5) + load
		b[i] = a[i] + 10
		same[i] = math.Exp(r.NormFloat64()*0.5) + load
	}
	w := windows(n, 40)
	t.Run("shift", func(t *testing.T) {
		qc := pairedQuantiles(a, b, w, pairedQs, 7)
		for i, c := range qc {
			if !near(c.Delta, 10, 1e-9) || c.Lo > 10 || c.Hi < 10 || c.P > 1e-6 {
				t.Errorf("quantile %d: delta %v [%v, %v] p %v: want 10 inside its interval, significant", i, c.Delta, c.Lo, c.Hi, c.P)
			}
		}
	})
	t.Run("no shift", func(t *testing.T) {
		qc := pairedQuantiles(a, same, w, pairedQs, 7)
		for i, c := range qc[:len(pairedQs)] {
			if c.P < 0.001 || c.Lo > c.Delta || c.Hi < c.Delta {
				t.Errorf("quantile %d: delta %v [%v, %v] p %v: want no significant change", i, c.Delta, c.Lo, c.Hi, c.P)
			}
		}
	})
	t.Run("repeatable", func(t *testing.T) {
		x, y := pairedQuantiles(a, same, w, pairedQs, 9), pairedQuantiles(a, same, w, pairedQs, 9)
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("quantile %d differs between two computations with one seed: %+v %+v", i, x[i], y[i])
			}
		}
	})
	t.Run("tails untested", func(t *testing.T) {
		qc := pairedQuantiles(a[:100], b[:100], w[:100], pairedQs, 7)
		if !math.IsNaN(qc[3].P) || math.IsNaN(qc[0].P) {
			t.Errorf("100 pairs: p99 p = %v (want untested), p50 p = %v (want tested)", qc[3].P, qc[0].P)
		}
	})
}

func TestWindowTest(t *testing.T) {
	// 10 windows of 10 pairs, each window's pairs all +1 or all -1, five
	// of each: a mean of 0
	var c cluster
	for i := range 10 {
		c.n = append(c.n, 10)
		c.sum = append(c.sum, float64(10*(2*(i%2)-1)))
	}
	if p, _ := windowTest(c, 0, 1, 100); p < 0.99 {
		t.Errorf("balanced windows: p = %v, want 1", p)
	}
	// 8 windows of +1 against 2 of -1: mean 0.6, iid variance 0.64; the
	// robust variance is larger (whole windows move)
	c = cluster{}
	for i := range 10 {
		s := 10.0
		if i < 2 {
			s = -10
		}
		c.n = append(c.n, 10)
		c.sum = append(c.sum, s)
	}
	mean := 0.6
	if rob, iid := c.robustVariance(mean, 100), 0.64/100; rob <= iid {
		t.Errorf("robust variance %v not above the independent one %v", rob, iid)
	}
	if p, _ := windowTest(c, mean, 0.64, 100); p < 0.01 || p > 0.2 {
		t.Errorf("8 windows of 10 against 2: p = %v, want between 0.01 and 0.2 (9 degrees of freedom)", p)
	}
	if p, _ := windowTest(cluster{n: []float64{5, 5}, sum: []float64{5, 5}}, 1, 0, 10); !math.IsNaN(p) {
		t.Errorf("2 windows: p = %v, want untested", p)
	}
}

func TestSpread(t *testing.T) {
	var s spread
	for _, w := range []int64{1, 1, 1, 2, 2, 5, 5, 5, 6} {
		s.add(w)
	}
	if s.n != 4 {
		t.Errorf("spread counted %d windows, want 4", s.n)
	}
}
