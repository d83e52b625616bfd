package happyapi

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Distribution names a latency distribution.
type Distribution uint8

// Latency distributions understood by ParseLatency.
const (
	DistNone        Distribution = iota // no injected latency
	DistFixed                           // always Fixed
	DistUniform                         // uniform on [Min, Max]
	DistNormal                          // normal(Mean, StdDev), negative samples clamped to 0
	DistLognormal                       // median Median, shape Sigma
	DistExponential                     // exponential with mean Mean
)

var distNames = map[Distribution]string{
	DistNone:        "none",
	DistFixed:       "fixed",
	DistUniform:     "uniform",
	DistNormal:      "normal",
	DistLognormal:   "lognormal",
	DistExponential: "exponential",
}

// String returns the distribution's name as written in a spec.
func (d Distribution) String() string {
	if n, ok := distNames[d]; ok {
		return n
	}
	return "Distribution(" + strconv.Itoa(int(d)) + ")"
}

// maxLatency bounds every parameter and sample: an injected delay beyond an
// hour is a typo, not a test.
const maxLatency = time.Hour

// maxSigma bounds the lognormal shape parameter.
const maxSigma = 10.0

// Latency is an injected-latency distribution. The zero value injects
// nothing. Build one with ParseLatency or by filling the fields that its
// Dist uses; Validate reports a bad combination.
type Latency struct {
	Dist Distribution
	// Fixed is the delay of DistFixed.
	Fixed time.Duration
	// Min and Max bound DistUniform.
	Min, Max time.Duration
	// Mean is the mean of DistNormal and DistExponential.
	Mean time.Duration
	// StdDev is the standard deviation of DistNormal.
	StdDev time.Duration
	// Median and Sigma shape DistLognormal: a sample is
	// Median * exp(Sigma * N(0,1)).
	Median time.Duration
	Sigma  float64
	// Cap, when positive, clamps every sample of DistNormal, DistLognormal
	// and DistExponential (the spec's max=D).
	Cap time.Duration
}

// ParseLatency parses a latency spec:
//
//	none                                  no latency (also the empty string and "0")
//	20ms | fixed:20ms                     a fixed delay
//	uniform:10ms-50ms                     uniform between the bounds (also uniform:min=10ms,max=50ms)
//	normal:mean=30ms,stddev=5ms           normal, negative samples clamped to 0
//	lognormal:median=30ms,sigma=0.5       log-normal
//	exponential:mean=20ms                 exponential
//
// normal, lognormal and exponential accept a trailing max=D that clamps
// samples. Durations use Go syntax (time.ParseDuration).
func ParseLatency(spec string) (Latency, error) {
	s := strings.TrimSpace(spec)
	switch s {
	case "", "none", "0":
		return Latency{}, nil
	}
	name, rest, hasColon := strings.Cut(s, ":")
	if !hasColon {
		d, err := parseLatencyDuration(s)
		if err != nil {
			return Latency{}, fmt.Errorf("latency spec %q: %w (want fixed:20ms, uniform:10ms-50ms, normal:mean=30ms,stddev=5ms, lognormal:median=30ms,sigma=0.5 or exponential:mean=20ms)", spec, err)
		}
		return Latency{Dist: DistFixed, Fixed: d}, nil
	}
	l, err := parseLatencyBody(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(rest))
	if err != nil {
		return Latency{}, fmt.Errorf("latency spec %q: %w", spec, err)
	}
	if err := l.Validate(); err != nil {
		return Latency{}, fmt.Errorf("latency spec %q: %w", spec, err)
	}
	return l, nil
}

