package compare

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Tests of paired samples: each request sent to B paired with its twin
// sent to A at the same moment. As in stats.go, p-values are two-sided
// and NaN means "not testable".
//
// Pairs are not independent of each other: what disturbs one release for
// a moment (a CPU hog taking its core, a pause of its process, a queue
// building up behind a slow answer) moves every pair of that moment the
// same way. So pairs are grouped in windows of the run (Window), and
// every test is cluster-robust: its variance is the larger of the usual
// one and the one computed from the windows' sums (the sandwich
// estimator), and its statistic is referred to Student's t with one
// degree of freedom fewer than there are windows. Measured on replays of
// one release against two instances of itself on a loaded machine, the
// usual variance of the mean difference was up to 160 times too small;
// windows of 250 ms brought the statistics back to the spread of chance.

// minPairs is the fewest nonzero differences the signed-rank test and
// the paired mean are tested on; minWindows the fewest windows.
const (
	minPairs   = 10
	minWindows = 4
)

// cluster is the windows of a set of pairs: sums per window of a value
// computed on each pair.
type cluster struct {
	n   []float64 // pairs per window
	sum []float64 // sum of the value per window
}

// robustVariance is the variance of the mean of values summed per
// window (the sandwich estimator with its small-sample factor k/(k-1)),
// around mean, over total pairs.
func (c cluster) robustVariance(mean, total float64) float64 {
	k := float64(len(c.n))
	if k < 2 || total == 0 {
		return 0
	}
	var ss float64
	for i := range c.n {
		r := c.sum[i] - c.n[i]*mean
		ss += r * r
	}
	return ss / (total * total) * k / (k - 1)
}

// windowTest tests whether the mean of a value differs from zero: mean
// over total pairs, iidVar the usual variance of one value; the
// variance of the mean is the larger of the usual and the robust one,
// and the statistic has len(c.n)-1 degrees of freedom. It returns the
// p-value and the half-width of the 95% interval.
func windowTest(c cluster, mean, iidVar, total float64) (p, half float64) {
	k := len(c.n)
	if k < minWindows || total < 2 {
		return math.NaN(), math.NaN()
	}
	v := math.Max(iidVar/total, c.robustVariance(mean, total))
	df := float64(k - 1)
	if v <= 0 {
		if mean == 0 {
			return 1, 0
		}
		return 0, 0
	}
	se := math.Sqrt(v)
	return studentP(mean/se, df), tCritical(df) * se
}

// signedRank is the Wilcoxon signed-rank test of the paired differences
// d, whose pairs fall in the windows win: zero differences are dropped,
// tied magnitudes get their mean rank, and the statistic T (the sum of
// the signed ranks) is divided by the square root of the larger of its
// variance under independence (the sum of the squared ranks, which
// corrects for ties) and its window-robust variance, then referred to
// Student's t with windows - 1 degrees of freedom. It returns the
// two-sided p-value and the share of pairs in which B was slower (ties
// counting half).
func signedRank(d []float64, win []int64) (p, slower float64) {
	type mag struct {
		v   float64
		pos bool
		w   int64
	}
	var ms []mag
	var up, zero float64
	for i, x := range d {
		switch {
		case x > 0:
			ms = append(ms, mag{x, true, win[i]})
			up++
		case x < 0:
			ms = append(ms, mag{-x, false, win[i]})
		default:
			zero++
		}
	}
	if len(d) > 0 {
		slower = (up + zero/2) / float64(len(d))
	}
	if len(ms) < minPairs {
		return math.NaN(), slower
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].v < ms[j].v })
	score := make([]float64, len(ms))
	var t, vIID float64
	for i := 0; i < len(ms); {
		j := i
		for j < len(ms) && ms[j].v == ms[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			score[k] = rank
			if !ms[k].pos {
				score[k] = -rank
			}
			t += score[k]
			vIID += rank * rank
		}
		i = j
	}
	idx := map[int64]int{}
	var c cluster
	for k, m := range ms {
		i, ok := idx[m.w]
		if !ok {
			i = len(c.n)
			idx[m.w] = i
			c.n, c.sum = append(c.n, 0), append(c.sum, 0)
		}
		c.n[i]++
		c.sum[i] += score[k]
	}
	if len(c.n) < minWindows {
		return math.NaN(), slower
	}
	n := float64(len(ms))
	// the robust variance of the mean score, scaled back to the sum
	vRob := c.robustVariance(t/n, n) * n * n
	v := math.Max(vIID, vRob)
	if v <= 0 {
		return 1, slower
	}
	return studentP(t/math.Sqrt(v), float64(len(c.n)-1)), slower
}

