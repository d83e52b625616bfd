package jsonshape

import "testing"

// sample is a Happy session answer with two messages.
var sample = []byte(`{"session":{"id":"2dcc94455b03816fb33edbdeab59a767","seq":3,"createdAt":1795717779166,"updatedAt":1795717779166,"active":true,"metadata":"bWV0YWRhdGEgb2YgdGhlIHNlc3Npb24=","agentState":null,"tag":"home-1-5"},"messages":[{"id":"354c120ea229f0809b7a65a3","seq":1,"content":{"t":"encrypted","c":"aGVsbG8="}},{"id":"454c120ea229f0809b7a65a3","seq":2,"content":{"t":"encrypted","c":"aGVsbG8="}}]}`)

func BenchmarkOf(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Of(sample)
	}
}

// BenchmarkDecodeOf is the shape through encoding/json, for comparison.
func BenchmarkDecodeOf(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		decodeOf(sample)
	}
}
