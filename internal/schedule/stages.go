package schedule

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxCopies bounds the number of traffic copies a plan may run at once.
const MaxCopies = 100000

// maxStages bounds the stages of a custom shape.
const maxStages = 1000

// Stage is one k6-style stage: the target ramps linearly from the previous
// stage's target (0 before the first stage) to Target over Duration. A
// zero Duration jumps to Target at once. In Options.Stages the target
// counts traffic copies, or virtual users with Options.VU; in a Profile
// and in Load it counts virtual users (k6 VUs).
type Stage struct {
	Duration time.Duration
	Target   float64
}

// ParseStages reads the --stages form: comma-separated DURATION:TARGET
// pairs, for example "30s:1,1m:10,30s:0" (ramp to 1 over 30s, to 10 over a
// minute, down to 0 over 30s). Durations are Go durations ("1m30s",
// "500ms", "0s" for a jump); targets are non-negative numbers.
func ParseStages(s string) ([]Stage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("no stages: want DURATION:TARGET pairs such as 30s:1,1m:10,30s:0")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxStages {
		return nil, fmt.Errorf("%d stages: at most %d", len(parts), maxStages)
	}
	stages := make([]Stage, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		d, t, ok := strings.Cut(p, ":")
		if !ok {
			return nil, fmt.Errorf("stage %d %q: want DURATION:TARGET such as 30s:10", i+1, p)
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("stage %d %q: duration %q: want a duration such as 30s or 1m30s", i+1, p, strings.TrimSpace(d))
		}
		target, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || math.IsNaN(target) || target < 0 || target > MaxCopies {
			return nil, fmt.Errorf("stage %d %q: target %q: want a number from 0 to %d", i+1, p, strings.TrimSpace(t), MaxCopies)
		}
		stages = append(stages, Stage{Duration: dur, Target: target})
	}
	if err := validateStages(stages); err != nil {
		return nil, err
	}
	return stages, nil
}

