package happyapi

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	cases := []struct {
		name, spec string
		want       Latency
		canonical  string
		err        string
	}{
		{"empty", "", Latency{}, "none", ""},
		{"none", "none", Latency{}, "none", ""},
		{"zero", "0", Latency{}, "none", ""},
		{"bare duration", "20ms", Latency{Dist: DistFixed, Fixed: 20 * time.Millisecond}, "fixed:20ms", ""},
		{"fixed", "fixed:1.5s", Latency{Dist: DistFixed, Fixed: 1500 * time.Millisecond}, "fixed:1.5s", ""},
		{"uniform range", "uniform:10ms-50ms", Latency{Dist: DistUniform, Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, "uniform:10ms-50ms", ""},
		{"uniform params", "uniform:min=10ms,max=50ms", Latency{Dist: DistUniform, Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, "uniform:10ms-50ms", ""},
		{"normal", "normal:mean=30ms,stddev=5ms", Latency{Dist: DistNormal, Mean: 30 * time.Millisecond, StdDev: 5 * time.Millisecond}, "normal:mean=30ms,stddev=5ms", ""},
		{"lognormal", "lognormal:median=30ms,sigma=0.5", Latency{Dist: DistLognormal, Median: 30 * time.Millisecond, Sigma: 0.5}, "lognormal:median=30ms,sigma=0.5", ""},
		{"lognormal capped", " LogNormal: median=30ms , sigma=0.5, max=200ms ", Latency{Dist: DistLognormal, Median: 30 * time.Millisecond, Sigma: 0.5, Cap: 200 * time.Millisecond}, "lognormal:median=30ms,sigma=0.5,max=200ms", ""},
		{"exponential", "exponential:mean=20ms", Latency{Dist: DistExponential, Mean: 20 * time.Millisecond}, "exponential:mean=20ms", ""},
		{"exp alias", "exp:mean=20ms", Latency{Dist: DistExponential, Mean: 20 * time.Millisecond}, "exponential:mean=20ms", ""},
		{"unknown dist", "pareto:alpha=1", Latency{}, "", `unknown distribution "pareto"`},
		{"bad duration", "fixed:20", Latency{}, "", `bad duration "20"`},
		{"negative", "fixed:-5ms", Latency{}, "", "negative duration"},
		{"too long", "fixed:2h", Latency{}, "", "over the 1h0m0s limit"},
		{"uniform reversed", "uniform:50ms-10ms", Latency{}, "", "min 50ms is above max 10ms"},
		{"uniform no dash", "uniform:10ms", Latency{}, "", "uniform wants MIN-MAX"},
		{"missing param", "normal:mean=30ms", Latency{}, "", "missing stddev="},
		{"unknown param", "normal:mean=30ms,stddev=1ms,skew=2", Latency{}, "", `unknown parameter "skew"`},
		{"repeated param", "exponential:mean=1ms,mean=2ms", Latency{}, "", "given twice"},
		{"sigma not number", "lognormal:median=30ms,sigma=wide", Latency{}, "", "sigma \"wide\" is not a number"},
		{"sigma negative", "lognormal:median=30ms,sigma=-1", Latency{}, "", "sigma -1 is outside"},
		{"median zero", "lognormal:median=0,sigma=1", Latency{}, "", "median must be positive"},
		{"no key value", "normal:30ms", Latency{}, "", "wants KEY=VALUE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseLatency(c.spec)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if got.String() != c.canonical {
				t.Errorf("String() = %q, want %q", got.String(), c.canonical)
			}
		})
	}
}

func TestParseStall(t *testing.T) {
	cases := []struct {
		name, spec string
		want       Stall
		err        string
	}{
		{"none", "", Stall{}, ""},
		{"params", "every=5s,for=500ms", Stall{5 * time.Second, 500 * time.Millisecond}, ""},
		{"words", "every 5s for 500ms", Stall{5 * time.Second, 500 * time.Millisecond}, ""},
		{"for too long", "every=1s,for=1s", Stall{}, "must be shorter"},
		{"missing for", "every=1s", Stall{}, "missing for="},
		{"zero", "every=0,for=0", Stall{}, "must both be positive"},
		{"garbage", "sometimes", Stall{}, "want every=5s,for=500ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStall(c.spec)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestStallHold(t *testing.T) {
	s := Stall{Every: time.Second, For: 200 * time.Millisecond}
	cases := []struct {
		at, want time.Duration
	}{
		{0, 0}, // no stall before the first period ends
		{100 * time.Millisecond, 0},
		{999 * time.Millisecond, 0},
		{time.Second, 200 * time.Millisecond},
		{1050 * time.Millisecond, 150 * time.Millisecond},
		{1200 * time.Millisecond, 0},
		{3199 * time.Millisecond, time.Millisecond},
	}
	for _, c := range cases {
		if got := s.Hold(c.at); got != c.want {
			t.Errorf("Hold(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}

// TestLatencySamplesMatchQuantiles draws from each distribution and checks
// the sample percentiles against the theoretical ones that reports are
// compared with.
func TestLatencySamplesMatchQuantiles(t *testing.T) {
	specs := []string{
		"fixed:20ms",
		"uniform:10ms-50ms",
		"normal:mean=30ms,stddev=5ms",
		"lognormal:median=30ms,sigma=0.5",
		"lognormal:median=30ms,sigma=1,max=150ms",
		"exponential:mean=20ms",
	}
	const n = 100000
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			l, err := ParseLatency(spec)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			d := make([]time.Duration, n)
			for i := range d {
				d[i] = l.Sample(r)
			}
			slices.Sort(d)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
				got, want := QuantileOf(d, q), l.Quantile(q)
				if diff := math.Abs(float64(got-want)) / float64(want); diff > 0.03 {
					t.Errorf("p%v: sampled %v, theory %v (%.1f%% off)", q*100, got, want, diff*100)
				}
			}
		})
	}
}

func FuzzParseLatency(f *testing.F) {
	for _, s := range []string{"", "20ms", "fixed:20ms", "uniform:10ms-50ms", "uniform:min=1s,max=2s", "normal:mean=30ms,stddev=5ms,max=1s", "lognormal:median=30ms,sigma=0.5", "exponential:mean=20ms", "x:y", "uniform:-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		l, err := ParseLatency(spec)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("parsed %q into an invalid %+v: %v", spec, l, err)
		}
		again, err := ParseLatency(l.String())
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", spec, l.String(), err)
		}
		if again != l {
			t.Fatalf("%q -> %+v -> %q -> %+v", spec, l, l.String(), again)
		}
		r := rand.New(rand.NewPCG(1, 1))
		for range 8 {
			if d := l.Sample(r); d < 0 || d > maxLatency {
				t.Fatalf("%q sampled %v", spec, d)
			}
		}
		for _, q := range []float64{0, 0.5, 1} {
			if d := l.Quantile(q); d < 0 || d > maxLatency {
				t.Fatalf("%q quantile %v = %v", spec, q, d)
			}
		}
	})
}

func FuzzParseStall(f *testing.F) {
	for _, s := range []string{"", "every=5s,for=500ms", "every 1s for 10ms", "every=1s", "for=1s,every=2s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseStall(spec)
		if err != nil {
			return
		}
		again, err := ParseStall(s.String())
		if err != nil || again != s {
			t.Fatalf("%q -> %q -> %+v, %v", spec, s.String(), again, err)
		}
		if h := s.Hold(3 * s.Every); h != s.For {
			t.Fatalf("%q: hold at a period start %v, want %v", spec, h, s.For)
		}
	})
}
