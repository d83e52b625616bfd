package compare

import (
	"math"
	"sort"
	"time"

	"github.com/reprise/reprise/internal/metrics"
)

// Test results carry a two-sided p-value; NaN means "not testable" (too
// few values).

// normalP is the two-sided p-value of a standard normal statistic z.
func normalP(z float64) float64 {
	if math.IsNaN(z) {
		return math.NaN()
	}
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// bucket is one histogram bucket: values in [lo, lo+w), count c, in
// microseconds.
type bucket struct {
	lo, w float64
	c     int64
}

// hist is a Dist's buckets with cumulative counts, for rank queries.
type hist struct {
	b   []bucket
	cum []int64 // cum[i] = counts of buckets 0..i
	n   int64
}

func newHist(d *metrics.Dist) *hist {
	h := &hist{}
	if d == nil {
		return h
	}
	d.Buckets(func(lo, w time.Duration, c int64) bool {
		h.n += c
		h.b = append(h.b, bucket{float64(lo / time.Microsecond), float64(w / time.Microsecond), c})
		h.cum = append(h.cum, h.n)
		return true
	})
	return h
}

// sd is the standard deviation (µs) around mean (µs), from bucket
// midpoints as HdrHistogram computes it.
func (h *hist) sd(mean float64) float64 {
	if h.n == 0 {
		return 0
	}
	var ss float64
	for _, b := range h.b {
		d := b.lo + b.w/2 - mean
		ss += d * d * float64(b.c)
	}
	return math.Sqrt(ss / float64(h.n))
}

// at returns the bucket holding the value of rank k (1-based, clamped to
// 1..n): its midpoint and width, in microseconds.
func (h *hist) at(k int64) (mid, w float64) {
	k = max(1, min(k, h.n))
	i := sort.Search(len(h.cum), func(i int) bool { return h.cum[i] >= k })
	b := h.b[i]
	return b.lo + b.w/2, b.w
}

// quantileSE estimates the standard error (µs) of the sample q-quantile
// from the order statistics around it: the q-quantile's rank has binomial
// spread sqrt(n q (1-q)), so the values two such spreads below and above
// it span about four standard errors (the distribution-free interval of
// a quantile, Wilks 1962). The bucket width at the quantile adds its
// uniform quantisation variance. ok is false when fewer than minTail
// values lie on either side of the quantile, where no estimate holds.
func (h *hist) quantileSE(q float64) (se float64, ok bool) {
	n := float64(h.n)
	if n*q < minTail || n*(1-q) < minTail {
		return 0, false
	}
	const band = 2
	spread := band * math.Sqrt(n*q*(1-q))
	lo, _ := h.at(int64(math.Floor(n*q - spread)))
	hi, _ := h.at(int64(math.Ceil(n*q + spread)))
	_, w := h.at(int64(math.Ceil(n * q)))
	s := (hi - lo) / (2 * band)
	return math.Sqrt(s*s + w*w/12), true
}

// minTail is the number of values needed on each side of a quantile to
// test it (p99 needs 500 values, p95 100, p50 10).
const minTail = 5

// quantileTest tests whether the q-quantiles of a and b differ: a normal
// approximation of the difference of the two sample quantiles with the
// order-statistic standard errors. Values in µs.
func quantileTest(a, b *hist, qa, qb, q float64) (p float64) {
	sa, oka := a.quantileSE(q)
	sb, okb := b.quantileSE(q)
	if !oka || !okb {
		return math.NaN()
	}
	se := math.Hypot(sa, sb)
	d := qb - qa
	if se == 0 {
		if d == 0 {
			return 1
		}
		return 0
	}
	return normalP(d / se)
}

// mannWhitney is the Mann-Whitney U test of a against b computed on the
// histogram buckets: every bucket is a group of ties, ranked at its mean
// rank, with the tie correction of the variance. It returns the
// two-sided p-value (normal approximation with continuity correction)
// and the probability of superiority P(B > A) + P(B = A)/2 (U_B / nA nB,
// the Vargha-Delaney A), 0.5 when the distributions are alike.
func mannWhitney(a, b *hist) (p, pSup float64) {
	na, nb := float64(a.n), float64(b.n)
	if a.n == 0 || b.n == 0 {
		return math.NaN(), math.NaN()
	}
	var rankA, ties, done float64
	i, j := 0, 0
	for i < len(a.b) || j < len(b.b) {
		var ca, cb int64
		switch {
		case j >= len(b.b) || i < len(a.b) && a.b[i].lo < b.b[j].lo:
			ca = a.b[i].c
			i++
		case i >= len(a.b) || b.b[j].lo < a.b[i].lo:
			cb = b.b[j].c
			j++
		default:
			ca, cb = a.b[i].c, b.b[j].c
			i++
			j++
		}
		t := float64(ca + cb)
		rankA += float64(ca) * (done + (t+1)/2)
		ties += t*t*t - t
		done += t
	}
	n := na + nb
	uA := rankA - na*(na+1)/2
	uB := na*nb - uA
	pSup = uB / (na * nb)
	mu := na * nb / 2
	v := na * nb / 12 * ((n + 1) - ties/(n*(n-1)))
	if v <= 0 {
		return 1, pSup // every value in one bucket
	}
	d := math.Abs(uB - mu)
	d = math.Max(0, d-0.5)
	return normalP(d / math.Sqrt(v)), pSup
}

// welch is Welch's t-test of the means (two-sided).
func welch(ma, sa float64, na int64, mb, sb float64, nb int64) float64 {
	if na < 2 || nb < 2 {
		return math.NaN()
	}
	va, vb := sa*sa/float64(na), sb*sb/float64(nb)
	se := math.Sqrt(va + vb)
	d := mb - ma
	if se == 0 {
		if d == 0 {
			return 1
		}
		return 0
	}
	t := d / se
	df := (va + vb) * (va + vb) / (va*va/float64(na-1) + vb*vb/float64(nb-1))
	return studentP(t, df)
}

// studentP is the two-sided p-value of t with df degrees of freedom.
func studentP(t, df float64) float64 {
	if df > 1e6 {
		return normalP(t)
	}
	x := df / (df + t*t)
	return regIncBeta(df/2, 0.5, x)
}

// regIncBeta is the regularized incomplete beta function I_x(a, b)
// (continued fraction, Numerical Recipes' betacf).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 300; m++ {
		fm := float64(m)
		aa := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-14 {
			break
		}
	}
	return h
}

