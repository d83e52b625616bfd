package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The planned start of shards that shared one (--start-at) survives
// their merge and the results document; shards with different ones, or
// none, merge into a run without it, and a run without one writes none.
func TestMergeKeepsSharedStartAt(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	part := func(shard string, startAt time.Time) *Snapshot {
		s := NewCollector().Snapshot()
		s.Meta = Meta{Scheduled: 1, Shard: shard, Start: startAt.Add(time.Millisecond), StartAt: startAt}
		return s
	}
	var shared Snapshot
	for _, shard := range []string{"0/3", "1/3", "2/3"} {
		shared.Merge(part(shard, at))
	}
	if !shared.Meta.StartAt.Equal(at) {
		t.Fatalf("merged start_at %v, want %v", shared.Meta.StartAt, at)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, &shared); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"start_at": "2026-12-03T10:00:00Z"`) {
		t.Errorf("document lacks start_at:\n%.400s", buf.String())
	}
	back, err := Decode(&buf)
	if err != nil || !back.Meta.StartAt.Equal(at) {
		t.Fatalf("decoded start_at %v (%v)", back.Meta.StartAt, err)
	}

	for name, other := range map[string]time.Time{"another start": at.Add(time.Second), "no start": {}} {
		var m Snapshot
		m.Merge(part("0/2", at))
		m.Merge(part("1/2", other))
		if !m.Meta.StartAt.IsZero() {
			t.Errorf("%s: merged start_at %v, want none", name, m.Meta.StartAt)
		}
		buf.Reset()
		if err := Encode(&buf, &m); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), `"start_at"`) {
			t.Errorf("%s: document has a start_at", name)
		}
	}
}
