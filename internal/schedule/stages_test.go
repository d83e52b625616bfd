package schedule

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func TestParseStages(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name, in string
		want     []Stage
		err      string
	}{
		{"k6 form", "30s:1,1m:10,30s:0", []Stage{{30 * s, 1}, {time.Minute, 10}, {30 * s, 0}}, ""},
		{"spaces and fractions", " 1m30s : 2.5 , 500ms:0 ", []Stage{{90 * s, 2.5}, {500 * time.Millisecond, 0}}, ""},
		{"jump then hold", "0s:3,10s:3", []Stage{{0, 3}, {10 * s, 3}}, ""},
		{"empty", "", nil, "no stages"},
		{"no colon", "30s", nil, `stage 1 "30s": want DURATION:TARGET`},
		{"bad duration", "30s:1,1x:2", nil, `stage 2 "1x:2": duration "1x"`},
		{"negative duration", "-5s:1", nil, `duration "-5s"`},
		{"negative target", "5s:-1", nil, `target "-1"`},
		{"not a number", "5s:lots", nil, `target "lots"`},
		{"NaN", "5s:NaN", nil, `target "NaN"`},
		{"too many copies", "5s:1e9", nil, "want a number from 0 to 100000"},
		{"no time at all", "0s:5", nil, "stages last no time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStages(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			again, err := ParseStages(FormatStages(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("format %q reads back as %v, %v", FormatStages(got), again, err)
			}
		})
	}
}

func FuzzParseStages(f *testing.F) {
	for _, seed := range []string{"30s:1,1m:10,30s:0", "0s:1,30s:1", "1h2m3.5s:0.25", "10s:10,10s:200,30s:200,10s:10", "1x:2", ":", ",,", "5s:1e5"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ParseStages(in)
		if err != nil {
			return
		}
		out := FormatStages(st)
		again, err := ParseStages(out)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", in, out, err)
		}
		if !reflect.DeepEqual(again, st) {
			t.Fatalf("%q -> %q -> %v, want %v", in, out, again, st)
		}
		if FormatStages(again) != out {
			t.Fatalf("format not stable: %q then %q", out, FormatStages(again))
		}
		for k := 0; k < 3; k++ {
			for _, sp := range activeSpans(st, k) {
				if sp.from < 0 || sp.to <= sp.from || sp.to > StagesDuration(st) {
					t.Fatalf("%q: copy %d span %v outside the stages", in, k, sp)
				}
			}
		}
	})
}

// The named profiles are the Happy team's k6 stages, with the durations
// of their README: smoke 30s at 1 VU, average ~2m to 100, stress ~6m to
// 200, spike ~1m, endurance ~12m.
func TestProfilesMatchK6(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total time.Duration
		peak  float64
		at    map[time.Duration]float64 // users at offsets
	}{
		{"smoke", 30 * time.Second, 1, map[time.Duration]float64{0: 1, 29 * time.Second: 1}},
		{"average", 2 * time.Minute, 100, map[time.Duration]float64{15 * time.Second: 10, 30 * time.Second: 20, 90 * time.Second: 100, 105 * time.Second: 50}},
		{"stress", 6 * time.Minute, 200, map[time.Duration]float64{time.Minute: 50, 3 * time.Minute: 100, 5 * time.Minute: 200, 330 * time.Second: 100}},
		{"spike", time.Minute, 200, map[time.Duration]float64{10 * time.Second: 10, 20 * time.Second: 200, 45 * time.Second: 200, 55 * time.Second: 105}},
		{"endurance", 12 * time.Minute, 50, map[time.Duration]float64{30 * time.Second: 25, 6 * time.Minute: 50, 11*time.Minute + 30*time.Second: 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := LookupProfile(tc.name)
			if !ok {
				t.Fatal("missing")
			}
			if StagesDuration(p.Stages) != tc.total || Peak(p.Stages) != tc.peak {
				t.Fatalf("lasts %v peaking at %v, want %v and %v", StagesDuration(p.Stages), Peak(p.Stages), tc.total, tc.peak)
			}
			for at, want := range tc.at {
				if got := TargetAt(p.Stages, at); math.Abs(got-want) > 1e-9 {
					t.Errorf("users at %v = %v, want %v", at, got, want)
				}
			}
		})
	}
	if _, ok := LookupProfile("soak"); ok {
		t.Fatal("unknown profile found")
	}
}

