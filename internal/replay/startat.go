package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StartTolerance is how far a start time may lie in the past and still be
// taken: such a run starts at once, that much late. It covers the moment
// between computing a time and checking it, and small clock differences;
// further back, the shards would not start together.
const StartTolerance = time.Second

// MaxStartAhead is how far ahead a start time may be: further ahead is
// taken for a mistake (a wrong date) rather than a plan.
const MaxStartAhead = 24 * time.Hour

// ErrStartInterrupted is returned by Run when its context ends while it
// waits for Options.StartAt: nothing was sent.
var ErrStartInterrupted = errors.New("interrupted while waiting for the start time")

// ParseStartAt reads a start time: RFC 3339 ("2026-12-03T10:00:00Z",
// fractional seconds and offsets allowed) or "+DURATION" from now
// ("+30s", "+2m"). A time more than StartTolerance before now, or more
// than MaxStartAhead after it, is an error.
func ParseStartAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	const want = "want an RFC 3339 time such as 2026-12-03T10:00:00Z, or +DURATION from now such as +30s"
	var at time.Time
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return time.Time{}, errors.New(want)
		}
		if d > MaxStartAhead {
			return time.Time{}, fmt.Errorf("%s is more than %s ahead: give a start within a day", s, fmtAhead(MaxStartAhead))
		}
		at = now.Add(d)
	} else {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if _, derr := time.ParseDuration(s); derr == nil {
				return time.Time{}, fmt.Errorf("a duration from now needs a leading +, such as +%s", s)
			}
			return time.Time{}, errors.New(want)
		}
		at = t
	}
	if err := CheckStartAt(at, now); err != nil {
		return time.Time{}, err
	}
	return at, nil
}

// CheckStartAt says whether at can be the start of a run checked at now:
// not more than StartTolerance past, not more than MaxStartAhead ahead.
func CheckStartAt(at, now time.Time) error {
	switch d := at.Sub(now); {
	case d < -StartTolerance:
		return fmt.Errorf("%s is %s in the past (%s tolerated): give a time ahead, or +DURATION such as +2m",
			FormatStart(at), (-d).Round(time.Millisecond), StartTolerance)
	case d > MaxStartAhead:
		return fmt.Errorf("%s is %s ahead, more than %s: give a start within a day", FormatStart(at), d.Round(time.Second), fmtAhead(MaxStartAhead))
	}
	return nil
}

// FormatStart writes a start time as the progress line and notes show it:
// UTC, RFC 3339 to the millisecond.
func FormatStart(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func fmtAhead(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// waitStart waits until at (on the wall clock) or until ctx ends, calling
// waiting first when there is a wait. A start up to StartTolerance past
// returns at once; further past is an error, since this run would begin
// that late against the others that share its start.
func waitStart(ctx context.Context, at time.Time, waiting func(time.Time)) error {
	if err := CheckStartAt(at, time.Now()); err != nil {
		if late := -time.Until(at); late > 0 {
			return fmt.Errorf("ready %s after the start time %s (%s tolerated): nothing was sent; give a later start (--start-at), as the corpus is read and the target checked before the wait",
				late.Round(time.Millisecond), FormatStart(at), StartTolerance)
		}
		return err
	}
	if waiting != nil && time.Until(at) > 0 {
		waiting(at)
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		// The wall clock is read again at least every 10 s, so that a
		// clock stepped or slewed during a long wait (NTP) still ends it
		// on the wall-clock time the shards agreed on.
		d := time.Until(at)
		if d <= 0 {
			return nil
		}
		t.Reset(min(d, 10*time.Second))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w %s (%s before it): %w", ErrStartInterrupted, FormatStart(at), time.Until(at).Round(time.Millisecond), context.Cause(ctx))
		case <-t.C:
		}
	}
}
