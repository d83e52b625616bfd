package replay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
)

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 58, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2026-12-03T10:00:00Z", want: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)},
		{in: " 2026-12-03T11:00:00.250+01:00 ", want: time.Date(2026, 12, 3, 10, 0, 0, 250e6, time.UTC)},
		{in: "+30s", want: now.Add(30 * time.Second)},
		{in: "+1h30m", want: now.Add(90 * time.Minute)},
		{in: "+0s", want: now},
		{in: "+24h", want: now.Add(24 * time.Hour)},
		{in: "2026-12-03T09:57:59.5Z", want: now.Add(-500 * time.Millisecond)}, // within the tolerance
		{in: "2026-12-03T09:57:58Z", err: "2s in the past"},
		{in: "2026-12-04T10:00:00Z", err: "more than 24h"},
		{in: "+24h1s", err: "more than 24h"},
		{in: "30s", err: "leading +, such as +30s"},
		{in: "+-5s", err: "want an RFC 3339 time"},
		{in: "+", err: "want an RFC 3339 time"},
		{in: "", err: "want an RFC 3339 time"},
		{in: "2026-12-03 10:00:00", err: "want an RFC 3339 time"},
		{in: "10:00", err: "want an RFC 3339 time"},
		{in: "tomorrow", err: "want an RFC 3339 time"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseStartAt(tc.in, now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseStartAt checks the --start-at parser: no input crashes it, an
// accepted time lies within the window it promises, and an accepted RFC
// 3339 time reads back the same from its formatted form.
func FuzzParseStartAt(f *testing.F) {
	for _, s := range []string{"2026-12-03T10:00:00Z", "2026-12-03T10:00:00.123456789+05:30", "+30s", "+1h2m3.5s", "+0s", "30s", "+-1s", "+9999999h", "2026-13-03T10:00:00Z", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 9, 58, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseStartAt(s, now)
		if err != nil {
			if at != (time.Time{}) {
				t.Fatalf("%q: error %v with a time %v", s, err, at)
			}
			return
		}
		if at.Before(now.Add(-StartTolerance)) || at.After(now.Add(MaxStartAhead)) {
			t.Fatalf("%q: %v is outside [now-%s, now+%s]", s, at, StartTolerance, MaxStartAhead)
		}
		if strings.HasPrefix(strings.TrimSpace(s), "+") {
			return
		}
		again, err := ParseStartAt(at.Format(time.RFC3339Nano), now)
		if err != nil || !again.Equal(at) {
			t.Fatalf("%q: %v formats as %q, which reads as %v, %v", s, at, at.Format(time.RFC3339Nano), again, err)
		}
	})
}

// arrivals is a loopback server that notes when each request arrives.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) server(t *testing.T) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.mu.Lock()
		a.times = append(a.times, now)
		a.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func (a *arrivals) all() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

// Run reads the corpus and checks the target, then waits for StartAt
// before it sends anything: the first request arrives at StartAt, the
// results record the planned start, and Waiting is told first.
func TestRunWaitsForStartAt(t *testing.T) {
	var got arrivals
	target := got.server(t)
	path := writeCorpus(t, "http://prod.example", 5)
	startAt := time.Now().Add(400 * time.Millisecond)
	var waited []time.Time
	out, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: target},
		Preflight: true, StartAt: startAt,
		Waiting: func(until time.Time) {
			if len(got.all()) != 0 {
				t.Error("Waiting called after requests were sent")
			}
			waited = append(waited, until)
		}})
	if err != nil {
		t.Fatal(err)
	}
	times := got.all()
	if len(times) != 5 {
		t.Fatalf("%d requests arrived, want 5", len(times))
	}
	if first := times[0].Sub(startAt); first < 0 || first > 100*time.Millisecond {
		t.Errorf("first request arrived %s after StartAt, want within [0, 100ms]", first)
	}
	m := out.Snapshot.Meta
	if !m.StartAt.Equal(startAt) || m.Start.Before(startAt) {
		t.Errorf("meta start_at %v, start %v; want start_at %v and start not before it", m.StartAt, m.Start, startAt)
	}
	if len(waited) != 1 || !waited[0].Equal(startAt) {
		t.Errorf("Waiting called with %v, want once with %v", waited, startAt)
	}
}

// A start time that passed while the corpus was read is refused before
// anything is sent; one within the tolerance starts at once.
func TestRunStartAtPassed(t *testing.T) {
	var got arrivals
	target := got.server(t)
	path := writeCorpus(t, "http://prod.example", 3)
	_, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: target},
		StartAt: time.Now().Add(-3 * time.Second)})
	if err == nil || !strings.Contains(err.Error(), "after the start time") || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("err %v, want one saying the run was ready after its start time", err)
	}
	if n := len(got.all()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	out, err := Run(context.Background(), Options{Corpus: path, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: target},
		StartAt: time.Now().Add(-StartTolerance / 2)})
	if err != nil || out.Snapshot.Meta.Scheduled != 3 {
		t.Fatalf("a start %s past: %v", StartTolerance/2, err)
	}
}

// The wait ends with the context: ErrStartInterrupted, nothing sent.
func TestRunStartAtInterrupted(t *testing.T) {
	var got arrivals
	target := got.server(t)
	path := writeCorpus(t, "http://prod.example", 3)
	ctx, cancel := context.WithCancel(context.Background())
	began := time.Now()
	out, err := Run(ctx, Options{Corpus: path, Engine: engine.Config{Target: target},
		StartAt: time.Now().Add(time.Minute),
		Waiting: func(time.Time) { time.AfterFunc(100*time.Millisecond, cancel) }})
	if !errors.Is(err, ErrStartInterrupted) || out != nil {
		t.Fatalf("got %v, %v; want ErrStartInterrupted and no outcome", out, err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("the wait ended %s after the interrupt", d)
	}
	if n := len(got.all()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
