package har

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprise/reprise/internal/traffic"
)

var sampleOrigin = time.Date(2026, 3, 4, 10, 20, 30, 123456789, time.UTC)

func sampleHeader() traffic.Header {
	return traffic.Header{
		Version:     traffic.FormatVersion,
		Created:     sampleOrigin.Add(-time.Second),
		Source:      "proxy",
		Origin:      "http://localhost:8787",
		ClockOrigin: sampleOrigin,
		Redactions:  []string{"header:authorization"},
		Meta:        map[string]string{"cmd": "record proxy"},
	}
}

// sampleRecords covers what a corpus holds: plain and failed exchanges,
// binary and truncated bodies, odd targets, WebSockets with every kind of
// message, one left open.
func sampleRecords() []traffic.Record {
	ms := time.Millisecond
	ex := func(x traffic.Exchange) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &x}
	}
	hdr := func(kv ...string) traffic.Fields {
		var f traffic.Fields
		for i := 0; i < len(kv); i += 2 {
			f = append(f, traffic.Field{Name: kv[i], Value: kv[i+1]})
		}
		return f
	}
	upgrade := traffic.Exchange{
		Flow: "user-1", ConnID: 40, Start: 50 * ms,
		Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=x", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1",
			Header: hdr("Host", "localhost:8787", "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"),
			Body:   traffic.Body{Size: 0}},
		Response: &traffic.Response{Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1",
			Header: hdr("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Extensions", "permessage-deflate", "Sec-WebSocket-Protocol", "happy.v1"),
			Body:   traffic.Body{Size: 0}},
		Timing: traffic.Timing{Send: 10 * time.Microsecond, Wait: 1234567, Total: 1300001},
	}
	msg := func(start time.Duration, client bool, op traffic.Opcode, payload string, mod func(*traffic.WSMessage)) traffic.Record {
		m := traffic.WSMessage{Flow: "user-1", ConnID: 40, Start: start, FromClient: client, Opcode: op, Payload: []byte(payload), Size: int64(len(payload)), Frames: 1}
		if mod != nil {
			mod(&m)
		}
		return traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &m}
	}
	upgrade2 := upgrade
	upgrade2.ConnID = 41
	upgrade2.Start = 70 * ms
	upgrade2.Flow = "user-2"
	upgrade2.Request.Scheme = "https"
	upgrade2.Request.Host = "api.example.com"
	upgrade2.Response = &traffic.Response{Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1", Header: hdr("Upgrade", "websocket"), Body: traffic.Body{Size: 0}}
	return []traffic.Record{
		ex(traffic.Exchange{
			Flow: "user-1", ConnID: 7, Start: 0, Client: "127.0.0.1:50123", Server: "127.0.0.1:8787",
			Request: traffic.Request{Method: "GET", URL: "/v1/sessions?limit=10&tag=a%20b", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1",
				Header: hdr("Host", "localhost:8787", "Authorization", "Bearer t", "Cookie", "sid=abc; theme=dark", "Accept", "application/json", "accept", "text/plain"),
				Body:   traffic.Body{Size: 0}},
			Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header:  hdr("Content-Type", "application/json", "Set-Cookie", "sid=abc; Path=/; HttpOnly", "X-Trace", "1"),
				Body:    traffic.Body{Data: []byte(`{"sessions":[{"id":"s1","<tag>":"&"}]}`), Size: 37},
				Interim: []int{100}},
			Timing: traffic.Timing{Send: 12345, Wait: 3*ms + 1, Receive: 999, Total: 5*ms + 7},
			Notes:  map[string]string{"pageref": "page_1", "comment": "first", "_initiator": `{"type":"script","stack":{"callFrames":[]}}`, "_resourceType": `"fetch"`, "_custom": `[1,2,{"a":null}]`, "route": "/v1/sessions"},
		}),
		ex(traffic.Exchange{
			Flow: "user-1", ConnID: 7, Start: 2*ms + 1,
			Request: traffic.Request{Method: "POST", URL: "/v1/artifacts", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/2.0",
				Header: hdr("Content-Type", "application/octet-stream"),
				Body:   traffic.Body{Data: []byte{0xff, 0x00, 0xfe, 'a', 0x80}, Size: 5}},
			Response: &traffic.Response{Status: 201, Reason: "Created", Proto: "HTTP/2.0", Header: hdr("Content-Type", "image/png"),
				Body: traffic.Body{Data: []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a}, Size: 8}},
			Timing: traffic.Timing{Wait: ms},
			Flags:  traffic.FlagRedacted,
		}),
		ex(traffic.Exchange{
			Flow: "user-2", ConnID: 8, Start: 3 * ms,
			Request: traffic.Request{Method: "PUT", URL: "/v1/kv/key", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1",
				Header: hdr("Content-Type", "application/json"),
				Body:   traffic.Body{Data: []byte(`{"value":"héllo"}`), Size: 4096, Truncated: true}},
			Error: "upstream: connection refused",
			Flags: traffic.FlagNoResponse | traffic.FlagIncomplete,
		}),
		ex(traffic.Exchange{
			Flow: "user-2", Start: 4 * ms,
			Request: traffic.Request{Method: "GET", URL: "http://other.example:8080/proxy/path", Host: "other.example:8080", Scheme: "http", Proto: "HTTP/1.0",
				Body: traffic.Body{Size: -1}},
			Response: &traffic.Response{Status: 404, Reason: "Not Found", Proto: "HTTP/1.0",
				Body: traffic.Body{Data: []byte("no"), Size: 500, Truncated: true}},
			Error: "late response",
		}),
		ex(traffic.Exchange{
			Flow: "user-2", Start: 5 * ms,
			Request: traffic.Request{Method: "OPTIONS", URL: "*", Host: "", Scheme: "", Proto: "",
				Body: traffic.Body{Size: -1}},
			Response: &traffic.Response{Status: 204, Reason: "", Proto: "", Body: traffic.Body{Size: -1}},
		}),
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "user-1", ConnID: 40, Start: 50 * ms, Upgrade: upgrade, Subprotocol: "happy.v1", Extensions: "permessage-deflate"}},
		ex(traffic.Exchange{
			Flow: "user-1", ConnID: 9, Start: 60 * ms,
			Request:  traffic.Request{Method: "DELETE", URL: "/v1/sessions/s1", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1", Body: traffic.Body{Size: 0}},
			Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Header: hdr("Content-Length", "0"), Body: traffic.Body{Size: 0}},
		}),
		msg(51*ms+1, true, traffic.OpText, `{"event":"hello"}`, nil),
		msg(52*ms+999, false, traffic.OpText, `{"event":"welcome","n":1}`, func(m *traffic.WSMessage) { m.Compressed = true }),
		msg(53*ms, true, traffic.OpBinary, "\x00\x01\xff\xfe", func(m *traffic.WSMessage) { m.Frames = 3 }),
		msg(54*ms, false, traffic.OpText, "bad \xff utf8", nil),
		msg(55*ms, true, traffic.OpPing, "", func(m *traffic.WSMessage) { m.Frames = 0 }),
		msg(56*ms, false, traffic.OpText, "cut he", func(m *traffic.WSMessage) { m.Size = 100; m.Truncated = true }),
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "user-2", ConnID: 41, Start: 70 * ms, Upgrade: upgrade2}},
		{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "user-1", ConnID: 40, Start: 90 * ms, FromClient: true, Code: 1000, Reason: "bye"}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "user-2", ConnID: 41, Start: 95 * ms, Opcode: traffic.OpText, Payload: []byte("tick"), Size: 4, Frames: 1}},
	}
}