func TestDescribe(t *testing.T) {
	sv := Survey{Records: 100, Flows: 20, Users: 4, First: 0, Last: 99 * time.Second / 5}
	load := Load{Profile: "average"}
	o := Options{Stagger: time.Second, Loop: true, GracefulRampDown: 30 * time.Second, Duration: 2 * time.Minute}
	if err := load.Apply(&o); err != nil {
		t.Fatal(err)
	}
	users := []User{{ID: "a", Length: 10 * time.Second}, {ID: "b", Length: 19 * time.Second}, {ID: "c", Length: 12 * time.Second}, {ID: "d", Length: 15 * time.Second}}
	text := Describe(load, o, sv, users)
	for _, want := range []string{
		"profile average (normal load: ramp to 100 VUs and back over 2m), 2m",
		"k6 stages in VUs: 30s ramp to 20, 1m ramp to 100, 30s ramp to 0",
		"corpus: 4 recorded users (20 flows) over 19.8s; a VU replays one recorded user per iteration, then the next",
		"to the end of its last: 10s to 19s (mean 14s) at 1x",
		"VUs over time: 0s 0 -> 30s 20 -> 1m30s 100 -> 2m 0 (peak 100 VUs)",
		"finishes its iteration within 30s (graceful ramp-down)",
		"VU k replays users k, k+100, k+200, ... (mod 4)",
		"VU k starts k x 10ms after it becomes active",
		"--loop is implied",
		"ends with the stages, after 2m0s: iterations still running then are cut",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	text = Describe(Load{Users: 3}, Options{VU: true, Multiply: 3}, sv, users)
	for _, want := range []string{"3 virtual users (--users)", "3 VUs at once", "no --duration: 4 iterations, every user replayed and every VU busy once"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	text = Describe(Load{Users: 1}, Options{VU: true, Multiply: 1, Duration: time.Minute, Shard: 1, Shards: 2}, sv, nil)
	for _, want := range []string{"1 VU at once", "shard 1/2 runs VUs k with k mod 2 = 1 (0 of 1)", "ends after 1m0s: iterations still running then are cut"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	text = Describe(Load{Multiply: 3}, Options{Multiply: 3, Duration: time.Minute}, sv, nil)
	for _, want := range []string{"3 copies at once = 12 users, 60 flows", "copies start together", "note: one pass of the corpus takes 19.8s, the run 1m0s: without --loop"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

func TestSurvey(t *testing.T) {
	s := time.Second
	rec := func(flow string, at time.Duration) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: flow, Start: at}}
	}
	recs := []traffic.Record{
		{Kind: traffic.KindHeader, Header: &traffic.Header{}},
		rec("a", 0), rec("b", 2*s), rec("a", 4*s), rec("c", 5*s), rec("b", 6*s), rec("a", 10*s),
	}
	sv, err := SurveySource(context.Background(), traffic.SliceSource(recs))
	if err != nil {
		t.Fatal(err)
	}
	// a busy 0-10s, b 2-6s, c an instant: 14s of flows over 10s
	if sv.Records != 6 || sv.Flows != 3 || sv.Span() != 10*s || sv.PeakActive != 3 || math.Abs(sv.MeanActive-1.4) > 1e-9 {
		t.Fatalf("survey %+v", sv)
	}
	if p := sv.LoopPeriod(2); p != 6*s { // (10s + 2s mean gap) / 2
		t.Fatalf("loop period %v", p)
	}
}
