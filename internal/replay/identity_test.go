package replay

import (
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// A corpus's identity is its header's: the same instant read in another
// time zone (another machine) gives the same id, another recording
// another id.
func TestCorpusID(t *testing.T) {
	created := time.Date(2026, 11, 26, 18, 35, 3, 123456789, time.UTC)
	h := traffic.Header{Version: 1, Created: created, ClockOrigin: created, Source: "proxy", Origin: "http://127.0.0.1:8787",
		Redactions: []string{"header:authorization"}, Meta: map[string]string{"b": "2", "a": "1"}}
	id := CorpusID(h)
	elsewhere := h
	elsewhere.Created = created.In(time.FixedZone("UTC+5", 5*3600))
	elsewhere.ClockOrigin = elsewhere.Created
	elsewhere.Meta = map[string]string{"a": "1", "b": "2"}
	if got := CorpusID(elsewhere); got != id {
		t.Errorf("same header in another zone: %s, want %s", got, id)
	}
	other := h
	other.Created = created.Add(time.Nanosecond)
	if CorpusID(other) == id {
		t.Error("a corpus created a nanosecond later has the same id")
	}
	other = h
	other.Redactions = []string{"header:authorizatio", "n"}
	if CorpusID(other) == id {
		t.Error("redactions split differently give the same id")
	}
	if len(id) != len("sha256:")+16 {
		t.Errorf("id %q, want sha256: and 16 hex digits", id)
	}
}