// normalize makes records comparable: empty and nil collections alike.
func normalize(c traffic.Collection) traffic.Collection {
	fx := func(x *traffic.Exchange) {
		if len(x.Notes) == 0 {
			x.Notes = nil
		}
		if len(x.Request.Header) == 0 {
			x.Request.Header = nil
		}
		if len(x.Request.Body.Data) == 0 {
			x.Request.Body.Data = nil
		}
		if p := x.Response; p != nil {
			if len(p.Header) == 0 {
				p.Header = nil
			}
			if len(p.Body.Data) == 0 {
				p.Body.Data = nil
			}
			if len(p.Interim) == 0 {
				p.Interim = nil
			}
		}
	}
	for i := range c.Exchanges {
		fx(&c.Exchanges[i])
	}
	for i := range c.WS {
		fx(&c.WS[i].Open.Upgrade)
		for j := range c.WS[i].Messages {
			if len(c.WS[i].Messages[j].Payload) == 0 {
				c.WS[i].Messages[j].Payload = nil
			}
		}
	}
	c.Header = nil
	return c
}

func exportRecords(t testing.TB, h traffic.Header, recs []traffic.Record) ([]byte, ExportReport) {
	t.Helper()
	var buf bytes.Buffer
	rep, err := Export(context.Background(), traffic.SliceSource(recs), h, &buf, ExportOptions{Version: "test"})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes(), rep
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("testdata/har-1.2.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func validate(t testing.TB, sch *jsonschema.Schema, data []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("exported HAR is not JSON: %v", err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("exported HAR does not validate against HAR 1.2:\n%v", err)
	}
}

