package report

import (
	"math"
	"testing"
	"time"
)

func TestFormatDurationExtremes(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{812 * time.Microsecond, "812µs"},
		{-1500 * time.Millisecond, "-1.5s"},
		{math.MaxInt64, "2562047h47m16.85s"},
		// Found by FuzzParseThresholds: negating the smallest duration
		// overflowed into endless recursion.
		{math.MinInt64, "-2562047h47m16.85s"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%d) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if _, err := ParseThresholds([]string{"p1<1000000000000000"}); err == nil {
		t.Error("a limit beyond what a histogram holds was accepted")
	}
}
