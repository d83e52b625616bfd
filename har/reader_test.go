package har

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/reprise/reprise/internal/traffic"
)

// entry builds one entry's JSON with the given fields replaced.
func entry(fields ...string) string {
	base := map[string]string{
		"startedDateTime": `"2024-05-01T10:00:00.000Z"`,
		"time":            `12.5`,
		"request":         `{"method":"GET","url":"https://api.example.com/v1/x?a=1","httpVersion":"HTTP/1.1","headers":[{"name":"Accept","value":"*/*"}],"cookies":[],"queryString":[],"headersSize":-1,"bodySize":0}`,
		"response":        `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":2,"mimeType":"text/plain","text":"ok"},"redirectURL":"","headersSize":-1,"bodySize":2}`,
		"cache":           `{}`,
		"timings":         `{"send":1,"wait":10,"receive":1.5}`,
	}
	order := []string{"startedDateTime", "time", "request", "response", "cache", "timings"}
	for i := 0; i+1 < len(fields); i += 2 {
		if _, ok := base[fields[i]]; !ok {
			order = append(order, fields[i])
		}
		base[fields[i]] = fields[i+1]
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range order {
		v := base[k]
		if v == "-" {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + k + `":` + v)
	}
	b.WriteString("}")
	return b.String()
}

func harOf(entries ...string) string {
	return `{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[` + strings.Join(entries, ",") + `]}}`
}

func TestImportMalformed(t *testing.T) {
	huge := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name string
		data string
		opts Options
		// err, when set, is the error Import must return.
		err string
		// exchanges and skips are checked otherwise.
		exchanges int
		skips     []string
	}{
		{name: "empty", data: "", err: "x.har: not a HAR file: the input is empty"},
		{name: "not JSON", data: "hello", err: "x.har: not a HAR file: not JSON or not an object: starts with 'h'"},
		{name: "JSON array", data: "[1,2]", err: "not a HAR file: not JSON or not an object: starts with '['"},
		{name: "no log", data: `{"foo":1}`, err: `x.har: not a HAR file: no "log" object`},
		{name: "log not an object", data: `{"log":[]}`, err: `"log" to be an object`},
		{name: "no entries", data: `{"log":{"version":"1.2","creator":{"name":"x","version":"1"}}}`, err: `log has no "entries" array`},
		{name: "wrong version", data: `{"log":{"version":"2.0","entries":[]}}`, err: `x.har: har: unsupported HAR version "2.0" (this reader reads HAR 1.x: 1.1 and 1.2)`},
		{name: "wrong version after entries", data: `{"log":{"entries":[` + entry() + `],"version":"0.9"}}`, err: `unsupported HAR version "0.9"`},
		{name: "cut short in an entry", data: harOf(entry(), entry())[:len(harOf(entry(), entry()))-100], exchanges: 1,
			skips: []string{"x.har: entry 1: file ends inside the entry (cut short?)"}},
		{name: "cut short between entries", data: `{"log":{"version":"1.2","entries":[` + entry(), exchanges: 1,
			skips: []string{"x.har: entry 1: file ends inside log.entries (cut short?)"}},
		{name: "entries null", data: `{"log":{"version":"1.2","entries":null}}`, exchanges: 0},
		{name: "entry not an object", data: harOf(entry(), `"oops"`, `null`, entry()), exchanges: 2,
			skips: []string{"x.har: entry 1: entry is not a JSON object", "x.har: entry 2: entry is not a JSON object"}},
		{name: "invalid JSON inside an entry", data: harOf(`{"request" 1}`, entry()), exchanges: 1,
			skips: []string{"x.har: entry 0: invalid JSON: invalid character '1' after object key"}},
		{name: "missing request", data: harOf(entry("request", "-")), skips: []string{"x.har: entry 0: request.method missing"}},
		{name: "missing url", data: harOf(entry("request", `{"method":"GET"}`)), skips: []string{"x.har: entry 0: request.url missing"}},
		{name: "relative url", data: harOf(entry("request", `{"method":"GET","url":"/v1/x"}`)),
			skips: []string{`x.har: entry 0 (/v1/x): url "/v1/x" is not absolute (no scheme://host)`}},
		{name: "blob url", data: harOf(entry("request", `{"method":"GET","url":"blob:https://a/1"}`)),
			skips: []string{`x.har: entry 0 (blob:https://a/1): url scheme "blob" is not http, https, ws or wss (nothing to replay)`}},
		{name: "missing startedDateTime", data: harOf(entry("startedDateTime", "-")),
			skips: []string{"x.har: entry 0 (https://api.example.com/v1/x?a=1): startedDateTime missing"}},
		{name: "missing response and timings", data: harOf(entry("response", "-", "timings", "-", "cache", "-", "time", "-")), exchanges: 1},
		{name: "nulls everywhere", data: harOf(entry("time", "null", "response", `{"status":200,"statusText":null,"httpVersion":null,"headers":null,"content":{"size":null,"text":null},"redirectURL":null,"headersSize":null,"bodySize":null}`, "timings", `{"send":null,"wait":null,"receive":null}`, "pageref", "null", "_priority", "null")), exchanges: 1},
		{name: "numbers as strings", data: harOf(entry("response", `{"status":"200","content":{"size":"2","text":"ok"}}`, "time", `"7"`)), exchanges: 1},
		{name: "entry larger than the limit", data: harOf(entry("comment", `"`+huge+`"`), entry()), opts: Options{MaxEntry: 2048}, exchanges: 1,
			skips: []string{"x.har: entry 0: entry is larger than 2048 bytes of JSON (raise the entry size limit to import it)"}},
		{name: "huge body truncated", data: harOf(entry("response", `{"status":200,"content":{"size":3000,"text":"`+huge+`"}}`)), opts: Options{MaxBody: 100}, exchanges: 1},
		{name: "trailing garbage after the log is ignored", data: harOf(entry()) + "\n\x00\x00", exchanges: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := []traffic.Record{}
			rep, err := Import(context.Background(), []Input{BytesInput("x.har", []byte(tc.data))}, tc.opts, func(traffic.Header) (traffic.Sink, error) {
				return sinkFunc(func(r traffic.Record) { sink = append(sink, r) }), nil
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if rep.Exchanges != tc.exchanges || len(sink) != tc.exchanges {
				t.Errorf("%d exchanges (%d records), want %d", rep.Exchanges, len(sink), tc.exchanges)
			}
			var skips []string
			for _, s := range rep.Skipped {
				skips = append(skips, s.String())
			}
			if strings.Join(skips, "\n") != strings.Join(tc.skips, "\n") {
				t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skips, "\n"), strings.Join(tc.skips, "\n"))
			}
		})
	}
}

