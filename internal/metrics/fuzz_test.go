package metrics

import (
	"bytes"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// FuzzDecode feeds arbitrary documents to Decode: no panic, and whatever
// decodes encodes to a document that decodes and encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	c := NewCollector()
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions/{id}", Flow: "u", Intended: time.Millisecond, Sent: time.Millisecond, Latency: 3 * time.Millisecond, Service: 2 * time.Millisecond, Status: 200, Expected: 200})
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions/{id}", Flow: "v", Latency: 5 * time.Millisecond, Service: 5 * time.Millisecond, Status: 200, Expected: 200, Shape: "{session:{id:num}}", ExpectedShape: "{session:{id:str}}"})
	c.Add(traffic.Result{Kind: traffic.ResultWSSession, Endpoint: "WS /v1/updates [user-scoped]", Flow: "u", Latency: time.Second, MsgsReceived: 2, MsgsRecorded: 3})
	var buf bytes.Buffer
	if err := Encode(&buf, c.Snapshot()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	partial := c.Snapshot()
	partial.Meta = Meta{Shard: "1/2", RunID: "R", CorpusID: "sha256:0011223344556677",
		Interrupted: &Interruption{At: 5 * time.Second, Reason: "interrupt signal received", Shards: []string{"1/2"}}}
	buf.Reset()
	if err := Encode(&buf, partial); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	vus := NewCollector()
	vus.StartIteration(0, 0, 0)
	vus.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /health", Flow: "u", Intended: 0, Latency: 2 * time.Millisecond, Status: 200, Expected: 200})
	vus.EndIteration(0, 0, 0, time.Second, true)
	vus.StartIteration(1, 0, time.Second)
	vuSnap := vus.Snapshot()
	vuSnap.Meta = Meta{VUsMax: 2, Duration: 2 * time.Second}
	buf.Reset()
	if err := Encode(&buf, vuSnap); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"reprise-results","version":1,"overall":{},"endpoints":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var a, b bytes.Buffer
		if err := Encode(&a, s); err != nil {
			t.Fatalf("encode a decoded document: %v", err)
		}
		s2, err := Decode(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatalf("decode an encoded document: %v\n%s", err, a.Bytes())
		}
		if err := Encode(&b, s2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("decode -> encode is not stable:\n%s\n%s", a.Bytes(), b.Bytes())
		}
	})
}