func parseLatencyBody(name, rest string) (Latency, error) {
	switch name {
	case "fixed":
		d, err := parseLatencyDuration(rest)
		return Latency{Dist: DistFixed, Fixed: d}, err
	case "uniform":
		if !strings.Contains(rest, "=") {
			lo, hi, ok := strings.Cut(rest, "-")
			if !ok {
				return Latency{}, errors.New("uniform wants MIN-MAX, for example uniform:10ms-50ms")
			}
			min, err := parseLatencyDuration(lo)
			if err != nil {
				return Latency{}, fmt.Errorf("uniform min: %w", err)
			}
			max, err := parseLatencyDuration(hi)
			if err != nil {
				return Latency{}, fmt.Errorf("uniform max: %w", err)
			}
			return Latency{Dist: DistUniform, Min: min, Max: max}, nil
		}
		kv, err := parseParams(rest, "min", "max")
		if err != nil {
			return Latency{}, err
		}
		l := Latency{Dist: DistUniform}
		if l.Min, err = durParam(kv, "min"); err != nil {
			return Latency{}, err
		}
		if l.Max, err = durParam(kv, "max"); err != nil {
			return Latency{}, err
		}
		return l, nil
	case "normal":
		kv, err := parseParams(rest, "mean", "stddev", "max")
		if err != nil {
			return Latency{}, err
		}
		l := Latency{Dist: DistNormal}
		if l.Mean, err = durParam(kv, "mean"); err != nil {
			return Latency{}, err
		}
		if l.StdDev, err = durParam(kv, "stddev"); err != nil {
			return Latency{}, err
		}
		l.Cap, err = optDurParam(kv, "max")
		return l, err
	case "lognormal":
		kv, err := parseParams(rest, "median", "sigma", "max")
		if err != nil {
			return Latency{}, err
		}
		l := Latency{Dist: DistLognormal}
		if l.Median, err = durParam(kv, "median"); err != nil {
			return Latency{}, err
		}
		sv, ok := kv["sigma"]
		if !ok {
			return Latency{}, errors.New("missing sigma=")
		}
		l.Sigma, err = strconv.ParseFloat(sv, 64)
		if err != nil {
			return Latency{}, fmt.Errorf("sigma %q is not a number", sv)
		}
		l.Cap, err = optDurParam(kv, "max")
		return l, err
	case "exponential", "exp":
		kv, err := parseParams(rest, "mean", "max")
		if err != nil {
			return Latency{}, err
		}
		l := Latency{Dist: DistExponential}
		if l.Mean, err = durParam(kv, "mean"); err != nil {
			return Latency{}, err
		}
		l.Cap, err = optDurParam(kv, "max")
		return l, err
	case "none":
		if rest != "" {
			return Latency{}, errors.New("none takes no parameters")
		}
		return Latency{}, nil
	}
	return Latency{}, fmt.Errorf("unknown distribution %q (want fixed, uniform, normal, lognormal or exponential)", name)
}

// parseParams splits "a=1,b=2" and rejects keys outside allowed and repeats.
func parseParams(s string, allowed ...string) (map[string]string, error) {
	kv := make(map[string]string)
	if s == "" {
		return kv, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok {
			return nil, fmt.Errorf("parameter %q wants KEY=VALUE", part)
		}
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("unknown parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("parameter %q given twice", k)
		}
		kv[k] = strings.TrimSpace(v)
	}
	return kv, nil
}

func durParam(kv map[string]string, key string) (time.Duration, error) {
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("missing %s=", key)
	}
	d, err := parseLatencyDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

func optDurParam(kv map[string]string, key string) (time.Duration, error) {
	if _, ok := kv[key]; !ok {
		return 0, nil
	}
	return durParam(kv, key)
}

func parseLatencyDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (write it like 20ms or 1.5s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", s)
	}
	if d > maxLatency {
		return 0, fmt.Errorf("duration %s is over the %s limit", s, maxLatency)
	}
	return d, nil
}

// Validate reports parameters that make no distribution.
func (l Latency) Validate() error {
	for _, d := range []time.Duration{l.Fixed, l.Min, l.Max, l.Mean, l.StdDev, l.Median, l.Cap} {
		if d < 0 || d > maxLatency {
			return fmt.Errorf("duration %s is outside 0..%s", d, maxLatency)
		}
	}
	switch l.Dist {
	case DistNone, DistFixed:
	case DistUniform:
		if l.Min > l.Max {
			return fmt.Errorf("uniform min %s is above max %s", l.Min, l.Max)
		}
	case DistNormal:
	case DistLognormal:
		if l.Median <= 0 {
			return errors.New("lognormal median must be positive")
		}
		if math.IsNaN(l.Sigma) || l.Sigma < 0 || l.Sigma > maxSigma {
			return fmt.Errorf("lognormal sigma %v is outside 0..%v", l.Sigma, maxSigma)
		}
	case DistExponential:
	default:
		return fmt.Errorf("unknown distribution %d", l.Dist)
	}
	return nil
}

// String renders l as a spec that ParseLatency reads back to the same value.
func (l Latency) String() string {
	var s string
	switch l.Dist {
	case DistNone:
		return "none"
	case DistFixed:
		return "fixed:" + l.Fixed.String()
	case DistUniform:
		return "uniform:" + l.Min.String() + "-" + l.Max.String()
	case DistNormal:
		s = "normal:mean=" + l.Mean.String() + ",stddev=" + l.StdDev.String()
	case DistLognormal:
		s = "lognormal:median=" + l.Median.String() + ",sigma=" + strconv.FormatFloat(l.Sigma, 'g', -1, 64)
	case DistExponential:
		s = "exponential:mean=" + l.Mean.String()
	default:
		return l.Dist.String()
	}
	if l.Cap > 0 {
		s += ",max=" + l.Cap.String()
	}
	return s
}

