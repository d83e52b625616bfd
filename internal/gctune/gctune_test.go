package gctune

import (
	"runtime/debug"
	"testing"
)

// gcPercent is the current GOGC.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestStartTunesAndRestores(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before, limit := gcPercent(), debug.SetMemoryLimit(-1)
	stop := Start()
	if p := gcPercent(); p != Percent {
		t.Errorf("GOGC during the run = %d, want %d", p, Percent)
	}
	if l := debug.SetMemoryLimit(-1); l < Floor {
		t.Errorf("memory limit during the run = %d, want at least %d", l, Floor)
	}
	stop()
	stop()
	if p := gcPercent(); p != before {
		t.Errorf("GOGC after = %d, want %d as before", p, before)
	}
	if l := debug.SetMemoryLimit(-1); l != limit {
		t.Errorf("memory limit after = %d, want %d as before", l, limit)
	}
}

func TestEnvironmentWins(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv(env, "150")
			before := gcPercent()
			stop := Start()
			defer stop()
			if p := gcPercent(); p != before {
				t.Errorf("%s set: GOGC changed to %d", env, p)
			}
		})
	}
}

func TestLimitFollowsLiveHeap(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, Floor},
		{Floor / 4, Floor},
		{Floor, 2 * Floor},
		{1 << 30, 2 << 30},
		{1 << 63, 1<<63 - 1},
	} {
		if got := Limit(tc.live); got != tc.want {
			t.Errorf("Limit(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

func TestOverlappingStartsUndoneByTheLast(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := gcPercent()
	stopA := Start()
	stopB := Start()
	stopA()
	if p := gcPercent(); p != Percent {
		t.Errorf("one run still going: GOGC = %d, want %d", p, Percent)
	}
	stopA()
	stopB()
	if p := gcPercent(); p != before {
		t.Errorf("both runs over: GOGC = %d, want %d as before", p, before)
	}
}
