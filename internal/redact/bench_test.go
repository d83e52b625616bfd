package redact

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// sampleJSON builds a Happy-like JSON response of about n bytes with a
// few secret fields.
func sampleJSON(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"sessions":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"cm%08d","tag":"t-%d","seq":%d,"createdAt":1735689600000,"active":true,"metadata":"bWV0YWRhdGEtJWQtcGF5bG9hZA==","dataEncryptionKey":"a2V5LSVk%d","agentState":null}`, i, i, i, i)
	}
	b.WriteString(`],"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.sig"}`)
	return []byte(b.String())
}

// BenchmarkJSON measures the JSON redactor's throughput on a 64 KiB
// document.
func BenchmarkJSON(b *testing.B) {
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		b.Fatal(err)
	}
	doc := sampleJSON(64 << 10)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		r.JSON(doc)
	}
}

// BenchmarkRecord measures redaction of a whole exchange (headers, query,
// JSON request and response bodies) as the recording sink applies it.
func BenchmarkRecord(b *testing.B) {
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		b.Fatal(err)
	}
	reqBody := []byte(`{"tag":"t-1","metadata":"bWV0YQ==","dataEncryptionKey":"a2V5"}`)
	respBody := sampleJSON(4 << 10)
	x := &traffic.Exchange{
		Request: traffic.Request{Method: "POST", URL: "/v1/sessions?limit=10", Header: traffic.Fields{
			{Name: "Host", Value: "localhost:8787"}, {Name: "Authorization", Value: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"},
			{Name: "Content-Type", Value: "application/json"}, {Name: "Accept", Value: "*/*"},
		}, Body: traffic.Body{Data: reqBody, Size: int64(len(reqBody))}},
		Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body: traffic.Body{Data: respBody, Size: int64(len(respBody))}},
	}
	b.SetBytes(int64(len(reqBody) + len(respBody)))
	b.ReportAllocs()
	for b.Loop() {
		r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	}
}

// BenchmarkLenient measures the fallback scanner on text that is not JSON.
func BenchmarkLenient(b *testing.B) {
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		b.Fatal(err)
	}
	doc := append([]byte(`42["update",`), sampleJSON(64<<10)...)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		r.JSON(doc)
	}
}

// BenchmarkEcho measures the search for echoes: a 64 KiB JSON response
// (with one echo in it) redacted while the redactor knows
// DefaultMaxSecrets secrets.
func BenchmarkEcho(b *testing.B) {
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		b.Fatal(err)
	}
	tok := func(i int) string { return fmt.Sprintf("ticket-%08x-%04d", uint32(i*2654435761), i) }
	for i := range DefaultMaxSecrets {
		tok := tok(i)
		r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=" + tok}}})
	}
	if known, _ := r.Secrets(); known != DefaultMaxSecrets {
		b.Fatalf("%d secrets known", known)
	}
	doc := sampleJSON(64 << 10)
	last := tok(DefaultMaxSecrets - 1)
	doc = append(doc[:len(doc)-1:len(doc)-1], `,"next":"/v1/updates?token=`+last+`&after=2"}`...)
	x := &traffic.Exchange{
		Request: traffic.Request{Method: "GET", URL: "/v1/sessions?limit=100", Header: traffic.Fields{{Name: "Host", Value: "localhost:8787"}, {Name: "Accept", Value: "*/*"}}},
		Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body: traffic.Body{Data: doc, Size: int64(len(doc))}},
	}
	out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	if strings.Contains(string(out.Exchange.Response.Body.Data), last) {
		b.Fatal("echo not replaced")
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	}
}

// BenchmarkEchoSearch measures the search alone: a 64 KiB JSON document
// with no echo in it, DefaultMaxSecrets secrets known.
func BenchmarkEchoSearch(b *testing.B) {
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		b.Fatal(err)
	}
	for i := range DefaultMaxSecrets {
		tok := fmt.Sprintf("ticket-%08x-%04d", uint32(i*2654435761), i)
		r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=" + tok}}})
	}
	doc := sampleJSON(64 << 10)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		sc, _ := r.echo.begin(nil, nil)
		if _, changed := sc.bytes(doc, modeJSON, false); changed {
			b.Fatal("an echo found where there is none")
		}
		sc.done()
	}
}
