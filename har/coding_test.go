package har

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/traffic"
)

// codedExchange is a JSON answer recorded with Content-Encoding ce.
func codedExchange(t *testing.T, ce string, body []byte, cut bool) *traffic.Exchange {
	t.Helper()
	wire, err := coding.Encode(ce, body)
	if err != nil {
		t.Fatal(err)
	}
	b := traffic.Body{Data: wire, Size: int64(len(wire))}
	if cut {
		b.Data, b.Truncated = wire[:len(wire)/2], true
	}
	return &traffic.Exchange{
		Flow:    "f",
		Request: traffic.Request{Method: "GET", URL: "/v1/sessions", Host: "h", Scheme: "http", Proto: "HTTP/1.1", Body: traffic.Body{Size: 0}},
		Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: ce}},
			Body:   b},
	}
}

// contentText returns the content.text of every entry of a HAR.
func contentText(t *testing.T, data []byte) []string {
	t.Helper()
	var doc struct {
		Log struct {
			Entries []struct {
				Response struct {
					Content Content `json:"content"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range doc.Log.Entries {
		out = append(out, string(e.Response.Content.Text))
	}
	return out
}

func TestExportDecodesEveryCoding(t *testing.T) {
	plain := []byte(`{"sessions":[{"id":"s1","seq":1}]}`)
	var recs []traffic.Record
	codings := []string{"gzip", "deflate", "br", "zstd", "gzip, br"}
	for _, ce := range codings {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: codedExchange(t, ce, plain, false)})
	}
	data, rep := exportRecords(t, sampleHeader(), recs)
	if rep.Decoded != len(codings) || len(rep.Undecoded) != 0 {
		t.Fatalf("report %+v", rep)
	}
	validate(t, compileSchema(t), data)
	for i, text := range contentText(t, data) {
		if text != string(plain) {
			t.Errorf("%s: content.text %q, want the decoded body", codings[i], text)
		}
	}
	_, got := importInputs(t, Options{}, BytesInput("c.har", data))
	for i, r := range got {
		if !bytes.Equal(r.Exchange.Response.Body.Data, plain) || r.Exchange.Notes[NoteResponseBody] != "decoded" {
			t.Errorf("%s: re-imported %q notes %v", codings[i], r.Exchange.Response.Body.Data, r.Exchange.Notes)
		}
	}
}

func TestExportCutBodyWritesDecodedStart(t *testing.T) {
	var plain bytes.Buffer
	for i := 0; plain.Len() < 200<<10; i++ {
		plain.WriteString(`{"id":"` + strings.Repeat(string(rune('a'+i%26)), i%40) + `"},`)
	}
	recs := []traffic.Record{{Kind: traffic.KindExchange, Exchange: codedExchange(t, "gzip", plain.Bytes(), true)}}
	data, rep := exportRecords(t, sampleHeader(), recs)
	if rep.Decoded != 1 || rep.DecodedCut != 1 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Summary(), "1 of them cut short") {
		t.Errorf("summary %q", rep.Summary())
	}
	text := contentText(t, data)[0]
	if len(text) == 0 || !bytes.HasPrefix(plain.Bytes(), []byte(text)) {
		t.Fatalf("content.text (%d bytes) is not the decoded start of the body", len(text))
	}
	_, got := importInputs(t, Options{}, BytesInput("c.har", data))
	b := got[0].Exchange.Response.Body
	if !b.Truncated || b.Size != -1 || string(b.Data) != text {
		t.Errorf("re-imported body: truncated %v size %d, %d bytes", b.Truncated, b.Size, len(b.Data))
	}
}

func TestExportUndecodableCountedAndNamed(t *testing.T) {
	bad := codedExchange(t, "br", []byte(`{"a":1}`), false)
	bad.Response.Body.Data = []byte(`{"not":"brotli"}`)
	odd := codedExchange(t, "gzip", []byte(`{"a":1}`), false)
	odd.Response.Header = odd.Response.Header.Set("Content-Encoding", "compress")
	recs := []traffic.Record{
		{Kind: traffic.KindExchange, Exchange: bad},
		{Kind: traffic.KindExchange, Exchange: odd},
		{Kind: traffic.KindExchange, Exchange: codedExchange(t, "zstd", []byte(`{"a":1}`), false)},
	}
	data, rep := exportRecords(t, sampleHeader(), recs)
	if rep.Decoded != 1 || rep.Undecoded["br: corrupt stream"] != 1 || rep.Undecoded["compress: unsupported content coding"] != 1 {
		t.Fatalf("report %+v", rep)
	}
	want := "2 response bodies could not be decoded and were written as sent (br: corrupt stream ×1, compress: unsupported content coding ×1)"
	if !strings.Contains(rep.Summary(), want) {
		t.Errorf("summary %q lacks %q", rep.Summary(), want)
	}
	// Kept as sent: the importer gives back the recorded bytes.
	_, got := importInputs(t, Options{}, BytesInput("c.har", data))
	if g := got[0].Exchange; string(g.Response.Body.Data) != `{"not":"brotli"}` || g.Notes[NoteResponseBody] != "" {
		t.Errorf("undecodable body came back as %q, notes %v", g.Response.Body.Data, g.Notes)
	}
}
