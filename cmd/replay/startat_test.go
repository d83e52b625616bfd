package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/traffic"
)

// usersCorpus records users users, each sending three requests, the
// first of every user at the recording's first instant: whichever
// users a shard gets, its first event is due at the run's time zero.
func usersCorpus(t *testing.T, dir string, users int) string {
	t.Helper()
	path := filepath.Join(dir, "users.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.example:8787"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for u := 0; u < users; u++ {
			err := w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
				Flow: fmt.Sprintf("client-%d", u), ConnID: uint64(u + 1), Start: time.Duration(i) * 25 * time.Millisecond,
				Request:  traffic.Request{Method: "GET", URL: fmt.Sprintf("/v1/items?user=%d&i=%d", u, i)},
				Response: &traffic.Response{Status: 200}}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// firstArrivals is a loopback server that notes when the first request of
// each shard (its X-Shard header) arrives.
type firstArrivals struct {
	mu    sync.Mutex
	first map[string]time.Time
	count map[string]int
}

func newFirstArrivals(t *testing.T) (*firstArrivals, string) {
	a := &firstArrivals{first: map[string]time.Time{}, count: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		shard := r.Header.Get("X-Shard")
		a.mu.Lock()
		if _, seen := a.first[shard]; !seen {
			a.first[shard] = now
		}
		a.count[shard]++
		a.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return a, srv.URL
}

// runShards runs shards shards of corpusPath side by side, in-process
// through run(), shard i launched i*gap after the first (as the pods of
// a Job start one after another), each with extra arguments, and
// returns when each shard's first request arrived.
func runShards(t *testing.T, corpusPath string, shards int, gap time.Duration, extra ...string) []time.Time {
	t.Helper()
	arr, target := newFirstArrivals(t)
	var wg sync.WaitGroup
	codes := make([]int, shards)
	outs := make([]string, shards)
	for i := 0; i < shards; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * gap)
			args := append([]string{"run", corpusPath, "--target", target, "--shard", fmt.Sprintf("%d/%d", i, shards),
				"--header", "X-Shard: " + strconv.Itoa(i), "-q"}, extra...)
			var stdout, stderr bytes.Buffer
			codes[i] = run(context.Background(), append([]string{"replay"}, args...), &stdout, &stderr)
			outs[i] = stdout.String() + stderr.String()
		}()
	}
	wg.Wait()
	var firsts []time.Time
	for i := 0; i < shards; i++ {
		if codes[i] != exitOK {
			t.Fatalf("shard %d: exit %d\n%s", i, codes[i], outs[i])
		}
		first, ok := arr.first[strconv.Itoa(i)]
		if !ok || arr.count[strconv.Itoa(i)] == 0 {
			t.Fatalf("shard %d sent nothing", i)
		}
		firsts = append(firsts, first)
	}
	return firsts
}

func spread(ts []time.Time) time.Duration {
	return slices.MaxFunc(ts, time.Time.Compare).Sub(slices.MinFunc(ts, time.Time.Compare))
}

// Four shards whose processes start 100 ms apart, given one --start-at,
// fire their first events within a few milliseconds of one another and
// not before the start; without it, their first events are as far apart
// as their starts. On a shared machine a process can lose the CPU for
// tens of milliseconds at the wrong moment: a synchronized run is tried
// up to three times, and one must stay under 20 ms.
func TestStartAtSynchronizesShards(t *testing.T) {
	const shards, gap = 4, 100 * time.Millisecond
	corpusPath := usersCorpus(t, t.TempDir(), 8)

	unsynced := runShards(t, corpusPath, shards, gap)
	without := spread(unsynced)
	if without < gap {
		t.Fatalf("without --start-at the shards' first requests are %s apart: the launches %s apart should show", without, gap)
	}
	var spreads []time.Duration
	for attempt := 0; attempt < 3; attempt++ {
		// Two seconds leave the last shard, launched 0.3 s in, time to
		// read the corpus and check the target on a loaded machine.
		startAt := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
		synced := runShards(t, corpusPath, shards, gap, "--start-at", replay.FormatStart(startAt))
		for i, first := range synced {
			if d := first.Sub(startAt); d < 0 {
				t.Fatalf("shard %d: first request %s before --start-at", i, -d)
			}
		}
		s := spread(synced)
		spreads = append(spreads, s)
		if late := slices.MaxFunc(synced, time.Time.Compare).Sub(startAt); s < 20*time.Millisecond && late < 50*time.Millisecond {
			break
		}
	}
	t.Logf("spread of the shards' first requests: %v with --start-at, %s without (launched %s apart)", spreads, without, gap)
	if best := slices.Min(spreads); best >= 20*time.Millisecond {
		t.Errorf("with --start-at the shards' first requests are %v apart in %d tries, want under 20ms", spreads, len(spreads))
	}
}