// sinkFunc adapts a function to traffic.Sink.
type sinkFunc func(traffic.Record)

func (f sinkFunc) Write(_ context.Context, r traffic.Record) error { f(r); return nil }
func (f sinkFunc) Close() error                                    { return nil }

func TestImportTolerantValues(t *testing.T) {
	// Latin-1 bytes in a body survive; base64 bodies decode; status 0 and
	// -1 import as failed exchanges; h3/unknown/empty versions normalise.
	data := harOf(
		entry("request", `{"method":"POST","url":"http://h/form","httpVersion":"h3","headers":[{"name":":authority","value":"h"},{"name":"Content-Type","value":"text/plain"}],"postData":{"mimeType":"text/plain","text":"caf`+"\xe9"+`"},"bodySize":4}`),
		entry("startedDateTime", `"2024-05-01T10:00:01Z"`, "response", `{"status":200,"httpVersion":"unknown","content":{"size":3,"mimeType":"application/octet-stream","text":"AAEC","encoding":"base64"}}`),
		entry("startedDateTime", `"2024-05-01T10:00:02Z"`, "response", `{"status":0,"httpVersion":"","_error":"net::ERR_ABORTED"}`),
		entry("startedDateTime", `"2024-05-01T10:00:03Z"`, "response", `{"status":-1,"_failureText":"socket hang up"}`, "time", "-1"),
		entry("startedDateTime", `"2024-05-01 10:00:04.5"`, "request", `{"method":"GET","url":"http://h/c","cookies":[{"name":"a","value":"1"},{"name":"b","value":"2"}]}`),
		entry("startedDateTime", `"2024-05-01T10:00:05Z"`, "request", `{"method":"POST","url":"http://h/f","headers":[{"name":"Content-Type","value":"application/x-www-form-urlencoded"}],"postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"q","value":"a b"},{"name":"n","value":"1&2"}]}}`),
	)
	_, recs := importInputs(t, Options{}, BytesInput("t.har", []byte(data)))
	if len(recs) != 6 {
		t.Fatalf("%d records", len(recs))
	}
	x := recs[0].Exchange
	if string(x.Request.Body.Data) != "caf\xe9" || x.Request.Proto != "HTTP/3.0" || x.Request.Header.Has(":authority") || x.Request.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("latin-1 entry: body %q proto %q header %v", x.Request.Body.Data, x.Request.Proto, x.Request.Header)
	}
	x = recs[1].Exchange
	if !bytes.Equal(x.Response.Body.Data, []byte{0, 1, 2}) || x.Response.Proto != "" || x.Start != time.Second {
		t.Errorf("base64 entry: body %v proto %q start %v", x.Response.Body.Data, x.Response.Proto, x.Start)
	}
	x = recs[2].Exchange
	if x.Response != nil || !x.Has(traffic.FlagNoResponse) || x.Error != "har: no response (status 0): net::ERR_ABORTED" {
		t.Errorf("status 0 entry: response %v flags %b error %q", x.Response, x.Flags, x.Error)
	}
	x = recs[3].Exchange
	if x.Response != nil || x.Error != "har: no response (status -1): socket hang up" || x.Timing.Total != 0 {
		t.Errorf("status -1 entry: error %q timing %+v", x.Error, x.Timing)
	}
	x = recs[4].Exchange
	if x.Request.Header.Get("Cookie") != "a=1; b=2" || x.Start != 4500*time.Millisecond {
		t.Errorf("cookies entry: header %v start %v", x.Request.Header, x.Start)
	}
	x = recs[5].Exchange
	if string(x.Request.Body.Data) != "q=a+b&n=1%262" {
		t.Errorf("params body %q", x.Request.Body.Data)
	}
}

