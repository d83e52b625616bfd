package schedule

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func ex(flow string, ms int) traffic.Record {
	return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: flow, Start: time.Duration(ms) * time.Millisecond}}
}

func drain(t *testing.T, s *Schedule) []Event {
	t.Helper()
	var out []Event
	for {
		ev, err := s.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
}

func TestSchedule(t *testing.T) {
	recs := []traffic.Record{
		{Kind: traffic.KindHeader, Header: &traffic.Header{}},
		ex("a", 1200), ex("b", 1000), ex("a", 1500), ex("b", 3000), ex("a", 2000),
	}
	for _, tc := range []struct {
		name   string
		opts   Options
		wantAt []time.Duration
		flows  string
		late   int64
	}{
		{"recorded speed, sorted", Options{}, []time.Duration{0, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}, "baaab", 0},
		{"ten times faster", Options{Speed: 10}, []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}, "baaab", 0},
		{"half speed", Options{Speed: 0.5}, []time.Duration{0, 400 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}, "baaab", 0},
		{"tiny window still sorts what it can", Options{Window: time.Nanosecond}, []time.Duration{0, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}, "baaab", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(traffic.SliceSource(recs), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			evs := drain(t, s)
			var at []time.Duration
			var flows string
			for i, ev := range evs {
				if ev.Seq != uint64(i) {
					t.Fatalf("seq %d at %d", ev.Seq, i)
				}
				at = append(at, ev.At)
				flows += ev.Record.Flow()
			}
			if !reflect.DeepEqual(at, tc.wantAt) || flows != tc.flows {
				t.Fatalf("at = %v flows %s, want %v %s", at, flows, tc.wantAt, tc.flows)
			}
			if st := s.Stats(); st.Late != tc.late || st.Emitted != 5 || st.Skipped != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestShardsPartitionFlows(t *testing.T) {
	var recs []traffic.Record
	for i := 0; i < 300; i++ {
		recs = append(recs, ex(string(rune('a'+i%26))+"-flow", i))
	}
	seen := map[string]int{}
	total := 0
	for shard := 0; shard < 3; shard++ {
		s, err := New(traffic.SliceSource(recs), Options{Shard: shard, Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range drain(t, s) {
			f := ev.Record.Flow()
			if prev, ok := seen[f]; ok && prev != shard {
				t.Fatalf("flow %s in shards %d and %d", f, prev, shard)
			}
			seen[f] = shard
			total++
		}
	}
	if total != len(recs) {
		t.Fatalf("shards hold %d events, corpus %d", total, len(recs))
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Speed: -1}, {Shard: 3, Shards: 3}, {Shard: -1, Shards: 2}, {Window: -1}} {
		if _, err := New(traffic.SliceSource(nil), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// A record later than the window goes out at once, after a record that
// started after it, and is counted.
func TestLateRecord(t *testing.T) {
	recs := []traffic.Record{ex("a", 1000), ex("a", 3000), ex("a", 5000), ex("a", 7000), ex("b", 2000)}
	s, _ := New(traffic.SliceSource(recs), Options{Window: time.Second})
	var at []time.Duration
	for _, ev := range drain(t, s) {
		at = append(at, ev.At)
	}
	if want := []time.Duration{0, 2 * time.Second, time.Second, 4 * time.Second, 6 * time.Second}; !reflect.DeepEqual(at, want) {
		t.Fatalf("at = %v, want %v", at, want)
	}
	if s.Stats().Late != 1 {
		t.Fatalf("late = %d", s.Stats().Late)
	}
}

// A corpus written in completion order whose first exchange is its
// longest: learning the window as records come, the exchange goes out
// late, after shorter ones that started after it; with the disorder its
// survey found, the window holds it from the start and nothing is late.
func TestSurveyedDisorderHoldsTheFirstLongExchange(t *testing.T) {
	// "slow" starts at 0 and takes 2 s: written after everything that
	// started in the meantime.
	recs := []traffic.Record{ex("a", 100), ex("a", 600), ex("b", 1200), ex("a", 1800), ex("slow", 0), ex("a", 2500), ex("b", 3000)}
	sv, err := SurveySource(context.Background(), traffic.SliceSource(recs))
	if err != nil {
		t.Fatal(err)
	}
	if sv.Disorder != 1800*time.Millisecond {
		t.Fatalf("surveyed disorder %v, want 1.8s", sv.Disorder)
	}
	for _, tc := range []struct {
		disorder time.Duration
		late     int64
	}{{0, 1}, {sv.Disorder, 0}} {
		s, _ := New(traffic.SliceSource(recs), Options{Disorder: tc.disorder})
		var starts []time.Duration
		for _, ev := range drain(t, s) {
			starts = append(starts, ev.Record.Start())
		}
		if s.Stats().Late != tc.late {
			t.Errorf("disorder %v: %d late, want %d (starts %v)", tc.disorder, s.Stats().Late, tc.late, starts)
		}
		if tc.late == 0 && !slices.IsSorted(starts) {
			t.Errorf("disorder %v: starts %v out of order", tc.disorder, starts)
		}
	}
}

// dense is one flow "a" with a record every step over n steps.
func dense(n int, step time.Duration) []traffic.Record {
	recs := make([]traffic.Record, n)
	for i := range recs {
		recs[i] = traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "a", ConnID: 7, Start: time.Duration(i) * step}}
	}
	return recs
}

func reopen(recs []traffic.Record) func(context.Context) (traffic.Source, error) {
	return func(context.Context) (traffic.Source, error) { return traffic.SliceSource(recs), nil }
}

func TestCopies(t *testing.T) {
	ms := time.Millisecond
	recs := []traffic.Record{ex("a", 0), ex("b", 100), ex("a", 300)}
	type ev struct {
		at   time.Duration
		flow string
		copy int
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []ev
	}{
		{"one copy by default", Options{}, []ev{{0, "a", 0}, {100 * ms, "b", 0}, {300 * ms, "a", 0}}},
		{"three copies in lockstep, flows per copy", Options{Multiply: 3}, []ev{
			{0, "a", 0}, {0, "a#1", 1}, {0, "a#2", 2},
			{100 * ms, "b", 0}, {100 * ms, "b#1", 1}, {100 * ms, "b#2", 2},
			{300 * ms, "a", 0}, {300 * ms, "a#1", 1}, {300 * ms, "a#2", 2}}},
		// at one instant, events go out in the order their records were
		// read: record by record, copy by copy
		{"stagger spreads copy k by k*gap/N", Options{Multiply: 2, Stagger: 200 * ms}, []ev{
			{0, "a", 0}, {100 * ms, "a#1", 1}, {100 * ms, "b", 0}, {200 * ms, "b#1", 1}, {300 * ms, "a", 0}, {400 * ms, "a#1", 1}}},
		{"stagger with speed", Options{Multiply: 2, Stagger: 100 * ms, Speed: 2}, []ev{
			{0, "a", 0}, {50 * ms, "a#1", 1}, {50 * ms, "b", 0}, {100 * ms, "b#1", 1}, {150 * ms, "a", 0}, {200 * ms, "a#1", 1}}},
		{"duration cuts every copy", Options{Multiply: 2, Stagger: 200 * ms, Duration: 150 * ms}, []ev{
			{0, "a", 0}, {100 * ms, "a#1", 1}, {100 * ms, "b", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(traffic.SliceSource(recs), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []ev
			for _, e := range drain(t, s) {
				got = append(got, ev{e.At, e.Record.Flow(), e.Copy})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// Copies of a record are copies: the corpus record keeps its flow, and
// connection ids are distinct per copy and round but stable within one.
func TestCopyRecordsAreIndependent(t *testing.T) {
	open := traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 3, Upgrade: traffic.Exchange{Flow: "u", ConnID: 3}}}
	msg := traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 3, Start: time.Millisecond, FromClient: true}}
	cl := traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: 3, Start: 2 * time.Millisecond}}
	recs := []traffic.Record{open, msg, cl}
	s, err := New(traffic.SliceSource(recs), Options{Multiply: 3})
	if err != nil {
		t.Fatal(err)
	}
	conns := map[int]map[uint64]bool{}
	for _, e := range drain(t, s) {
		var id uint64
		switch e.Record.Kind {
		case traffic.KindWSOpen:
			id = e.Record.WSOpen.ConnID
			if e.Record.WSOpen.Upgrade.ConnID != id || e.Record.WSOpen.Upgrade.Flow != e.Record.Flow() {
				t.Fatalf("upgrade exchange not renamed with its connection: %+v", e.Record.WSOpen)
			}
		case traffic.KindWSMessage:
			id = e.Record.WSMessage.ConnID
		case traffic.KindWSClose:
			id = e.Record.WSClose.ConnID
		}
		if conns[e.Copy] == nil {
			conns[e.Copy] = map[uint64]bool{}
		}
		conns[e.Copy][id] = true
	}
	seen := map[uint64]int{}
	for c, ids := range conns {
		if len(ids) != 1 {
			t.Fatalf("copy %d used connection ids %v, want one", c, ids)
		}
		for id := range ids {
			if prev, ok := seen[id]; ok {
				t.Fatalf("copies %d and %d share connection id %d", prev, c, id)
			}
			seen[id] = c
		}
	}
	if conns[0][3] != true {
		t.Fatalf("copy 0 must keep the recorded connection id: %v", conns[0])
	}
	if open.WSOpen.Flow != "u" || open.WSOpen.ConnID != 3 || msg.WSMessage.Flow != "u" {
		t.Fatal("the corpus records were changed in place")
	}
}

func TestActiveSpans(t *testing.T) {
	s := time.Second
	st := func(spec string) []Stage {
		stages, err := ParseStages(spec)
		if err != nil {
			t.Fatal(err)
		}
		return stages
	}
	for _, tc := range []struct {
		name   string
		stages string
		copy   int
		want   []span
	}{
		{"ramp up: first copy at once", "10s:4", 0, []span{{0, 10 * s}}},
		{"ramp up: copy k when the target passes k", "10s:4", 1, []span{{2500 * time.Millisecond, 10 * s}}},
		{"ramp up: last copy", "10s:4", 3, []span{{7500 * time.Millisecond, 10 * s}}},
		{"above the peak never runs", "10s:4", 4, nil},
		{"ramp down stops the highest copy first", "10s:4,10s:0", 3, []span{{7500 * time.Millisecond, 12500 * time.Millisecond}}},
		{"ramp down stops copy 0 last", "10s:4,10s:0", 0, []span{{0, 20 * s}}},
		{"plateau", "2s:2,5s:2,2s:0", 1, []span{{1 * s, 8 * s}}},
		{"jump then hold", "0s:3,30s:3", 2, []span{{0, 30 * s}}},
		{"down and up again: two lives", "5s:2,5s:0,5s:2", 1, []span{{2500 * time.Millisecond, 7500 * time.Millisecond}, {12500 * time.Millisecond, 15 * s}}},
		{"fractional target: a copy while above", "10s:0.5", 0, []span{{0, 10 * s}}},
		{"k6 spike profile, copy 150", "10s:10,10s:200,30s:200,10s:10", 150, []span{{10*s + 7368421053, 52631578947}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := activeSpans(st(tc.stages), tc.copy); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("spans = %v, want %v", got, tc.want)
			}
		})
	}
}

// Under stages, copy k's events run only while the target is above k:
// ramping up starts it, ramping down stops it, and a stopped copy's
// remaining events are not scheduled.
func TestStagesSchedule(t *testing.T) {
	recs := dense(300, 100*time.Millisecond) // 30s of one flow
	stages, _ := ParseStages("2s:2,2s:2,2s:0")
	s, err := New(traffic.SliceSource(recs), Options{Stages: stages})
	if err != nil {
		t.Fatal(err)
	}
	first, last, n := map[int]time.Duration{}, map[int]time.Duration{}, map[int]int{}
	for _, e := range drain(t, s) {
		if _, ok := first[e.Copy]; !ok {
			first[e.Copy] = e.At
		}
		last[e.Copy] = e.At
		n[e.Copy]++
		// active from the moment the target passes the copy's index
		if want := TargetAt(stages, e.At+time.Millisecond); want <= float64(e.Copy) {
			t.Fatalf("copy %d event at %v while the target is %.2f", e.Copy, e.At, want)
		}
	}
	ms := time.Millisecond
	// copy 0: [0, 6s) -> 60 records; copy 1: [1s, 5s) -> its corpus
	// offsets 0..3.9s, 40 records.
	if n[0] != 60 || n[1] != 40 || first[1] != time.Second || last[0] != 5900*ms || last[1] != 4900*ms {
		t.Fatalf("events per copy %v, first %v, last %v", n, first, last)
	}
	if st := s.Stats(); st.Copies != 2 || st.Stopped != 2 || st.Read > 170 {
		t.Fatalf("stats %+v: want 2 copies both stopped early, corpus read no further than the reorder window beyond 6s", st)
	}
}

func TestLoop(t *testing.T) {
	ms := time.Millisecond
	recs := dense(3, 100*ms) // span 200ms, mean gap 100ms: period 300ms
	for _, tc := range []struct {
		name   string
		opts   Options
		rounds map[int][]int // copy -> rounds seen, in order
		events int
	}{
		{"one copy, duration", Options{Loop: true, Duration: 950 * ms}, map[int][]int{0: {0, 1, 2, 3}}, 10},
		{"two copies, stages end it", Options{Loop: true, Stages: []Stage{{0, 2}, {700 * ms, 2}}}, map[int][]int{0: {0, 1, 2}, 1: {0, 1, 2}}, 14},
		{"explicit period", Options{Loop: true, Duration: 950 * ms, Period: 500 * ms}, map[int][]int{0: {0, 1}}, 6},
		{"speed shortens the period", Options{Loop: true, Duration: 450 * ms, Speed: 2}, map[int][]int{0: {0, 1, 2, 3}}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Reopen = reopen(recs)
			s, err := New(traffic.SliceSource(recs), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			evs := drain(t, s)
			rounds := map[int][]int{}
			for i, e := range evs {
				if i > 0 && e.At < evs[i-1].At {
					t.Fatalf("event %d at %v before %v", i, e.At, evs[i-1].At)
				}
				r := rounds[e.Copy]
				if len(r) == 0 || r[len(r)-1] != e.Round {
					rounds[e.Copy] = append(r, e.Round)
				}
				if int(e.Pos) != int(e.Record.Start()/(100*ms)) {
					t.Fatalf("pos %d for record at %v", e.Pos, e.Record.Start())
				}
				if tc.opts.Duration > 0 && e.At > tc.opts.Duration {
					t.Fatalf("event at %v after the duration", e.At)
				}
			}
			if !reflect.DeepEqual(rounds, tc.rounds) || len(evs) != tc.events {
				t.Fatalf("rounds %v, %d events; want %v, %d", rounds, len(evs), tc.rounds, tc.events)
			}
		})
	}
}

// A copy the stages stop and start again comes back as a new flow with a
// new round; each round of a copy has its own connection ids.
func TestRestartIsANewLife(t *testing.T) {
	recs := dense(200, 100*time.Millisecond) // 20s
	stages, _ := ParseStages("5s:2,5s:0,5s:2")
	s, err := New(traffic.SliceSource(recs), Options{Stages: stages, Reopen: reopen(recs)})
	if err != nil {
		t.Fatal(err)
	}
	type life struct {
		flow  string
		round int
		conn  uint64
	}
	lives := map[life]int{}
	for _, e := range drain(t, s) {
		lives[life{e.Record.Flow(), e.Round, e.Record.Exchange.ConnID}]++
	}
	var got []string
	for l, n := range lives {
		got = append(got, fmt.Sprintf("%s/%d:%d", l.flow, l.round, n))
	}
	sort.Strings(got)
	// copy 0: the target touches 0 only at the instant 10s, so it runs
	// [0,15s) as one life; copy 1: [2.5s,7.5s) and [12.5s,15s).
	want := []string{"a#1.1/1:25", "a#1/0:50", "a/0:150"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lives %v, want %v", got, want)
	}
	conns := map[uint64]bool{}
	for l := range lives {
		if conns[l.conn] {
			t.Fatalf("connection id %d reused across rounds", l.conn)
		}
		conns[l.conn] = true
	}
}

func TestReopenNeeded(t *testing.T) {
	recs := dense(10, time.Second)
	for _, tc := range []struct {
		name string
		opts Options
		need bool
	}{
		{"multiply reads once", Options{Multiply: 50, Stagger: time.Second}, false},
		{"short ramp reads once", Options{Stages: []Stage{{20 * time.Second, 10}}}, false},
		{"long ramp reads again", Options{Stages: []Stage{{2 * time.Minute, 4}}}, true},
		{"loop reads again", Options{Loop: true, Duration: time.Minute}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(traffic.SliceSource(recs), tc.opts)
			if (err != nil) != tc.need {
				t.Fatalf("err = %v, want an error: %v", err, tc.need)
			}
			tc.opts.Reopen = reopen(recs)
			if _, err := New(traffic.SliceSource(recs), tc.opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Copies started minutes apart each read the corpus from its start.
func TestLateCopiesReadAgain(t *testing.T) {
	recs := dense(5, time.Second)
	var opened int
	stages, _ := ParseStages("2m:3,1m:3")
	s, err := New(traffic.SliceSource(recs), Options{Stages: stages, Reopen: func(ctx context.Context) (traffic.Source, error) {
		opened++
		return traffic.SliceSource(recs), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	perCopy := map[int][]time.Duration{}
	for _, e := range drain(t, s) {
		perCopy[e.Copy] = append(perCopy[e.Copy], e.Record.Start())
	}
	full := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
	for c := 0; c < 3; c++ {
		if !reflect.DeepEqual(perCopy[c], full) {
			t.Fatalf("copy %d replayed %v, want the whole corpus %v", c, perCopy[c], full)
		}
	}
	if opened != 2 || s.Stats().Passes != 3 {
		t.Fatalf("reopened %d times, %d passes; want 2 and 3", opened, s.Stats().Passes)
	}
}

// A copy the stages stop, or a looping round that ends, closes the
// WebSocket connections the corpus left open, so copies do not linger.
func TestOpenConnectionsClose(t *testing.T) {
	ms := time.Millisecond
	open := func(at time.Duration) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 4, Start: at, Upgrade: traffic.Exchange{Flow: "u", ConnID: 4}}}
	}
	msg := func(at time.Duration) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 4, Start: at, FromClient: true}}
	}
	closeAt := func(at time.Duration) traffic.Record {
		return traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: 4, Start: at, FromClient: true, Code: 1000}}
	}
	for _, tc := range []struct {
		name string
		recs []traffic.Record
		opts Options
		want []string // copy.round kind at
	}{
		{"stopped copy closes at its stop", []traffic.Record{open(0), msg(100 * ms), closeAt(3000 * ms)},
			Options{Stages: []Stage{{0, 2}, {time.Second, 2}, {0, 1}, {3 * time.Second, 1}}},
			[]string{"0.0 ws-open 0s", "1.0 ws-open 0s", "0.0 ws-message 100ms", "1.0 ws-message 100ms", "1.0 ws-close 999.999999ms copy stopped", "0.0 ws-close 3s "}},
		{"looping rounds close what the corpus left open", []traffic.Record{open(0), msg(100 * ms)},
			Options{Loop: true, Duration: 500 * ms},
			[]string{"0.0 ws-open 0s", "0.0 ws-message 100ms", "0.0 ws-close 100ms end of round", "0.1 ws-open 200ms", "0.1 ws-message 300ms",
				"0.1 ws-close 300ms end of round", "0.2 ws-open 400ms", "0.2 ws-message 500ms", "0.2 ws-close 500ms end of round"}},
		{"a single pass leaves them to the engine", []traffic.Record{open(0), msg(100 * ms)}, Options{Multiply: 2},
			[]string{"0.0 ws-open 0s", "1.0 ws-open 0s", "0.0 ws-message 100ms", "1.0 ws-message 100ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Reopen = reopen(tc.recs)
			s, err := New(traffic.SliceSource(tc.recs), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			conns := map[string]uint64{}
			for _, e := range drain(t, s) {
				line := fmt.Sprintf("%d.%d %s %v", e.Copy, e.Round, e.Record.Kind, e.At)
				var id uint64
				switch e.Record.Kind {
				case traffic.KindWSOpen:
					id = e.Record.WSOpen.ConnID
				case traffic.KindWSMessage:
					id = e.Record.WSMessage.ConnID
				case traffic.KindWSClose:
					id = e.Record.WSClose.ConnID
					line += " " + e.Record.WSClose.Reason
				}
				key := fmt.Sprintf("%d.%d", e.Copy, e.Round)
				if prev, ok := conns[key]; ok && prev != id {
					t.Fatalf("%s uses connection ids %d and %d", key, prev, id)
				}
				conns[key] = id
				got = append(got, line)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Shards split the flows of a run with copies: together they hold every
// event of the whole run, each at the same time as in the whole run.
func TestShardsWithCopies(t *testing.T) {
	var recs []traffic.Record
	for i := 0; i < 60; i++ {
		recs = append(recs, ex(string(rune('a'+i%7))+"-flow", 500+i*10))
	}
	key := func(e Event) string { return fmt.Sprintf("%s@%v", e.Record.Flow(), e.At) }
	whole, err := New(traffic.SliceSource(recs), Options{Multiply: 3, Stagger: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range drain(t, whole) {
		want[key(e)] = true
	}
	got := map[string]bool{}
	for shard := 0; shard < 3; shard++ {
		s, err := New(traffic.SliceSource(recs), Options{Multiply: 3, Stagger: 30 * time.Millisecond, Shard: shard, Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range drain(t, s) {
			if got[key(e)] {
				t.Fatalf("%s in two shards", key(e))
			}
			got[key(e)] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shards hold %d events, the whole run %d (or at other times)", len(got), len(want))
	}
}

// MaxGap cuts idle stretches: records days apart replay a gap apart.
func TestMaxGap(t *testing.T) {
	day := 24 * time.Hour
	recs := []traffic.Record{ex("a", 0), ex("a", 100), ex("b", int(day/time.Millisecond)), ex("a", int(day/time.Millisecond)+50), ex("b", int(3*day/time.Millisecond))}
	s, err := New(traffic.SliceSource(recs), Options{MaxGap: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	for _, ev := range drain(t, s) {
		at = append(at, ev.At)
	}
	ms := time.Millisecond
	if want := []time.Duration{0, 100 * ms, 1100 * ms, 1150 * ms, 2150 * ms}; !reflect.DeepEqual(at, want) {
		t.Fatalf("at = %v, want %v", at, want)
	}
	if _, err := New(traffic.SliceSource(nil), Options{MaxGap: -1}); err == nil {
		t.Fatal("negative max gap accepted")
	}
}

// Varies is true exactly when some event carries an identity other than
// copy 0's first pass, a copy the stages start again included.
func TestVaries(t *testing.T) {
	recs := dense(200, 100*time.Millisecond) // 20s of one flow
	for _, tc := range []struct {
		stages string
		opts   Options
		varies bool
	}{
		{"", Options{}, false},
		{"", Options{Multiply: 2}, true},
		{"2s:1,2s:1", Options{}, false},
		{"2s:1,2s:0,2s:0,2s:1", Options{}, true}, // copy 0 stops and starts again
	} {
		opts := tc.opts
		opts.Reopen = reopen(recs)
		if tc.stages != "" {
			opts.Stages, _ = ParseStages(tc.stages)
		}
		s, err := New(traffic.SliceSource(recs), opts)
		if err != nil {
			t.Fatal(err)
		}
		want := false
		for _, e := range drain(t, s) {
			want = want || e.Identity() != ""
		}
		if got := s.Varies(); got != want || want != tc.varies {
			t.Errorf("stages %q multiply %d: Varies %v, events with other identities %v", tc.stages, tc.opts.Multiply, got, want)
		}
	}
}

// The reorder window adapts to the corpus's disorder: a record written
// 300ms after a later-starting one teaches the window to hold 600ms, so a
// later one 500ms out of order still goes out in start order; a corpus in
// order reads only a quarter second ahead.
func TestReorderWindowAdapts(t *testing.T) {
	ms := time.Millisecond
	recs := []traffic.Record{ex("a", 0), ex("a", 1000), ex("b", 700), ex("a", 3000), ex("a", 4000), ex("b", 3500), ex("a", 6000)}
	s, _ := New(traffic.SliceSource(recs), Options{})
	var starts []time.Duration
	for _, ev := range drain(t, s) {
		starts = append(starts, ev.Record.Start())
	}
	if !slices.IsSorted(starts) || s.Stats().Late != 0 {
		t.Fatalf("starts %v, late %d", starts, s.Stats().Late)
	}
	// In order: reading stays within the window of the record going out.
	var read int
	src := traffic.SourceFunc(func(ctx context.Context) (traffic.Record, error) {
		if read == 1000 {
			return traffic.Record{}, io.EOF
		}
		read++
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "a", Start: time.Duration(read) * 10 * ms}}, nil
	})
	s, _ = New(src, Options{})
	ev, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ahead := time.Duration(read)*10*ms - ev.Record.Start(); ahead > 300*ms {
		t.Fatalf("read %v ahead of the first event", ahead)
	}
}