// syncBuffer is a bytes.Buffer safe to read while run() writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An interrupt during the wait stops the run with its own message and
// exit 130: nothing sent, no report, no results, no directories.
func TestStartAtInterruptedWait(t *testing.T) {
	dir := t.TempDir()
	arr, target := newFirstArrivals(t)
	out := filepath.Join(dir, "new", "r.json")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"replay", "run", usersCorpus(t, dir, 2), "--target", target, "--start-at", "+1m",
			"--out", "json=" + out}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "waiting until") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel(errors.New("interrupt signal received"))
	var code int
	select {
	case code = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end with the interrupt")
	}
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitInterrupted, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "corpus read, target checked: waiting until ") || !regexp.MustCompile(`until \S+ \(in [0-9hms.]+\)`).MatchString(lines[0]) {
		t.Fatalf("stderr does not say it waits, and until when:\n%s", stderr.String())
	}
	oneLine(t, lines[1], "interrupted while waiting for --start-at", "before it (interrupt signal received)", "nothing was sent, no report written")
	if stdout.String() != "" || len(arr.count) != 0 {
		t.Errorf("stdout %q, %d shards sent requests: want nothing", stdout.String(), len(arr.count))
	}
	if _, err := os.Stat(filepath.Dir(out)); err == nil {
		t.Errorf("%s was made for a run that never started", filepath.Dir(out))
	}
}

// A --start-at that cannot be met is one line and exit 2, before the
// corpus is read.
func TestStartAtBadInput(t *testing.T) {
	dir := t.TempDir()
	corpusPath := smallCorpus(t, dir, 3)
	target := okServer(t)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ value, want string }{
		{"tomorrow", "want an RFC 3339 time such as 2026-12-03T10:00:00Z, or +DURATION from now such as +30s"},
		{"30s", "a duration from now needs a leading +, such as +30s"},
		{past, "in the past (1s tolerated)"},
		{"+25h", "more than 24h ahead"},
		{time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339), "more than 24h"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			code, stdout, stderr := runReplay(t, "run", corpusPath, "--target", target, "--start-at", tc.value)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			oneLine(t, stderr, "--start-at "+strconv.Quote(tc.value), tc.want)
		})
	}
}

// A run ready a little after its --start-at (within the tolerance)
// starts at once, and its report says how late it started.
func TestStartAtLateNote(t *testing.T) {
	dir := t.TempDir()
	startAt := time.Now().Add(-300 * time.Millisecond)
	out := filepath.Join(dir, "r.json")
	code, stdout, stderr := runReplay(t, "run", usersCorpus(t, dir, 2), "--target", okServer(t), "-q",
		"--start-at", startAt.Format(time.RFC3339Nano), "--out", "json="+out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`note: started [0-9.]+m?s after --start-at ` + regexp.QuoteMeta(replay.FormatStart(startAt))).MatchString(stdout) {
		t.Errorf("no note of the late start:\n%s", stdout)
	}
	m := readResultsT(t, out).Meta
	if !m.StartAt.Equal(startAt) || m.Start.Sub(m.StartAt) < 300*time.Millisecond {
		t.Errorf("results: start_at %v, start %v; want start_at %v and start 300ms or more after it", m.StartAt, m.Start, startAt)
	}
}