func TestReaderEncodings(t *testing.T) {
	plain := harOf(entry())
	utf16le := func(s string, bigEndian bool) []byte {
		u := utf16.Encode([]rune(s))
		var b bytes.Buffer
		if bigEndian {
			b.Write([]byte{0xFE, 0xFF})
		} else {
			b.Write([]byte{0xFF, 0xFE})
		}
		for _, c := range u {
			if bigEndian {
				binary.Write(&b, binary.BigEndian, c)
			} else {
				binary.Write(&b, binary.LittleEndian, c)
			}
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"utf-8", []byte(plain)},
		{"utf-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, plain...)},
		{"leading newline", []byte("\n\r\n  " + plain)},
		{"utf-16le BOM", utf16le(plain, false)},
		{"utf-16be BOM", utf16le(plain, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e.Request.URL != "https://api.example.com/v1/x?a=1" {
				t.Errorf("url %q", e.Request.URL)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("second Next: %v, want EOF", err)
			}
			if r.Log().Creator.Name != "test" {
				t.Errorf("creator %+v", r.Log().Creator)
			}
		})
	}
}

func TestReaderKeepsCustomFields(t *testing.T) {
	data := `{"log":{"_meta":{"a":1},"entries":[` + entry("_custom", `{ "x" : [1, 2] }`, "_securityState", `"secure"`, "_initiator", `"parser"`) + `],"version":"1.2","pages":[{"id":"p","title":"t","startedDateTime":"2024-05-01T10:00:00Z","pageTimings":{}}]}}`
	r, err := NewReader(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Custom["_custom"]) != `{"x":[1,2]}` || string(e.Custom["_securityState"]) != `"secure"` || string(e.Initiator) != `"parser"` {
		t.Errorf("custom %v initiator %s", e.Custom, e.Initiator)
	}
	if _, ok := e.Custom["_initiator"]; ok {
		t.Error("_initiator is a known field, not custom")
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
	l := r.Log()
	if l.Version != "1.2" || len(l.Pages) != 1 || string(l.Custom["_meta"]) != `{"a":1}` {
		t.Errorf("log after entries: %+v", l)
	}
}

func TestReaderNotHAR(t *testing.T) {
	_, err := NewReader(strings.NewReader("<html>"))
	if !errors.Is(err, ErrNotHAR) {
		t.Errorf("err = %v, want ErrNotHAR", err)
	}
	_, err = NewReader(strings.NewReader(`{"log":{"version":"3","entries":[]}}`))
	if !errors.Is(err, ErrVersion) {
		t.Errorf("err = %v, want ErrVersion", err)
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit time.Duration
		want time.Duration
		ok   bool
	}{
		{"12.5", time.Millisecond, 12500 * time.Microsecond, true},
		{"0.000001", time.Millisecond, 1, true},
		{"0.0000004", time.Millisecond, 0, true},
		{"0.0000005", time.Millisecond, 1, true},
		{"-1", time.Millisecond, -time.Millisecond, true},
		{"1.5e3", time.Millisecond, 1500 * time.Millisecond, true},
		{"1770276275.8036242", time.Second, 1770276275803624200, true},
		{"1770276275.803624219", time.Second, 1770276275803624219, true},
		{"1e300", time.Second, 0, false},
		{"", time.Second, 0, false},
	} {
		got, ok := Number(tc.in).Duration(tc.unit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Number(%q).Duration(%v) = %v, %v; want %v, %v", tc.in, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
	for _, d := range []time.Duration{0, 1, 999, 1234567, 3*time.Hour + 7} {
		if got, _ := Millis(d).Duration(time.Millisecond); got != d {
			t.Errorf("Millis(%v) = %s reads back as %v", d, Millis(d), got)
		}
	}
	at := time.Date(2026, 2, 5, 7, 24, 35, 803624219, time.UTC)
	if got, _ := Seconds(at).Duration(time.Second); time.Unix(0, int64(got)) != at.Local() && !time.Unix(0, int64(got)).Equal(at) {
		t.Errorf("Seconds(%v) = %s", at, Seconds(at))
	}
	var n Number
	for in, want := range map[string]Number{`"200"`: "200", `null`: "", `true`: "", `"abc"`: "", `-0.5`: "-0.5"} {
		n.UnmarshalJSON([]byte(in))
		if n != want {
			t.Errorf("unmarshal %s = %q, want %q", in, n, want)
		}
	}
}
