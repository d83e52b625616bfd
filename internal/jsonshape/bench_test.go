package jsonshape

import (
	"fmt"
	"strings"
	"testing"
)

// sample is a Happy session answer with two messages.
var sample = []byte(`{"session":{"id":"2dcc94455b03816fb33edbdeab59a767","seq":3,"createdAt":1795717779166,"updatedAt":1795717779166,"active":true,"metadata":"bWV0YWRhdGEgb2YgdGhlIHNlc3Npb24=","agentState":null,"tag":"home-1-5"},"messages":[{"id":"354c120ea229f0809b7a65a3","seq":1,"content":{"t":"encrypted","c":"aGVsbG8="}},{"id":"454c120ea229f0809b7a65a3","seq":2,"content":{"t":"encrypted","c":"aGVsbG8="}}]}`)

// small is a short answer of the kind an endpoint repeats endlessly.
var small = []byte(`{"ok":true,"id":"2dcc94455b03816fb33edbdeab59a767","seq":12}`)

// sessions is a list of 20 sessions with nested metadata, pretty-printed.
var sessions = func() []byte {
	var b strings.Builder
	b.WriteString("{\n  \"sessions\": [\n")
	for i := 0; i < 20; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `    {
      "id": "2dcc94455b03816fb33edbdeab59a7%02d",
      "seq": %d,
      "createdAt": 17957177791%02d,
      "updatedAt": 17957177792%02d,
      "active": %t,
      "lastMessage": {"id": "354c120ea229f0809b7a65%02d", "seq": %d, "content": {"t": "encrypted", "c": "aGVsbG8gd29ybGQ="}},
      "metadata": {"path": "/home/user/project-%d", "host": "laptop.local", "os": "darwin", "flavor": null,
        "tools": ["read", "write", "bash", "grep"], "summary": {"text": "Refactor the \"scanner\"", "updatedAt": 1795717779166},
        "machine": {"id": "m-%d", "version": "1.4.%d", "homeDir": "/home/user", "Content-Type": "application/json"}},
      "agentState": %s,
      "agentStateVersion": %d,
      "tag": "home-1-%d"
    }`, i, i, i, i, i%2 == 0, i, i, i, i, i, `{"requests":{},"completedRequests":{}}`, i, i)
	}
	b.WriteString("\n  ],\n  \"hasMore\": false,\n  \"next\": null\n}\n")
	return []byte(b.String())
}()

func benchOf(b *testing.B, doc []byte) {
	if _, ok := Of(doc); !ok {
		b.Fatal("not JSON")
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Of(doc)
	}
}

func BenchmarkOf(b *testing.B)         { benchOf(b, sample) }
func BenchmarkOfSmall(b *testing.B)    { benchOf(b, small) }
func BenchmarkOfSessions(b *testing.B) { benchOf(b, sessions) }

// BenchmarkOfParallel takes the shape of the same document from every
// core, as the lanes of a replay do.
func BenchmarkOfParallel(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			Of(sample)
		}
	})
}

// BenchmarkDecodeOf is the shape through encoding/json, for comparison.
func BenchmarkDecodeOf(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		decodeOf(sample)
	}
}
