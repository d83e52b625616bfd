package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// trimFloat formats v with at most prec decimals, trailing zeros dropped.
func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// formatDuration formats like k6: "812µs", "1.23ms", "156.23ms", "1.2s",
// "1m2.5s", at most two decimals, "0s" for zero.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d == math.MinInt64:
		return "-" + formatDuration(math.MaxInt64)
	case d < 0:
		return "-" + formatDuration(-d)
	case d < time.Millisecond:
		return trimFloat(float64(d)/float64(time.Microsecond), 2) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/float64(time.Millisecond), 2) + "ms"
	case d < time.Minute:
		return trimFloat(float64(d)/float64(time.Second), 2) + "s"
	case d < time.Hour:
		m := d / time.Minute
		return fmt.Sprintf("%dm%ss", m, trimFloat(float64(d-m*time.Minute)/float64(time.Second), 2))
	}
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	return fmt.Sprintf("%dh%dm%ss", h, m, trimFloat(float64(d-h*time.Hour-m*time.Minute)/float64(time.Second), 2))
}

// formatPercent formats a ratio as k6 does: "0.15%", two decimals.
func formatPercent(r float64) string {
	return strconv.FormatFloat(r*100, 'f', 2, 64) + "%"
}

// formatBytes formats a byte count in SI units as k6 does: "5.2 MB",
// "87 kB", "512 B".
func formatBytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	if n < 10 {
		return fmt.Sprintf("%.0f B", n)
	}
	e := math.Floor(math.Log10(n) / 3)
	if int(e) >= len(units) {
		e = float64(len(units) - 1)
	}
	v := math.Floor(n/math.Pow(1000, e)*10+0.5) / 10
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, units[int(e)])
	}
	return fmt.Sprintf("%.0f %s", v, units[int(e)])
}

// formatRate formats a per-second rate: "255.67/s".
func formatRate(r float64) string {
	return strconv.FormatFloat(r, 'f', 2, 64) + "/s"
}

// FormatDuration formats a duration as the summary does, k6 style:
// "812µs", "1.23ms", "1.2s", "1m2.5s".
func FormatDuration(d time.Duration) string { return formatDuration(d) }

// FormatPercent formats a ratio as the summary does: "0.15%".
func FormatPercent(r float64) string { return formatPercent(r) }

// FormatRate formats a per-second rate as the summary does: "255.67/s".
func FormatRate(r float64) string { return formatRate(r) }