// FormatStages writes stages in the form ParseStages reads.
func FormatStages(stages []Stage) string {
	parts := make([]string, len(stages))
	for i, st := range stages {
		parts[i] = FormatDuration(st.Duration) + ":" + strconv.FormatFloat(st.Target, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// FormatDuration writes d compactly: "1m" rather than "1m0s", "2m30s",
// "500ms", "0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func validateStages(stages []Stage) error {
	if len(stages) > maxStages {
		return fmt.Errorf("%d stages: at most %d", len(stages), maxStages)
	}
	var total time.Duration
	for i, st := range stages {
		if st.Duration < 0 {
			return fmt.Errorf("stage %d: negative duration %v", i+1, st.Duration)
		}
		if math.IsNaN(st.Target) || st.Target < 0 || st.Target > MaxCopies {
			return fmt.Errorf("stage %d: target %v out of range 0..%d", i+1, st.Target, MaxCopies)
		}
		if total > math.MaxInt64/2-st.Duration {
			return fmt.Errorf("stage %d: stages too long", i+1)
		}
		total += st.Duration
	}
	if len(stages) > 0 && total == 0 {
		return errors.New("stages last no time: give at least one stage a duration")
	}
	return nil
}

// StagesDuration is how long stages last in total.
func StagesDuration(stages []Stage) time.Duration {
	var total time.Duration
	for _, st := range stages {
		total += st.Duration
	}
	return total
}

// Peak is the highest target of stages.
func Peak(stages []Stage) float64 {
	p := 0.0
	for _, st := range stages {
		p = math.Max(p, st.Target)
	}
	return p
}

// TargetAt is the stages' target at offset t: linear within a stage, 0
// before the first stage starts ramping and after the last one ends. At a
// zero-duration stage the later value holds.
func TargetAt(stages []Stage, t time.Duration) float64 {
	if t < 0 {
		return 0
	}
	prev := 0.0
	var at time.Duration
	for _, st := range stages {
		end := at + st.Duration
		if t < end {
			frac := float64(t-at) / float64(st.Duration)
			return prev + (st.Target-prev)*frac
		}
		prev = st.Target
		at = end
	}
	return 0
}

// span is a half-open interval of run time.
type span struct{ from, to time.Duration }

// activeSpans returns when copy k is active under stages: while the
// target is above k. Adjacent spans are merged.
func activeSpans(stages []Stage, k int) []span {
	var out []span
	add := func(from, to time.Duration) {
		if to <= from {
			return
		}
		if n := len(out); n > 0 && out[n-1].to >= from {
			out[n-1].to = max(out[n-1].to, to)
			return
		}
		out = append(out, span{from, to})
	}
	kf := float64(k)
	prev := 0.0
	var at time.Duration
	for _, st := range stages {
		a, b := prev, st.Target
		t0, t1 := at, at+st.Duration
		prev, at = b, t1
		if st.Duration == 0 {
			continue
		}
		cross := func(v float64) time.Duration {
			// offset where the ramp a->b reaches v
			return t0 + time.Duration(math.Round((v-a)/(b-a)*float64(t1-t0)))
		}
		switch {
		case a > kf && b > kf:
			add(t0, t1)
		case a > kf: // ramping down through k
			add(t0, cross(kf))
		case b > kf: // ramping up through k
			add(cross(kf), t1)
		}
	}
	return out
}

// Profile is a named load shape in virtual users, after the Happy team's
// k6 profile table (VUs and durations).
type Profile struct {
	// Name is what --profile takes.
	Name string
	// Summary says what the profile is for.
	Summary string
	// Stages are k6 stages; targets count virtual users.
	Stages []Stage
}

// Profiles returns the named profiles, after the Happy Server Workers k6
// profile table (its VUs and durations; the ramps within are reprise's).
// Targets are virtual users:
//
//	smoke      1 VU for 30s                                      30s
//	average    30s to 20, 1m to 100, 30s to 0                    2m
//	stress     1m to 50, 2m to 100, 2m to 200, 1m to 0           6m
//	spike      10s to 10, 10s to 200, 30s at 200, 10s to 10      1m
//	endurance  1m to 50, 10m at 50, 1m to 0                      12m
func Profiles() []Profile {
	s := time.Second
	m := time.Minute
	return []Profile{
		{Name: "smoke", Summary: "quick validation: 1 VU for 30s", Stages: []Stage{{0, 1}, {30 * s, 1}}},
		{Name: "average", Summary: "normal load: ramp to 100 VUs and back over 2m", Stages: []Stage{{30 * s, 20}, {m, 100}, {30 * s, 0}}},
		{Name: "stress", Summary: "high load: ramp through 100 to 200 VUs over 6m", Stages: []Stage{{m, 50}, {2 * m, 100}, {2 * m, 200}, {m, 0}}},
		{Name: "spike", Summary: "sudden spike: 10 VUs, 200 within 10s, held 30s, back to 10", Stages: []Stage{{10 * s, 10}, {10 * s, 200}, {30 * s, 200}, {10 * s, 10}}},
		{Name: "endurance", Summary: "sustained load: 50 VUs for 10m between 1m ramps", Stages: []Stage{{m, 50}, {10 * m, 50}, {m, 0}}},
	}
}

// LookupProfile finds a profile by name.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

func profileNames() string {
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// Load is the shape of a run as a user asks for it: at most one of
// Multiply, Users (optionally with Profile), Profile or Stages. Multiply
// runs copies of the whole corpus; the others run k6 virtual users, each
// replaying one recorded user at a time (Options.VU).
type Load struct {
	// Multiply runs this many copies of the corpus at once.
	Multiply int
	// Users runs this many virtual users at once. With Profile, it
	// scales the profile to peak at Users.
	Users int
	// Profile names one of Profiles; its targets are virtual users.
	Profile string
	// Stages is a custom shape whose targets are virtual users.
	Stages []Stage
}

// IsZero reports whether l asks for nothing (one copy, no shape).
func (l Load) IsZero() bool {
	return l.Multiply == 0 && l.Users == 0 && l.Profile == "" && len(l.Stages) == 0
}

// VU reports whether l runs virtual users.
func (l Load) VU() bool { return l.Users > 0 || l.Profile != "" || len(l.Stages) > 0 }

// Validate checks that l is one consistent request.
func (l Load) Validate() error {
	if l.Multiply < 0 || l.Users < 0 {
		return errors.New("multiply and users must not be negative")
	}
	if l.Multiply > MaxCopies {
		return fmt.Errorf("multiply %d: at most %d copies", l.Multiply, MaxCopies)
	}
	if l.Users > MaxCopies {
		return fmt.Errorf("users %d: at most %d virtual users", l.Users, MaxCopies)
	}
	n := 0
	for _, set := range []bool{l.Multiply > 0, l.Users > 0 && l.Profile == "", l.Profile != "", len(l.Stages) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("give one of --multiply, --users, --profile (optionally with --users) or --stages")
	}
	if l.Profile != "" {
		if _, ok := LookupProfile(l.Profile); !ok {
			return fmt.Errorf("unknown profile %q (known: %s)", l.Profile, profileNames())
		}
	}
	if len(l.Stages) > 0 && Peak(l.Stages) <= 0 {
		return errors.New("the stages never ask for a virtual user: give a target above 0")
	}
	return validateStages(l.Stages)
}

// Apply sets the load of o: Multiply copies of the corpus, or virtual
// users (o.VU, with o.Multiply VUs at once or o.Stages in VUs). A profile
// scaled by Users keeps its shape: its targets are multiplied by
// Users/peak, so VU k runs while the scaled target is above k.
func (l Load) Apply(o *Options) error {
	if err := l.Validate(); err != nil {
		return err
	}
	switch {
	case l.Multiply > 0:
		o.VU, o.Multiply, o.Stages = false, l.Multiply, nil
	case l.Profile != "":
		p, _ := LookupProfile(l.Profile)
		scale := 1.0
		if l.Users > 0 {
			scale = float64(l.Users) / Peak(p.Stages)
		}
		stages := make([]Stage, len(p.Stages))
		for i, st := range p.Stages {
			stages[i] = Stage{Duration: st.Duration, Target: st.Target * scale}
		}
		o.VU, o.Multiply, o.Stages = true, 0, stages
	case l.Users > 0:
		o.VU, o.Multiply, o.Stages = true, l.Users, nil
	case len(l.Stages) > 0:
		o.VU, o.Multiply, o.Stages = true, 0, append([]Stage(nil), l.Stages...)
	}
	return nil
}

// copiesOf is the number of copies stages need: the ceiling of their peak.
func copiesOf(stages []Stage) int {
	return int(math.Ceil(Peak(stages) - 1e-9))
}
