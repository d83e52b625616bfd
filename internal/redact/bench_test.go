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