func TestExportValidatesAndReimportsIdentically(t *testing.T) {
	h := sampleHeader()
	recs := sampleRecords()
	data, rep := exportRecords(t, h, recs)
	if rep.Exchanges != 6 || rep.WSConns != 2 || rep.WSMessages != 7 || rep.Entries != 8 {
		t.Errorf("export report %+v", rep)
	}
	validate(t, compileSchema(t), data)

	imp, got := importInputs(t, Options{}, BytesInput("export.har", data))
	if len(imp.Skipped) > 0 {
		t.Fatalf("re-import skipped %v", imp.Skipped)
	}
	if !imp.Header.ClockOrigin.Equal(h.ClockOrigin) || imp.Header.Origin != h.Origin || !reflect.DeepEqual(imp.Header.Redactions, h.Redactions) || imp.Header.Meta["cmd"] != "record proxy" {
		t.Errorf("header = %+v, want clock origin, origin, redactions and meta of %+v", imp.Header, h)
	}
	want := normalize(traffic.Collect(recs))
	have := normalize(traffic.Collect(got))
	if len(have.Exchanges) != len(want.Exchanges) || len(have.WS) != len(want.WS) {
		t.Fatalf("re-import has %d exchanges and %d websockets, want %d and %d", len(have.Exchanges), len(have.WS), len(want.Exchanges), len(want.WS))
	}
	for i := range want.Exchanges {
		compareExchange(t, "exchange "+want.Exchanges[i].Request.Method, &have.Exchanges[i], &want.Exchanges[i])
	}
	for i := range want.WS {
		w, g := want.WS[i], have.WS[i]
		name := "websocket " + w.Open.Flow
		compareExchange(t, name+" upgrade", &g.Open.Upgrade, &w.Open.Upgrade)
		g.Open.Upgrade, w.Open.Upgrade = traffic.Exchange{}, traffic.Exchange{}
		if !reflect.DeepEqual(g.Open, w.Open) {
			t.Errorf("%s open = %+v, want %+v", name, g.Open, w.Open)
		}
		if len(g.Messages) != len(w.Messages) {
			t.Fatalf("%s has %d messages, want %d", name, len(g.Messages), len(w.Messages))
		}
		for j := range w.Messages {
			if !reflect.DeepEqual(g.Messages[j], w.Messages[j]) {
				t.Errorf("%s message %d = %+v, want %+v", name, j, g.Messages[j], w.Messages[j])
			}
		}
		if !reflect.DeepEqual(g.Close, w.Close) {
			t.Errorf("%s close = %+v, want %+v", name, g.Close, w.Close)
		}
	}
	// Records come back in start order.
	for i := 1; i < len(got); i++ {
		if got[i].Start() < got[i-1].Start() {
			t.Errorf("record %d starts before record %d", i, i-1)
		}
	}
}

