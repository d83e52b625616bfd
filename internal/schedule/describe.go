package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Describe says in a few lines what a resolved plan will do, for printing
// at the start of a run: the load asked for (l), the copies over time (o,
// after Load.Resolve) and the corpus they replay (sv).
func Describe(l Load, o Options, sv Survey) string {
	speed := o.Speed
	if speed == 0 {
		speed = 1
	}
	flows := max(sv.Flows, 1)
	pass := time.Duration(float64(sv.Span()) / speed)
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
	users := func(copies float64) string { return plural(int(math.Ceil(copies-1e-9))*flows, "user") }

	switch {
	case l.Profile != "":
		p, _ := LookupProfile(l.Profile)
		scaled := ""
		if l.Users > 0 {
			scaled = fmt.Sprintf(", scaled to peak at %s", plural(l.Users, "user"))
		}
		line("profile %s (%s)%s, %s", p.Name, p.Summary, scaled, FormatDuration(StagesDuration(p.Stages)))
		line("k6 stages in users: %s", stagesText(p.Stages))
	case len(l.Stages) > 0:
		line("stages in copies: %s, %s", stagesText(l.Stages), FormatDuration(StagesDuration(l.Stages)))
	case l.Users > 0:
		line("%s (--users)", plural(l.Users, "user"))
	}
	line("corpus: %s over %s; one copy replays every flow, so users = copies x %d",
		plural(sv.Flows, "recorded flow"), FormatDuration(sv.Span().Round(time.Millisecond)), flows)
	if sv.PeakActive > 0 {
		line("one copy keeps %.1f flows active at once on average (at most %d): the report's flows line measures it",
			sv.MeanActive, sv.PeakActive)
	}

	copies := max(o.Multiply, 1)
	if len(o.Stages) > 0 {
		copies = copiesOf(o.Stages)
		line("copies over time: %s (peak %s = %s)", timeline(o.Stages), plural(copies, "copy"), users(Peak(o.Stages)))
		if s := sparkline(o.Stages, 48); s != "" {
			line("shape: %s", s)
		}
		line("copy k runs while the target is above k: ramping up starts copies, ramping down stops them")
	} else {
		line("%s at once = %s", plural(copies, "copy"), users(float64(copies)))
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
	if o.Duration > 0 && (len(o.Stages) == 0 || o.Duration < StagesDuration(o.Stages)) {
		line("ends after %v", o.Duration)
	}
	return b.String()
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