// nearestRank is the q-quantile of sorted values: the value of rank
// ceil(q n), as metrics' histograms give percentiles.
func nearestRank(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(q*float64(n))) - 1
	return sorted[max(0, min(k, n-1))]
}

// quantileChange is a change of one quantile between the A and B values
// of paired samples (or, for the shift, the median of their
// differences).
type quantileChange struct {
	A, B, Delta float64
	// SE is the bootstrap standard error of Delta; Lo and Hi the 95%
	// percentile interval of it. P tests Delta = 0 (Student's t with
	// windows - 1 degrees of freedom, with SE); NaN when too few pairs
	// lie beyond the quantile or too few windows hold them.
	SE, Lo, Hi, P float64
}

// bootstrapRounds is how many times windows are resampled to estimate
// the spread of a quantile change: enough for a standard error (about 5%
// accurate) and a rough 95% interval.
const bootstrapRounds = 200

// pairedQuantiles compares the qs-quantiles of the A and B values of
// paired samples (a[i] and b[i] measured on one event's twins, in window
// win[i]), and the median of their differences (the last element of the
// result, A and B being the medians of a and b). The spread of each
// change comes from the paired block bootstrap: whole windows of pairs
// are resampled, so that what the twins share (the moment they were
// sent, the machine's load then) cancels in the change, and what a
// moment did to one release alone counts as one draw, not as many. seed
// makes the resampling repeatable. A quantile is tested only with at
// least minTail pairs beyond it on each side.
func pairedQuantiles(a, b []float64, win []int64, qs []float64, seed uint64) []quantileChange {
	n := len(a)
	out := make([]quantileChange, len(qs)+1)
	if n == 0 {
		for i := range out {
			out[i] = quantileChange{A: math.NaN(), B: math.NaN(), Delta: math.NaN(), P: math.NaN()}
		}
		return out
	}
	d := make([]float64, n)
	for i := range n {
		d[i] = b[i] - a[i]
	}
	oa, ob, od := order(a), order(b), order(d)
	value := func(v []float64, o []int, q float64) float64 {
		k := int(math.Ceil(q*float64(n))) - 1
		return v[o[max(0, min(k, n-1))]]
	}
	for i, q := range qs {
		out[i].A, out[i].B = value(a, oa, q), value(b, ob, q)
		out[i].Delta = out[i].B - out[i].A
	}
	med := &out[len(qs)]
	med.A, med.B, med.Delta = value(a, oa, 0.5), value(b, ob, 0.5), value(d, od, 0.5)
	// windows: the pairs of each
	idx := map[int64]int{}
	var members [][]int
	for i, w := range win {
		j, ok := idx[w]
		if !ok {
			j = len(members)
			idx[w] = j
			members = append(members, nil)
		}
		members[j] = append(members[j], i)
	}
	k := len(members)
	rng := rand.New(rand.NewPCG(seed, 0x9a12ed))
	wt := make([]int32, n)
	deltas := make([][]float64, len(out))
	qa, qb, qd := make([]float64, len(qs)), make([]float64, len(qs)), make([]float64, 1)
	for range bootstrapRounds {
		clear(wt)
		total := 0
		for range k {
			for _, i := range members[rng.IntN(k)] {
				wt[i]++
				total++
			}
		}
		want := make([]int, len(qs))
		for i, q := range qs {
			want[i] = max(1, int(math.Ceil(q*float64(total))))
		}
		walkRanks(oa, a, wt, want, qa)
		walkRanks(ob, b, wt, want, qb)
		walkRanks(od, d, wt, []int{max(1, int(math.Ceil(0.5*float64(total))))}, qd)
		for i := range qs {
			deltas[i] = append(deltas[i], qb[i]-qa[i])
		}
		deltas[len(qs)] = append(deltas[len(qs)], qd[0])
	}
	for i := range out {
		c := &out[i]
		ds := deltas[i]
		var mean float64
		for _, x := range ds {
			mean += x
		}
		mean /= float64(len(ds))
		var ss float64
		for _, x := range ds {
			ss += (x - mean) * (x - mean)
		}
		c.SE = math.Sqrt(ss / float64(len(ds)-1))
		slices.Sort(ds)
		c.Lo, c.Hi = nearestRank(ds, 0.025), nearestRank(ds, 0.975)
		q := 0.5
		if i < len(qs) {
			q = qs[i]
		}
		if float64(n)*q < minTail || float64(n)*(1-q) < minTail || k < minWindows {
			c.P = math.NaN()
			continue
		}
		switch {
		case c.SE > 0:
			c.P = studentP(c.Delta/c.SE, float64(k-1))
		case c.Delta == 0:
			c.P = 1
		default:
			c.P = 0
		}
	}
	return out
}