// proportions tests whether xa of na and xb of nb come from one
// proportion: the pooled two-proportion z-test when every expected cell
// count is at least 5, Fisher's exact test otherwise. It names the test
// used.
func proportions(xa, na, xb, nb int64) (p float64, test string) {
	if na <= 0 || nb <= 0 {
		return math.NaN(), ""
	}
	n := float64(na + nb)
	x := float64(xa + xb)
	minExp := math.Min(x, n-x) * float64(min(na, nb)) / n
	if minExp < 5 {
		return fisher(xa, na, xb, nb), "fisher"
	}
	pool := x / n
	se := math.Sqrt(pool * (1 - pool) * (1/float64(na) + 1/float64(nb)))
	d := float64(xb)/float64(nb) - float64(xa)/float64(na)
	if se == 0 {
		return 1, "two-proportion z"
	}
	return normalP(d / se), "two-proportion z"
}

// fisher is Fisher's exact test (two-sided: the probability of tables no
// more likely than the one observed) of xa of na against xb of nb.
func fisher(xa, na, xb, nb int64) float64 {
	k := xa + xb // successes in all
	n := na + nb
	lo := max(0, k-nb)
	hi := min(k, na)
	lf := func(v int64) float64 { r, _ := math.Lgamma(float64(v) + 1); return r }
	// log P(X = x) for the count in A, hypergeometric
	base := lf(k) + lf(n-k) + lf(na) + lf(nb) - lf(n)
	logp := func(x int64) float64 {
		return base - lf(x) - lf(k-x) - lf(na-x) - lf(nb-(k-x))
	}
	obs := logp(xa)
	var p float64
	for x := lo; x <= hi; x++ {
		if l := logp(x); l <= obs+1e-7 {
			p += math.Exp(l)
		}
	}
	return math.Min(1, p)
}

// poisson tests whether counts xa over duration ta and xb over tb come
// from one rate: conditionally on xa + xb, xb is binomial with
// probability tb / (ta + tb) (normal approximation with continuity
// correction, exact binomial via Fisher-like summation for small counts).
func poisson(xa int64, ta float64, xb int64, tb float64) float64 {
	if ta <= 0 || tb <= 0 || xa+xb == 0 {
		return math.NaN()
	}
	n := float64(xa + xb)
	pi := tb / (ta + tb)
	v := n * pi * (1 - pi)
	d := math.Abs(float64(xb)-n*pi) - 0.5
	if v < 25 && xa+xb <= 100000 {
		return binomialP(xb, xa+xb, pi)
	}
	return normalP(math.Max(0, d) / math.Sqrt(v))
}

// binomialP is the two-sided exact binomial test of k successes in n with
// probability p.
func binomialP(k, n int64, p float64) float64 {
	lf := func(v int64) float64 { r, _ := math.Lgamma(float64(v) + 1); return r }
	logpmf := func(x int64) float64 {
		return lf(n) - lf(x) - lf(n-x) + float64(x)*math.Log(p) + float64(n-x)*math.Log1p(-p)
	}
	obs := logpmf(k)
	var sum float64
	for x := int64(0); x <= n; x++ {
		if l := logpmf(x); l <= obs+1e-7 {
			sum += math.Exp(l)
		}
	}
	return math.Min(1, sum)
}

// adjustBH turns p-values into Benjamini-Hochberg adjusted ones (q-values)
// in place; NaN entries are left out. Declaring significant every
// comparison with q <= alpha bounds the expected share of false
// discoveries by alpha and, when nothing changed at all, the chance of
// any false discovery by alpha.
func adjustBH(ps []*float64) {
	var idx []int
	for i, p := range ps {
		if p != nil && !math.IsNaN(*p) {
			idx = append(idx, i)
		}
	}
	m := float64(len(idx))
	sort.SliceStable(idx, func(x, y int) bool { return *ps[idx[x]] < *ps[idx[y]] })
	prev := 1.0
	for r := len(idx) - 1; r >= 0; r-- {
		p := ps[idx[r]]
		q := math.Min(prev, *p*m/float64(r+1))
		*p = q
		prev = q
	}
}
