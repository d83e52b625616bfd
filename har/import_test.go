package har

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// sharedHAR is where the project's third-party HAR files live.
const sharedHAR = "../../shared/testdata/har"

// oracle is the part of F.oracle.json the tests check.
type oracle struct {
	Entries    int            `json:"entries"`
	Methods    map[string]int `json:"methods"`
	Statuses   map[string]int `json:"statuses"`
	WSEntries  int            `json:"websocket_entries"`
	WSMessages int            `json:"websocket_messages"`
	ByType     map[string]int `json:"websocket_messages_by_type"`
	ByOpcode   map[string]int `json:"websocket_messages_by_opcode"`
	EntryList  []struct {
		I          int    `json:"i"`
		Method     string `json:"method"`
		URL        string `json:"url"`
		Status     int    `json:"status"`
		WSMessages int    `json:"ws_messages"`
	} `json:"entry_list"`
}

// importInputs runs Import into an in-memory sink.
func importInputs(t testing.TB, opts Options, inputs ...Input) (Report, []traffic.Record) {
	t.Helper()
	sink := &traffictest.Sink{}
	rep, err := Import(context.Background(), inputs, opts, func(traffic.Header) (traffic.Sink, error) { return sink, nil })
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep, sink.Records()
}

// statusOf is the HAR status an exchange came from.
func statusOf(x *traffic.Exchange) int {
	if x.Response != nil {
		return x.Response.Status
	}
	var s int
	if _, err := fmt.Sscanf(x.Error, "har: no response (status %d)", &s); err != nil {
		return -999
	}
	return s
}

// fullURL rebuilds the absolute URL of a request, WebSocket upgrades
// with the scheme the HAR used.
func fullURL(q *traffic.Request) string { return q.Scheme + "://" + q.Host + q.URL }

func TestImportSharedOracles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedHAR, "*.har"))
	if len(files) == 0 {
		t.Skipf("no HAR files in %s", sharedHAR)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var o oracle
			raw, err := os.ReadFile(f + ".oracle.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			rep, recs := importInputs(t, Options{}, FileInput(f))
			if len(rep.Skipped) != 0 {
				t.Errorf("skipped %v, want none", rep.Skipped)
			}
			if rep.Entries != o.Entries {
				t.Errorf("entries read = %d, oracle %d", rep.Entries, o.Entries)
			}
			if got := rep.Exchanges + rep.WSConns; got != o.Entries {
				t.Errorf("exchanges %d + websockets %d = %d, oracle entries %d", rep.Exchanges, rep.WSConns, got, o.Entries)
			}
			methods := map[string]int{}
			statuses := map[string]int{}
			var urls, wantURLs []string
			var wsCounts, wantWS []int
			byType := map[string]int{}
			byOpcode := map[string]int{}
			msgs := map[uint64]int{}
			for _, r := range recs {
				switch r.Kind {
				case traffic.KindExchange:
					x := r.Exchange
					methods[x.Request.Method]++
					statuses[fmt.Sprint(statusOf(x))]++
					urls = append(urls, fullURL(&x.Request))
				case traffic.KindWSOpen:
					x := &r.WSOpen.Upgrade
					methods[x.Request.Method]++
					statuses[fmt.Sprint(statusOf(x))]++
					urls = append(urls, fullURL(&x.Request))
					msgs[r.WSOpen.ConnID] = 0
				case traffic.KindWSMessage:
					msgs[r.WSMessage.ConnID]++
					if r.WSMessage.FromClient {
						byType["send"]++
					} else {
						byType["receive"]++
					}
					byOpcode[fmt.Sprint(int(r.WSMessage.Opcode))]++
				}
			}
			for _, n := range msgs {
				wsCounts = append(wsCounts, n)
			}
			for _, e := range o.EntryList {
				u := e.URL
				if i := strings.IndexByte(u, '#'); i >= 0 {
					u = u[:i]
				}
				u = strings.Replace(strings.Replace(u, "wss://", "https://", 1), "ws://", "http://", 1)
				if sch, rest, ok := strings.Cut(u, "://"); ok && !strings.ContainsAny(rest, "/?") {
					u = sch + "://" + rest + "/"
				} else if ok && strings.IndexByte(rest, '?') >= 0 && strings.IndexByte(rest, '?') < max(strings.IndexByte(rest, '/'), 0) {
					u = sch + "://" + strings.Replace(rest, "?", "/?", 1)
				}
				wantURLs = append(wantURLs, u)
				if e.WSMessages > 0 || o.WSEntries > 0 && e.Status == 101 {
					wantWS = append(wantWS, e.WSMessages)
				}
			}
			if !reflect.DeepEqual(methods, o.Methods) {
				t.Errorf("methods = %v, oracle %v", methods, o.Methods)
			}
			if !reflect.DeepEqual(statuses, o.Statuses) {
				t.Errorf("statuses = %v, oracle %v", statuses, o.Statuses)
			}
			sort.Strings(urls)
			sort.Strings(wantURLs)
			if !reflect.DeepEqual(urls, wantURLs) {
				t.Errorf("urls =\n%q\noracle\n%q", urls, wantURLs)
			}
			if rep.WSConns != o.WSEntries || rep.WSMessages != o.WSMessages {
				t.Errorf("websockets %d with %d messages, oracle %d with %d", rep.WSConns, rep.WSMessages, o.WSEntries, o.WSMessages)
			}
			sort.Ints(wsCounts)
			sort.Ints(wantWS)
			if !reflect.DeepEqual(wsCounts, wantWS) && !(len(wsCounts) == 0 && len(wantWS) == 0) {
				t.Errorf("messages per connection %v, oracle %v", wsCounts, wantWS)
			}
			if len(o.ByType) > 0 && !reflect.DeepEqual(byType, o.ByType) {
				t.Errorf("messages by type %v, oracle %v", byType, o.ByType)
			}
			if len(o.ByOpcode) > 0 && !reflect.DeepEqual(byOpcode, o.ByOpcode) {
				t.Errorf("messages by opcode %v, oracle %v", byOpcode, o.ByOpcode)
			}
			// Records come out in Start order, offsets from the earliest entry.
			var prev time.Duration
			for i, r := range recs {
				if r.Start() < prev {
					t.Fatalf("record %d (%v) starts at %v, before the previous one at %v", i, r.Kind, r.Start(), prev)
				}
				prev = r.Start()
			}
			if len(recs) > 0 && recs[0].Start() != 0 {
				t.Errorf("first record starts at %v, want 0 (the clock origin)", recs[0].Start())
			}
		})
	}
}
