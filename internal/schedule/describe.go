package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Describe says in a few lines what a resolved plan will do, for printing
// at the start of a run: the load asked for (l), the copies or virtual
// users over time (o, after Load.Apply), the corpus they replay (sv) and,
// with virtual users, the recorded users they cycle through (users, from
// Schedule.Users after Prepare; nil when unknown).
func Describe(l Load, o Options, sv Survey, users []User) string {
	speed := o.Speed
	if speed == 0 {
		speed = 1
	}
	var b strings.Builder
	line := func(format string, args ...any) {
		if b.Len() == 0 {
			b.WriteString("load      ")
		} else {
			b.WriteString("          ")
		}
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	unit := "copies"
	if o.VU {
		unit = "VUs"
	}
	switch {
	case l.Profile != "":
		p, _ := LookupProfile(l.Profile)
		scaled := ""
		if l.Users > 0 {
			scaled = fmt.Sprintf(", scaled to peak at %s", plural(l.Users, "VU"))
		}
		line("profile %s (%s)%s, %s", p.Name, p.Summary, scaled, FormatDuration(StagesDuration(p.Stages)))
		line("k6 stages in VUs: %s", stagesText(p.Stages))
	case len(l.Stages) > 0:
		line("stages in %s: %s, %s", unit, stagesText(l.Stages), FormatDuration(StagesDuration(l.Stages)))
	case l.Users > 0:
		line("%s (--users)", plural(l.Users, "virtual user"))
	}
	if o.VU {
		describeVUs(line, o, sv, users, speed)
	} else {
		describeCopies(line, o, sv, speed)
	}
	if o.Duration > 0 && (len(o.Stages) == 0 || o.Duration < StagesDuration(o.Stages)) {
		if o.VU {
			line("ends after %v: iterations still running then are cut", o.Duration)
		} else {
			line("ends after %v", o.Duration)
		}
	} else if o.VU && len(o.Stages) > 0 {
		line("ends with the stages, after %v: iterations still running then are cut", StagesDuration(o.Stages))
	}
	return b.String()
}

// describeVUs says how virtual users replay the recorded users.
func describeVUs(line func(string, ...any), o Options, sv Survey, users []User, speed float64) {
	nUsers := sv.Users
	if users != nil {
		nUsers = len(users)
	}
	line("corpus: %s (%s) over %s; a VU replays one recorded user per iteration, then the next",
		plural(nUsers, "recorded user"), plural(sv.Flows, "flow"), FormatDuration(sv.Span().Round(time.Millisecond)))
	if len(users) > 0 {
		lo, hi, sum := time.Duration(math.MaxInt64), time.Duration(0), time.Duration(0)
		for i := range users {
			d := max(time.Duration(float64(users[i].Length)/speed), time.Duration(float64(users[i].Last)/speed)+minIteration)
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		mean := sum / time.Duration(len(users))
		r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		if lo == hi {
			line("an iteration replays a user from its first record to the end of its last: %v at %sx", r(lo), num(speed))
		} else {
			line("an iteration replays a user from its first record to the end of its last: %v to %v (mean %v) at %sx",
				r(lo), r(hi), r(mean), num(speed))
		}
	}
	if o.MaxGap > 0 {
		line("gaps over %v between a user's records are cut down to it", o.MaxGap)
	}
	vus := max(o.Multiply, 1)
	if len(o.Stages) > 0 {
		vus = copiesOf(o.Stages)
		line("VUs over time: %s (peak %s)", timeline(o.Stages), plural(vus, "VU"))
		if s := sparkline(o.Stages, 48); s != "" {
			line("shape: %s", s)
		}
		line("VU k runs while the target is above k; a VU a ramp-down stops finishes its iteration within %v (graceful ramp-down), the rest is cut",
			o.GracefulRampDown)
	} else {
		line("%s at once", plural(vus, "VU"))
	}
	if o.Shards > 1 {
		mine := (vus - o.Shard + o.Shards - 1) / o.Shards
		line("shard %d/%d runs VUs k with k mod %d = %d (%d of %d), over its own users", o.Shard, o.Shards, o.Shards, o.Shard, max(mine, 0), vus)
	}
	if nUsers == 0 && users != nil {
		line("no recorded user here: the VUs have nothing to replay")
	}
	shared := len(o.Stages) == 0 && o.Duration == 0
	switch {
	case shared:
		line("no --duration: %s, every user replayed and every VU busy once (VU k: users k, k+%d, ...)",
			plural(max(nUsers, vus), "iteration"), vus)
	case vus == 1:
		line("the VU replays the users in turn, each iteration with identities of its own")
	default:
		line("VU k replays users k, k+%d, k+%d, ... (mod %d), each iteration with identities of its own", vus, 2*vus, max(nUsers, 1))
	}
	if o.Loop {
		line("--loop is implied: VUs iterate until the run ends")
	}
	if vus > 1 && o.Stagger > 0 {
		line("VU k starts k x %v after it becomes active (stagger %v over %s)",
			(o.Stagger / time.Duration(vus)).Round(time.Microsecond), o.Stagger, plural(vus, "VU"))
	}
}

// describeCopies says how copies of the corpus replay it.
func describeCopies(line func(string, ...any), o Options, sv Survey, speed float64) {
	flows := max(sv.Flows, 1)
	pass := time.Duration(float64(sv.Span()) / speed)
	copiesText := func(copies float64) string {
		c := int(math.Ceil(copies - 1e-9))
		if sv.Users > 0 {
			return fmt.Sprintf("%s, %s", plural(c*sv.Users, "user"), plural(c*flows, "flow"))
		}
		return plural(c*flows, "flow")
	}
	who := plural(sv.Flows, "recorded flow")
	if sv.Users > 0 {
		who = fmt.Sprintf("%s (%s)", plural(sv.Users, "recorded user"), plural(sv.Flows, "flow"))
	}
	line("corpus: %s over %s; a copy replays all of it", who, FormatDuration(sv.Span().Round(time.Millisecond)))
	if sv.PeakActive > 0 {
		line("one copy keeps %.1f flows active at once on average (at most %d): the report's flows line measures it",
			sv.MeanActive, sv.PeakActive)
	}
	copies := max(o.Multiply, 1)
	if len(o.Stages) > 0 {
		copies = copiesOf(o.Stages)
		line("copies over time: %s (peak %s = %s)", timeline(o.Stages), plural(copies, "copy"), copiesText(Peak(o.Stages)))
		if s := sparkline(o.Stages, 48); s != "" {
			line("shape: %s", s)
		}
		line("copy k runs while the target is above k: ramping up starts copies, ramping down stops them")
	} else {
		line("%s at once = %s", plural(copies, "copy"), copiesText(float64(copies)))
	}
	if copies > 1 {
		if o.Stagger > 0 {
			line("copy k starts k x %v after it becomes active (stagger %v over %d copies)",
				(o.Stagger / time.Duration(copies)).Round(time.Microsecond), o.Stagger, copies)
		} else {
			line("copies start together (no stagger)")
		}
		line("each copy sends its own client-made ids (tags, localIds, machine, artifact and kv ids)")
	}
	end := o.Duration
	if len(o.Stages) > 0 && (end == 0 || StagesDuration(o.Stages) < end) {
		end = StagesDuration(o.Stages)
	}
	if o.Loop {
		period := o.Period
		if period == 0 {
			period = sv.LoopPeriod(speed)
		}
		line("loop: each copy replays the corpus again every %v, with fresh identities each round", period.Round(time.Millisecond))
	} else if end > 0 && pass < end {
		line("note: one pass of the corpus takes %v, the run %v: without --loop copies stop after one pass",
			pass.Round(time.Millisecond), end)
	}
}

func stagesText(stages []Stage) string {
	parts := make([]string, len(stages))
	for i, st := range stages {
		verb := "ramp to"
		if st.Duration == 0 {
			verb = "jump to"
		} else if i > 0 && stages[i-1].Target == st.Target {
			verb = "hold"
		}
		parts[i] = fmt.Sprintf("%s %s %s", FormatDuration(st.Duration), verb, num(st.Target))
	}
	return strings.Join(parts, ", ")
}

// timeline lists the copy target at each stage boundary.
func timeline(stages []Stage) string {
	parts := []string{"0s " + num(0)}
	var at time.Duration
	for _, st := range stages {
		at += st.Duration
		parts = append(parts, FormatDuration(at)+" "+num(st.Target))
	}
	return strings.Join(parts, " -> ")
}

// sparkline draws the number of active copies over the stages' duration.
func sparkline(stages []Stage, width int) string {
	total := StagesDuration(stages)
	peak := copiesOf(stages)
	if total <= 0 || peak <= 0 {
		return ""
	}
	bars := []rune(" ▁▂▃▄▅▆▇█")
	var b strings.Builder
	for i := 0; i < width; i++ {
		t := total * time.Duration(2*i+1) / time.Duration(2*width)
		active := math.Ceil(TargetAt(stages, t) - 1e-9)
		level := int(math.Round(active / float64(peak) * float64(len(bars)-1)))
		if active > 0 && level == 0 {
			level = 1
		}
		b.WriteRune(bars[level])
	}
	return "|" + b.String() + "|"
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return strconv.Itoa(n) + " " + strings.TrimSuffix(word, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + word + "s"
}