// compareExchange asserts field by field, so a failure names the field.
func compareExchange(t *testing.T, name string, g, w *traffic.Exchange) {
	t.Helper()
	check := func(field string, gv, wv any) {
		t.Helper()
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: %s = %#v, want %#v", name, field, gv, wv)
		}
	}
	check("Flow", g.Flow, w.Flow)
	check("ConnID", g.ConnID, w.ConnID)
	check("Start", g.Start, w.Start)
	check("Request.Method", g.Request.Method, w.Request.Method)
	check("Request.URL", g.Request.URL, w.Request.URL)
	check("Request.Host", g.Request.Host, w.Request.Host)
	check("Request.Scheme", g.Request.Scheme, w.Request.Scheme)
	check("Request.Proto", g.Request.Proto, w.Request.Proto)
	check("Request.Header", g.Request.Header, w.Request.Header)
	check("Request.Body", g.Request.Body, w.Request.Body)
	check("Response", g.Response == nil, w.Response == nil)
	if g.Response != nil && w.Response != nil {
		check("Response.Status", g.Response.Status, w.Response.Status)
		check("Response.Reason", g.Response.Reason, w.Response.Reason)
		check("Response.Proto", g.Response.Proto, w.Response.Proto)
		check("Response.Header", g.Response.Header, w.Response.Header)
		check("Response.Body", g.Response.Body, w.Response.Body)
		check("Response.Interim", g.Response.Interim, w.Response.Interim)
	}
	check("Timing", g.Timing, w.Timing)
	check("Error", g.Error, w.Error)
	check("Flags", g.Flags, w.Flags)
	check("Client", g.Client, w.Client)
	check("Server", g.Server, w.Server)
	check("Notes", g.Notes, w.Notes)
}

