package compare

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestReferenceValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		// Fisher's lady tasting tea: 3 of 4 against 1 of 4
		{"fisher tea", fisher(3, 4, 1, 4), 0.4857142857},
		{"fisher extreme", fisher(0, 10, 10, 10), 1.0825088224e-05},
		{"fisher equal", fisher(5, 10, 5, 10), 1},
		// Student t, two-sided
		{"t=2.0 df=10", studentP(2.0, 10), 0.07338803},
		{"t=2.5 df=3", studentP(2.5, 3), 0.087706647}, // closed form for df=3
		{"t=1.96 df=inf", studentP(1.96, 1e9), 0.04999579},
		{"normal z=3", normalP(3), 0.0026997961},
		// exact binomial: 2 of 10 at 0.5
		{"binomial", binomialP(2, 10, 0.5), 0.109375},
	} {
		if !near(tc.got, tc.want, 1e-6*math.Max(1, tc.want)+1e-9) {
			t.Errorf("%s = %.10g, want %.10g", tc.name, tc.got, tc.want)
		}
	}
}

func TestProportions(t *testing.T) {
	p, test := proportions(50, 1000, 80, 1000)
	// pooled z = 2.7211, p = 0.00651
	if test != "two-proportion z" || !near(p, 0.0065066, 1e-6) {
		t.Errorf("z-test p = %v (%s)", p, test)
	}
	if _, test := proportions(0, 1000, 3, 1000); test != "fisher" {
		t.Errorf("rare counts use %s, want fisher", test)
	}
	if p, _ := proportions(0, 0, 3, 10); !math.IsNaN(p) {
		t.Errorf("empty sample gives %v", p)
	}
}

func TestAdjustBH(t *testing.T) {
	raw := []float64{0.01, 0.04, 0.03, 0.005, math.NaN()}
	ps := make([]*float64, len(raw))
	for i := range raw {
		v := raw[i]
		ps[i] = &v
	}
	ps = append(ps, nil)
	adjustBH(ps)
	// sorted 0.005 0.01 0.03 0.04 over m = 4: 0.02 0.02 0.04 0.04
	want := []float64{0.02, 0.04, 0.04, 0.02}
	for i, w := range want {
		if !near(*ps[i], w, 1e-12) {
			t.Errorf("q[%d] = %v, want %v", i, *ps[i], w)
		}
	}
	if !math.IsNaN(*ps[4]) {
		t.Error("NaN adjusted")
	}
}

// The Mann-Whitney U of histograms equals the textbook statistic computed
// on the values (every value in its bucket, ties by mid-rank).
func TestMannWhitneyMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 20; trial++ {
		da, db := metrics.NewDist(), metrics.NewDist()
		var va, vb []float64
		for i := 0; i < 40+trial; i++ {
			v := time.Duration(r.IntN(30)) * time.Millisecond // many ties
			da.Record(v)
			va = append(va, float64(v))
		}
		for i := 0; i < 35; i++ {
			v := time.Duration(r.IntN(30)+trial/4) * time.Millisecond
			db.Record(v)
			vb = append(vb, float64(v))
		}
		_, pSup := mannWhitney(newHist(da), newHist(db))
		var u float64
		for _, x := range va {
			for _, y := range vb {
				switch {
				case y > x:
					u++
				case y == x:
					u += 0.5
				}
			}
		}
		want := u / float64(len(va)*len(vb))
		if !near(pSup, want, 1e-9) {
			t.Fatalf("trial %d: P(B>A) = %v, brute force %v", trial, pSup, want)
		}
	}
	if p, _ := mannWhitney(newHist(metrics.NewDist()), newHist(metrics.NewDist())); !math.IsNaN(p) {
		t.Error("empty histograms tested")
	}
}

func TestQuantileNeedsTails(t *testing.T) {
	d := metrics.NewDist()
	for i := 0; i < 100; i++ {
		d.Record(time.Duration(i) * time.Millisecond)
	}
	h := newHist(d)
	if _, ok := h.quantileSE(0.99); ok {
		t.Error("p99 of 100 values tested")
	}
	se, ok := h.quantileSE(0.5)
	// uniform 0..99 ms: sd of the median is about 0.5*sqrt(100)... 5 ms
	if !ok || se < 3000 || se > 8000 {
		t.Errorf("median se = %v µs, %v", se, ok)
	}
}
