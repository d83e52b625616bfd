package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/traffic"
)

// codedRecords holds JSON answers under several codings, one cut short
// and two that cannot be decoded.
func codedRecords(t *testing.T) []traffic.Record {
	t.Helper()
	ex := func(ce string, data []byte, truncated bool) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "a",
			Request: traffic.Request{Method: "GET", URL: "/v1/sessions"},
			Response: &traffic.Response{Status: 200,
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: ce}},
				Body:   traffic.Body{Data: data, Size: int64(len(data)) * 2, Truncated: truncated}}}}
	}
	enc := func(ce, s string) []byte {
		b, err := coding.Encode(ce, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	long := `{"sessions":[` + strings.Repeat(`{"id":"abcdefghij","seq":1},`, 4000) + `{}]}`
	cut := enc("gzip", long)
	return []traffic.Record{
		ex("gzip", enc("gzip", `{"a":1}`), false),
		ex("br", enc("br", `{"b":2}`), false),
		ex("zstd", enc("zstd", `{"c":3}`), false),
		ex("deflate", enc("deflate", `{"d":4}`), false),
		ex("gzip, br", enc("gzip, br", `{"e":5}`), false),
		ex("gzip", cut[:len(cut)/2], true),
		ex("br", []byte(`{"not":"brotli"}`), false),
		ex("compress", []byte{0x1f, 0x9d, 0x90}, false),
	}
}

func TestWriteJSONLDecodesBodies(t *testing.T) {
	var b bytes.Buffer
	rep, err := WriteJSONL(context.Background(), traffic.SliceSource(codedRecords(t)), &b, 0)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Exchange struct {
			Response map[string]any `json:"response"`
		} `json:"exchange"`
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, v)
	}
	for i, want := range []struct{ coding, body string }{
		{"gzip", `{"a":1}`}, {"br", `{"b":2}`}, {"zstd", `{"c":3}`}, {"deflate", `{"d":4}`}, {"gzip, br", `{"e":5}`},
	} {
		r := lines[i].Exchange.Response
		if r["coding"] != want.coding || r["body"] != want.body || r["encoded_size"] == nil {
			t.Errorf("line %d: coding %v body %v, want %s %s", i, r["coding"], r["body"], want.coding, want.body)
		}
	}
	if r := lines[5].Exchange.Response; r["incomplete"] != true || r["truncated"] != true || !strings.HasPrefix(r["body"].(string), `{"sessions":[{"id":"abcdefghij"`) {
		t.Errorf("cut body: %v", r["incomplete"])
	}
	if r := lines[6].Exchange.Response; r["decode_error"] != "br: corrupt stream" || r["body"] != `{"not":"brotli"}` {
		t.Errorf("corrupt body: %v", r)
	}
	if r := lines[7].Exchange.Response; r["decode_error"] != "compress: unsupported content coding" || r["body_b64"] != "H52Q" {
		t.Errorf("unsupported body: %v", r)
	}
	if rep.Records != 8 || rep.Decoded["gzip"] != 2 || rep.UndecodableTotal() != 2 {
		t.Errorf("report %+v", rep)
	}
	if got := rep.UndecodableSummary(); got != "br: corrupt stream ×1, compress: unsupported content coding ×1" {
		t.Errorf("summary %q", got)
	}
}

func TestSummarizeCodings(t *testing.T) {
	s, err := Summarize(context.Background(), traffic.SliceSource(codedRecords(t)), traffic.Header{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"codings       br×2 gzip×2 compress×1 deflate×1 gzip,br×1 zstd×1 (bodies; --jsonl shows them decoded)",
		"undecodable   br: corrupt stream ×1 (shown as recorded)",
		"undecodable   compress: unsupported content coding ×1 (shown as recorded)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