// order returns the indices of v in ascending order of value.
func order(v []float64) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool { return v[idx[x]] < v[idx[y]] })
	return idx
}

// walkRanks finds, in one pass over the values in ascending order (ord),
// the values of the wanted ranks of a resample in which value i is drawn
// w[i] times. want is ascending.
func walkRanks(ord []int, v []float64, w []int32, want []int, out []float64) {
	cum, k := 0, 0
	for _, i := range ord {
		cum += int(w[i])
		for k < len(want) && cum >= want[k] {
			out[k] = v[i]
			k++
		}
		if k == len(want) {
			return
		}
	}
	for ; k < len(want); k++ {
		out[k] = v[ord[len(ord)-1]]
	}
}

// welford accumulates a mean and variance in one pass.
type welford struct {
	n        int64
	mean, m2 float64
}

func (w *welford) add(x float64) {
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
}

func (w *welford) variance() float64 {
	if w.n < 2 {
		return 0
	}
	return w.m2 / float64(w.n-1)
}

// tCritical is the two-sided 95% critical value of Student's t with df
// degrees of freedom (bisection on studentP).
func tCritical(df float64) float64 {
	lo, hi := 1.9, 13.0 // t(1) = 12.71
	for range 60 {
		mid := (lo + hi) / 2
		if studentP(mid, df) > 0.05 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// mcnemar is the exact McNemar test of paired outcomes: of the pairs
// that disagree, onlyB had the event in B only and onlyA in A only;
// under no change each disagreement goes either way with probability
// one half (two-sided exact binomial). NaN when no pair disagrees.
func mcnemar(onlyA, onlyB int64) float64 {
	if onlyA+onlyB == 0 {
		return math.NaN()
	}
	return binomialP(onlyB, onlyA+onlyB, 0.5)
}

// binomialUpper is P(X >= k) for X binomial with n trials of
// probability p: the one-sided exact test of k successes being too many.
func binomialUpper(k, n int64, p float64) float64 {
	if k <= 0 {
		return 1
	}
	if k > n {
		return 0
	}
	lf := func(v int64) float64 { r, _ := math.Lgamma(float64(v) + 1); return r }
	var sum float64
	for x := k; x <= n; x++ {
		sum += math.Exp(lf(n) - lf(x) - lf(n-x) + float64(x)*math.Log(p) + float64(n-x)*math.Log1p(-p))
	}
	return math.Min(1, sum)
}

// spread counts the distinct windows a kind of event fell in, for tests
// that must not count one moment's burst as many independent events.
// Events come roughly in time order, so a window is counted when it
// differs from the last one seen: a window seen again after another is
// counted again, which errs by a little when answers arrive out of
// order around a window's edge.
type spread struct {
	n    int64
	last int64
	seen bool
}

func (s *spread) add(w int64) {
	if !s.seen || w != s.last {
		s.n++
	}
	s.seen, s.last = true, w
}