// Sample draws one delay from l using r.
func (l Latency) Sample(r *rand.Rand) time.Duration {
	switch l.Dist {
	case DistFixed:
		return l.Fixed
	case DistUniform:
		if l.Max <= l.Min {
			return l.Min
		}
		return l.Min + time.Duration(r.Int64N(int64(l.Max-l.Min)+1))
	case DistNormal:
		return l.clamp(float64(l.Mean) + r.NormFloat64()*float64(l.StdDev))
	case DistLognormal:
		return l.clamp(float64(l.Median) * math.Exp(l.Sigma*r.NormFloat64()))
	case DistExponential:
		return l.clamp(r.ExpFloat64() * float64(l.Mean))
	}
	return 0
}

// Quantile returns the distribution's theoretical quantile q (0..1): the
// value a latency report's percentile should approach.
func (l Latency) Quantile(q float64) time.Duration {
	q = math.Min(math.Max(q, 0), 1)
	switch l.Dist {
	case DistFixed:
		return l.Fixed
	case DistUniform:
		return l.Min + time.Duration(q*float64(l.Max-l.Min))
	case DistNormal:
		return l.clamp(float64(l.Mean) + float64(l.StdDev)*math.Sqrt2*math.Erfinv(2*q-1))
	case DistLognormal:
		return l.clamp(float64(l.Median) * math.Exp(l.Sigma*math.Sqrt2*math.Erfinv(2*q-1)))
	case DistExponential:
		return l.clamp(-float64(l.Mean) * math.Log1p(-q))
	}
	return 0
}

// clamp turns a float sample into a duration within 0..Cap (or the
// hour limit).
func (l Latency) clamp(ns float64) time.Duration {
	hi := float64(maxLatency)
	if l.Cap > 0 {
		hi = float64(l.Cap)
	}
	if math.IsNaN(ns) || ns < 0 {
		return 0
	}
	if ns > hi {
		return time.Duration(hi)
	}
	return time.Duration(ns)
}

// Stall describes periodic stalls: starting Every after the server's clock
// origin, and every Every after that, the server holds every request that
// arrives for For, releasing them all when the stall ends. The zero value
// never stalls.
type Stall struct {
	Every time.Duration
	For   time.Duration
}

// ParseStall parses "every=5s,for=500ms" (also "every 5s for 500ms"); the
// empty string and "none" mean no stalls.
func ParseStall(spec string) (Stall, error) {
	s := strings.TrimSpace(spec)
	if s == "" || s == "none" {
		return Stall{}, nil
	}
	var kv map[string]string
	var err error
	if strings.Contains(s, "=") {
		kv, err = parseParams(s, "every", "for")
	} else {
		f := strings.Fields(s)
		if len(f) != 4 || strings.ToLower(f[0]) != "every" || strings.ToLower(f[2]) != "for" {
			err = errors.New("want every=5s,for=500ms")
		} else {
			kv = map[string]string{"every": f[1], "for": f[3]}
		}
	}
	if err != nil {
		return Stall{}, fmt.Errorf("stall spec %q: %w", spec, err)
	}
	var st Stall
	if st.Every, err = durParam(kv, "every"); err != nil {
		return Stall{}, fmt.Errorf("stall spec %q: %w", spec, err)
	}
	if st.For, err = durParam(kv, "for"); err != nil {
		return Stall{}, fmt.Errorf("stall spec %q: %w", spec, err)
	}
	if st.Every <= 0 || st.For <= 0 {
		return Stall{}, fmt.Errorf("stall spec %q: every= and for= must both be positive (write none for no stalls)", spec)
	}
	if err := st.Validate(); err != nil {
		return Stall{}, fmt.Errorf("stall spec %q: %w", spec, err)
	}
	return st, nil
}

// Validate reports a stall that cannot work.
func (s Stall) Validate() error {
	if s == (Stall{}) {
		return nil
	}
	if s.Every <= 0 || s.For <= 0 {
		return errors.New("stall every= and for= must both be positive")
	}
	if s.For >= s.Every {
		return fmt.Errorf("stall for=%s must be shorter than every=%s", s.For, s.Every)
	}
	if s.Every > maxLatency {
		return fmt.Errorf("stall every=%s is over the %s limit", s.Every, maxLatency)
	}
	return nil
}

// String renders s as a spec ParseStall reads back.
func (s Stall) String() string {
	if s == (Stall{}) {
		return "none"
	}
	return "every=" + s.Every.String() + ",for=" + s.For.String()
}

// Hold returns how long a request arriving at offset since (from the clock
// origin) is held by a stall: zero outside stalls.
func (s Stall) Hold(since time.Duration) time.Duration {
	if s.Every <= 0 || s.For <= 0 || since < s.Every {
		return 0
	}
	into := since % s.Every
	if into < s.For {
		return s.For - into
	}
	return 0
}
