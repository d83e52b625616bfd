package schedule

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

const ms = time.Millisecond

// userRecs makes the records of recorded users: user i has flows "ui"
// and "ui-login" (one user: userOfTest puts them together), its records
// at first(i) + offsets, each exchange recorded as lasting took.
func userRecs(n int, first func(i int) time.Duration, offsets []time.Duration, took time.Duration) []traffic.Record {
	var recs []traffic.Record
	for i := 0; i < n; i++ {
		for j, off := range offsets {
			flow := fmt.Sprintf("u%d", i)
			if j == 0 {
				flow += "-login"
			}
			recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
				Flow: flow, ConnID: uint64(10*i + 1), Start: first(i) + off, Timing: traffic.Timing{Total: took},
				Request: traffic.Request{Method: "GET", URL: fmt.Sprintf("/u/%d/%d", i, j)},
			}})
		}
	}
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].Start() < recs[b].Start() })
	return recs
}

func userOfTest(flow string) string {
	base, _, _ := strings.Cut(flow, "#")
	return strings.TrimSuffix(base, "-login")
}

// vuRun drains a VU schedule and returns its events and the iterations it
// reported.
func vuRun(t *testing.T, recs []traffic.Record, opts Options) ([]Event, []Iteration, *Schedule) {
	t.Helper()
	opts.VU = true
	opts.UserOf = userOfTest
	opts.Reopen = reopen(recs)
	var its []Iteration
	opts.OnIteration = func(it Iteration) { its = append(its, it) }
	s, err := New(traffic.SliceSource(recs), opts)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, s), its, s
}

// iterationsOf groups events by VU and iteration: "vu.round user@start: offsets".
func iterationsOf(evs []Event) []string {
	type key struct{ vu, round int }
	type iter struct {
		user  string
		start time.Duration
		offs  []string
	}
	by := map[key]*iter{}
	var keys []key
	for _, e := range evs {
		k := key{e.Copy, e.Round}
		it := by[k]
		if it == nil {
			it = &iter{user: userOfTest(e.Record.Flow()), start: e.At}
			by[k] = it
			keys = append(keys, k)
		}
		it.offs = append(it.offs, (e.At - it.start).String())
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].vu != keys[j].vu {
			return keys[i].vu < keys[j].vu
		}
		return keys[i].round < keys[j].round
	})
	var out []string
	for _, k := range keys {
		it := by[k]
		out = append(out, fmt.Sprintf("%d.%d %s@%v: %s", k.vu, k.round, it.user, it.start, strings.Join(it.offs, " ")))
	}
	return out
}

