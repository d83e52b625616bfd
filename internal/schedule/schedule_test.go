package schedule

import (
	"context"
	"io"
	"reflect"
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
	recs := []traffic.Record{ex("a", 1000), ex("a", 3000), ex("a", 5000), ex("b", 2000)}
	s, _ := New(traffic.SliceSource(recs), Options{Window: time.Second})
	var at []time.Duration
	for _, ev := range drain(t, s) {
		at = append(at, ev.At)
	}
	if want := []time.Duration{0, 2 * time.Second, time.Second, 4 * time.Second}; !reflect.DeepEqual(at, want) {
		t.Fatalf("at = %v, want %v", at, want)
	}
	if s.Stats().Late != 1 {
		t.Fatalf("late = %d", s.Stats().Late)
	}
}