func TestExportDecodesContentEncoding(t *testing.T) {
	plain := []byte(`{"machines":[{"id":"m1"}]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	x := traffic.Exchange{
		Flow: "f", Start: 0,
		Request: traffic.Request{Method: "GET", URL: "/v1/machines", Host: "h", Scheme: "http", Proto: "HTTP/1.1", Body: traffic.Body{Size: 0}},
		Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: traffic.Fields{{Name: "Content-Encoding", Value: "gzip"}, {Name: "Content-Type", Value: "application/json"}},
			Body:   traffic.Body{Data: gz.Bytes(), Size: int64(gz.Len())}},
	}
	data, rep := exportRecords(t, sampleHeader(), []traffic.Record{{Kind: traffic.KindExchange, Exchange: &x}})
	if rep.Decoded != 1 {
		t.Errorf("decoded %d bodies, want 1", rep.Decoded)
	}
	if !bytes.Contains(data, []byte(`"text":"{\"machines\":[{\"id\":\"m1\"}]}"`)) {
		t.Errorf("content.text is not the decoded body:\n%s", data)
	}
	_, got := importInputs(t, Options{}, BytesInput("gz.har", data))
	g := got[0].Exchange
	if !bytes.Equal(g.Response.Body.Data, plain) || g.Response.Body.Size != int64(len(plain)) || g.Response.Body.Truncated {
		t.Errorf("re-imported body = %q (size %d), want the decoded %q", g.Response.Body.Data, g.Response.Body.Size, plain)
	}
	if g.Notes[NoteResponseBody] != "decoded" || g.Response.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("re-import should keep Content-Encoding and note the decoded body: notes %v headers %v", g.Notes, g.Response.Header)
	}
}

func TestExportUnknownEncodingKeptAsSent(t *testing.T) {
	x := traffic.Exchange{
		Start:   0,
		Request: traffic.Request{Method: "GET", URL: "/", Host: "h", Scheme: "http", Body: traffic.Body{Size: 0}},
		Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Encoding", Value: "x-custom"}},
			Body: traffic.Body{Data: []byte{1, 2, 3}, Size: 3}},
	}
	data, _ := exportRecords(t, sampleHeader(), []traffic.Record{{Kind: traffic.KindExchange, Exchange: &x}})
	_, got := importInputs(t, Options{}, BytesInput("x.har", data))
	g := got[0].Exchange
	if !bytes.Equal(g.Response.Body.Data, []byte{1, 2, 3}) || g.Notes[NoteResponseBody] != "" {
		t.Errorf("body %v notes %v: want the bytes as sent and no decoded note", g.Response.Body.Data, g.Notes)
	}
}

func TestExportIsReadableByOtherTools(t *testing.T) {
	data, _ := exportRecords(t, sampleHeader(), sampleRecords())
	// Chrome-style WebSocket entries, creator reprise, base64 binaries.
	var doc struct {
		Log struct {
			Creator Creator `json:"creator"`
			Entries []struct {
				ResourceType string `json:"_resourceType"`
				Request      struct {
					URL      string `json:"url"`
					PostData *struct {
						Text     string `json:"text"`
						Encoding string `json:"encoding"`
					} `json:"postData"`
				} `json:"request"`
				Messages []struct {
					Type   string  `json:"type"`
					Time   float64 `json:"time"`
					Opcode int     `json:"opcode"`
					Data   string  `json:"data"`
				} `json:"_webSocketMessages"`
			} `json:"entries"`
			Pages []Page `json:"pages"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Log.Creator.Name != "reprise" {
		t.Errorf("creator %q", doc.Log.Creator.Name)
	}
	ws := 0
	for _, e := range doc.Log.Entries {
		if e.ResourceType == "websocket" {
			ws++
			if !strings.HasPrefix(e.Request.URL, "ws://") && !strings.HasPrefix(e.Request.URL, "wss://") {
				t.Errorf("websocket entry url %q", e.Request.URL)
			}
			for _, m := range e.Messages {
				if m.Time < 1.7e9 || m.Time > 2e9 {
					t.Errorf("message time %v is not Unix seconds", m.Time)
				}
			}
		}
		if pd := e.Request.PostData; pd != nil && strings.HasSuffix(e.Request.URL, "/v1/artifacts") {
			if pd.Encoding != "base64" || pd.Text != "/wD+YYA=" {
				t.Errorf("binary post data = %+v, want base64", pd)
			}
		}
	}
	if ws != 2 {
		t.Errorf("%d websocket entries, want 2", ws)
	}
	if len(doc.Log.Pages) != 1 || doc.Log.Pages[0].ID != "page_1" {
		t.Errorf("pages = %+v", doc.Log.Pages)
	}
}

func TestSharedHARsReexportValid(t *testing.T) {
	// Import real HARs, export them, validate, re-import: the same exchanges.
	sch := compileSchema(t)
	for _, name := range []string{"clawos_chrome_ws.har", "mitmproxy_websocket.har", "mitmproxy_chrome.har", "perfcascade_wpt_github.har", "mitmproxy_safari.har", "gatling_charles42_multipart.har"} {
		t.Run(name, func(t *testing.T) {
			path := sharedHAR + "/" + name
			if _, err := os.Stat(path); err != nil {
				path = "testdata/" + name
				if _, err := os.Stat(path); err != nil {
					t.Skip("not available")
				}
			}
			rep1, recs := importInputs(t, Options{}, FileInput(path))
			data, _ := exportRecords(t, rep1.Header, recs)
			validate(t, sch, data)
			_, again := importInputs(t, Options{}, BytesInput(name, data))
			want := normalize(traffic.Collect(recs))
			have := normalize(traffic.Collect(again))
			if !reflect.DeepEqual(have, want) {
				for i := range want.Exchanges {
					if i < len(have.Exchanges) {
						compareExchange(t, "exchange", &have.Exchanges[i], &want.Exchanges[i])
					}
				}
				t.Fatalf("re-import differs: %d/%d exchanges, %d/%d websockets", len(have.Exchanges), len(want.Exchanges), len(have.WS), len(want.WS))
			}
		})
	}
}