// Two VUs over three users for a second: each VU replays one user per
// iteration at the user's recorded offsets, then the next user ((k +
// i*N) mod U), back to back; the iteration under way at the end is cut.
func TestVUsCycleThroughUsers(t *testing.T) {
	offsets := []time.Duration{0, 100 * ms, 200 * ms}
	// users start 1s apart in the corpus; each lasts 200ms + 50ms
	recs := userRecs(3, func(i int) time.Duration { return time.Duration(i) * time.Second }, offsets, 50*ms)
	evs, its, s := vuRun(t, recs, Options{Multiply: 2, Duration: time.Second})
	want := []string{
		"0.0 u0@0s: 0s 100ms 200ms",
		"0.1 u2@250ms: 0s 100ms 200ms",
		"0.2 u1@500ms: 0s 100ms 200ms",
		"0.3 u0@750ms: 0s 100ms 200ms",
		"0.4 u2@1s: 0s", // cut by the duration
		"1.0 u1@0s: 0s 100ms 200ms",
		"1.1 u0@250ms: 0s 100ms 200ms",
		"1.2 u2@500ms: 0s 100ms 200ms",
		"1.3 u1@750ms: 0s 100ms 200ms",
		"1.4 u0@1s: 0s",
	}
	if got := iterationsOf(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("iterations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Identities: VU 0's first iteration is the recording, every other
	// one an identity set of its own; flows and connections per VU.
	labels := map[string]bool{}
	conns := map[uint64]string{}
	for _, e := range evs {
		id := e.Identity()
		labels[id] = true
		if want := fmt.Sprintf("%d.%d", e.Copy, e.Round); id != want && !(id == "" && want == "0.0") && !(e.Round == 0 && id == fmt.Sprint(e.Copy)) {
			t.Fatalf("event of VU %d iteration %d has identity %q", e.Copy, e.Round, id)
		}
		flow := e.Record.Flow()
		if e.Copy == 0 && strings.Contains(flow, "#") || e.Copy == 1 && !strings.HasSuffix(flow, "#1") {
			t.Fatalf("VU %d sends flow %q", e.Copy, flow)
		}
		c := e.Record.Exchange.ConnID
		if prev, ok := conns[c]; ok && prev != id {
			t.Fatalf("connection %d used by identities %q and %q", c, prev, id)
		}
		conns[c] = id
		if e.Facts == nil {
			t.Fatal("event without facts")
		}
	}
	if len(labels) != 10 {
		t.Fatalf("%d identity sets, want one per iteration (10)", len(labels))
	}
	// A VU's iterations never overlap: its next one starts after its
	// previous one's last event.
	last := map[int]Event{}
	for _, e := range evs {
		if p, ok := last[e.Copy]; ok && (e.Round < p.Round || e.Round > p.Round && e.At <= p.At) {
			t.Fatalf("VU %d: iteration %d at %v after iteration %d at %v", e.Copy, e.Round, e.At, p.Round, p.At)
		}
		last[e.Copy] = e
	}
	var complete, cut int
	for _, it := range its {
		if !it.Done {
			continue
		}
		if it.Complete {
			complete++
			if it.End-it.Start != 250*ms || it.Last-it.Start != 200*ms {
				t.Fatalf("iteration %+v: want 250ms long, last event at 200ms", it)
			}
		} else {
			cut++
			if it.End != time.Second {
				t.Fatalf("cut iteration %+v ends at %v, want the run's end", it, it.End)
			}
		}
	}
	if len(its) != 20 || complete != 8 || cut != 2 {
		t.Fatalf("%d reports, %d complete, %d cut; want 20, 8, 2", len(its), complete, cut)
	}
	st := s.Stats()
	if st.VUs != 2 || st.Iterations != 8 || st.Cut != 2 || st.Emitted != 26 {
		t.Fatalf("stats %+v", st)
	}
}

// Without a duration or stages the VUs share one pass over the users:
// each user once, N at a time, and each VU at least once.
func TestVUsWithoutEndReplayEachUserOnce(t *testing.T) {
	recs := userRecs(5, func(i int) time.Duration { return time.Duration(i) * 10 * ms }, []time.Duration{0, 100 * ms}, 0)
	evs, its, _ := vuRun(t, recs, Options{Multiply: 2, Speed: 2})
	want := []string{
		"0.0 u0@0s: 0s 50ms",
		"0.1 u2@51ms: 0s 50ms", // the last record's start, plus the 1ms minimum
		"0.2 u4@102ms: 0s 50ms",
		"1.0 u1@0s: 0s 50ms",
		"1.1 u3@51ms: 0s 50ms",
	}
	if got := iterationsOf(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("iterations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(its) != 10 {
		t.Fatalf("%d reports, want 10", len(its))
	}
	// More VUs than users: every VU runs once.
	two := userRecs(2, func(i int) time.Duration { return time.Duration(i) * 10 * ms }, []time.Duration{0, 100 * ms}, 0)
	evs, _, _ = vuRun(t, two, Options{Multiply: 3, Speed: 2})
	want = []string{"0.0 u0@0s: 0s 50ms", "1.0 u1@0s: 0s 50ms", "2.0 u0@0s: 0s 50ms"}
	if got := iterationsOf(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("iterations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Stages ramp the VUs: VU k runs while the target is above k. A VU that
// a ramp-down stops finishes its iteration within the graceful ramp-down
// and starts no other; the end of the stages cuts what is running.
func TestVUStages(t *testing.T) {
	offsets := []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}
	recs := userRecs(2, func(i int) time.Duration { return time.Duration(i) * ms }, offsets, 0)
	// VU 1 from 0 to 1s, VU 0 from 0 to 2s; iterations of 301ms. Two
	// VUs over two users: each VU keeps its user ((k + i*2) mod 2 = k).
	stages := []Stage{{0, 2}, {time.Second, 2}, {0, 1}, {time.Second, 1}}
	for _, tc := range []struct {
		name  string
		grace time.Duration
		vu1   []string
	}{
		{"graceful ramp-down finishes the iteration", 500 * ms, []string{
			"1.0 u1@0s: 0s 100ms 200ms 300ms", "1.1 u1@301ms: 0s 100ms 200ms 300ms", "1.2 u1@602ms: 0s 100ms 200ms 300ms",
			"1.3 u1@903ms: 0s 100ms 200ms 300ms"}},
		{"beyond the grace it is cut", 100 * ms, []string{
			"1.0 u1@0s: 0s 100ms 200ms 300ms", "1.1 u1@301ms: 0s 100ms 200ms 300ms", "1.2 u1@602ms: 0s 100ms 200ms 300ms",
			"1.3 u1@903ms: 0s 100ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, its, s := vuRun(t, recs, Options{Stages: stages, GracefulRampDown: tc.grace})
			var vu0, vu1 []string
			for _, it := range iterationsOf(evs) {
				if strings.HasPrefix(it, "0.") {
					vu0 = append(vu0, it)
				} else {
					vu1 = append(vu1, it)
				}
			}
			if !reflect.DeepEqual(vu1, tc.vu1) {
				t.Fatalf("VU 1:\n%s\nwant\n%s", strings.Join(vu1, "\n"), strings.Join(tc.vu1, "\n"))
			}
			// VU 0 runs to the stages' end at 2s: 6 whole iterations,
			// the 7th (at 1.806s) cut at 2s.
			if len(vu0) != 7 || vu0[6] != "0.6 u0@1.806s: 0s 100ms" {
				t.Fatalf("VU 0:\n%s", strings.Join(vu0, "\n"))
			}
			cut := 0
			for _, it := range its {
				if it.Done && !it.Complete {
					cut++
				}
			}
			if want := map[bool]int{true: 1, false: 2}[tc.grace == 500*ms]; cut != want {
				t.Fatalf("%d iterations cut, want %d", cut, want)
			}
			if s.Stats().VUs != 2 {
				t.Fatalf("VUs %d", s.Stats().VUs)
			}
		})
	}
}

// A VU the stages stop and start again resumes after its last iteration.
func TestVUStartedAgain(t *testing.T) {
	recs := userRecs(1, func(int) time.Duration { return 0 }, []time.Duration{0, 400 * ms}, 0)
	// VU 0: 0-500ms, again 600ms-1s; the grace lets the iteration at
	// 401ms run to 802ms, so the second life starts there.
	stages := []Stage{{0, 1}, {500 * ms, 1}, {0, 0}, {100 * ms, 0}, {0, 1}, {400 * ms, 1}}
	evs, _, _ := vuRun(t, recs, Options{Stages: stages, GracefulRampDown: time.Second})
	want := []string{"0.0 u0@0s: 0s 400ms", "0.1 u0@401ms: 0s 400ms", "0.2 u0@802ms: 0s"}
	if got := iterationsOf(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("iterations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range evs {
		if e.Round == 2 && !strings.HasSuffix(e.Record.Flow(), "#0.1") {
			t.Fatalf("second life sends flow %q, want a life suffix", e.Record.Flow())
		}
	}
}

// Shards split the VUs (VU k in shard k mod N) and the users: a shard's
// VUs cycle through its own users only.
func TestVUShards(t *testing.T) {
	recs := userRecs(4, func(i int) time.Duration { return time.Duration(i) * 10 * ms }, []time.Duration{0, 50 * ms}, 0)
	shardOf := func(flow string, n int) int {
		var i int
		fmt.Sscanf(strings.TrimPrefix(userOfTest(flow), "u"), "%d", &i)
		return i % n
	}
	vus := map[int]int{}
	for shard := 0; shard < 2; shard++ {
		evs, _, s := vuRun(t, recs, Options{Multiply: 3, Duration: 400 * ms, Shard: shard, Shards: 2, ShardOf: shardOf})
		if len(evs) == 0 {
			t.Fatalf("shard %d sent nothing", shard)
		}
		for _, e := range evs {
			if e.Copy%2 != shard {
				t.Fatalf("VU %d in shard %d", e.Copy, shard)
			}
			if u := userOfTest(e.Record.Flow()); shardOf(u, 2) != shard {
				t.Fatalf("shard %d replays user %s", shard, u)
			}
			vus[e.Copy]++
		}
		if want := 2 - shard; s.Stats().VUs != want {
			t.Fatalf("shard %d runs %d VUs, want %d", shard, s.Stats().VUs, want)
		}
	}
	if len(vus) != 3 {
		t.Fatalf("VUs %v, want 0, 1 and 2 over the shards", vus)
	}
}

// Many VUs starting together share reads of the corpus.
func TestVUsShareReads(t *testing.T) {
	recs := userRecs(1, func(int) time.Duration { return 0 }, []time.Duration{0, 100 * ms, 200 * ms}, 0)
	evs, _, s := vuRun(t, recs, Options{Multiply: 20, Duration: time.Second})
	st := s.Stats()
	// 20 VUs, iterations of 201ms: 5 waves of 20, the last cut after
	// two records
	if len(evs) != 20*(4*3+2) || st.Rounds != 100 {
		t.Fatalf("%d events, %d iterations", len(evs), st.Rounds)
	}
	if st.Passes > 6 { // Prepare's, then one per wave
		t.Fatalf("%d reads for %d iterations", st.Passes, st.Rounds)
	}
	// Ten users starting 100ms apart in the corpus, ten VUs starting
	// 10ms apart: their iterations share one read, which reaches each
	// user as its iteration starts.
	recs = userRecs(10, func(i int) time.Duration { return time.Duration(i) * 100 * ms }, []time.Duration{0, 100 * ms, 200 * ms}, 0)
	evs, _, s = vuRun(t, recs, Options{Multiply: 10, Stagger: 100 * ms, Duration: 150 * ms})
	if got := iterationsOf(evs); len(got) != 10 || got[9] != "9.0 u9@90ms: 0s" || got[0] != "0.0 u0@0s: 0s 100ms" {
		t.Fatalf("iterations %v", got)
	}
	// (their reads start between -810ms and 0: two steps of the 10s grid)
	if st := s.Stats(); st.Passes != 3 {
		t.Fatalf("%d reads for %d iterations of users far apart in the corpus, want Prepare's and two", st.Passes, st.Rounds)
	}
}

// MaxGap cuts the gaps within a user's records, and the iteration is as
// much shorter.
func TestVUMaxGap(t *testing.T) {
	recs := userRecs(1, func(int) time.Duration { return 0 }, []time.Duration{0, 100 * ms, time.Hour}, 0)
	evs, _, s := vuRun(t, recs, Options{Duration: 1500 * ms, MaxGap: time.Second})
	want := []string{"0.0 u0@0s: 0s 100ms 1.1s"}
	if got := iterationsOf(evs); !reflect.DeepEqual(got[:1], want) || len(got) != 2 || !strings.HasPrefix(got[1], "0.1 u0@1.101s: 0s") {
		t.Fatalf("iterations %v, want %v then one at 1.101s", got, want)
	}
	if u := s.Users(); len(u) != 1 || u[0].Length != 1100*ms || u[0].Records != 3 {
		t.Fatalf("users %+v", u)
	}
}

func TestVUNeedsReopen(t *testing.T) {
	if _, err := New(traffic.SliceSource(nil), Options{VU: true, Multiply: 2}); err == nil || !strings.Contains(err.Error(), "Reopen") {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(traffic.SliceSource(nil), Options{VU: true, GracefulRampDown: -time.Second, Reopen: reopen(nil)}); err == nil {
		t.Fatal("negative graceful ramp-down accepted")
	}
	// A corpus without users: the VUs have nothing to do.
	evs, its, _ := vuRun(t, nil, Options{Multiply: 3, Duration: time.Second})
	if len(evs) != 0 || len(its) != 0 {
		t.Fatalf("%d events, %d iterations from an empty corpus", len(evs), len(its))
	}
}

// A WebSocket the user leaves open closes with the iteration's last
// event, and a cut iteration closes its sockets at the cut.
func TestVUClosesSockets(t *testing.T) {
	open := traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u0", ConnID: 4, Start: 0, Upgrade: traffic.Exchange{Flow: "u0", ConnID: 4}}}
	msg := func(at time.Duration) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u0", ConnID: 4, Start: at, FromClient: true}}
	}
	recs := []traffic.Record{open, msg(100 * ms), msg(200 * ms)}
	evs, _, _ := vuRun(t, recs, Options{Duration: 350 * ms})
	var got []string
	for _, e := range evs {
		line := fmt.Sprintf("%d.%d %s %v", e.Copy, e.Round, e.Record.Kind, e.At)
		if e.Record.Kind == traffic.KindWSClose {
			line += " " + e.Record.WSClose.Reason
		}
		got = append(got, line)
	}
	want := []string{"0.0 ws-open 0s", "0.0 ws-message 100ms", "0.0 ws-message 200ms", "0.0 ws-close 200ms end of iteration",
		"0.1 ws-open 201ms", "0.1 ws-message 301ms", "0.1 ws-close 350ms vu stopped"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadApply(t *testing.T) {
	for _, tc := range []struct {
		name     string
		load     Load
		vu       bool
		multiply int
		peak     float64 // of the stages
		total    time.Duration
		err      string
	}{
		{"nothing is one copy", Load{}, false, 0, 0, 0, ""},
		{"multiply is copies", Load{Multiply: 10}, false, 10, 0, 0, ""},
		{"users are VUs", Load{Users: 45}, true, 45, 0, 0, ""},
		{"profile targets are VUs", Load{Profile: "average"}, true, 0, 100, 2 * time.Minute, ""},
		{"smoke is one VU", Load{Profile: "smoke"}, true, 0, 1, 30 * time.Second, ""},
		{"profile scaled by users", Load{Profile: "stress", Users: 400}, true, 0, 400, 6 * time.Minute, ""},
		{"custom stages are VUs", Load{Stages: []Stage{{time.Second, 3}}}, true, 0, 3, time.Second, ""},
		{"two at once", Load{Multiply: 2, Users: 3}, false, 0, 0, 0, "give one of"},
		{"profile and stages", Load{Profile: "smoke", Stages: []Stage{{time.Second, 1}}}, false, 0, 0, 0, "give one of"},
		{"unknown profile", Load{Profile: "soak"}, false, 0, 0, 0, `unknown profile "soak" (known: smoke, average, stress, spike, endurance)`},
		{"too many VUs", Load{Users: 1e6}, false, 0, 0, 0, "at most 100000 virtual users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			err := tc.load.Apply(&o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.VU != tc.vu || o.Multiply != tc.multiply || Peak(o.Stages) != tc.peak || StagesDuration(o.Stages) != tc.total {
				t.Fatalf("options %+v; want VU %v, multiply %d, peak %v over %v", o, tc.vu, tc.multiply, tc.peak, tc.total)
			}
		})
	}
}
