package coding

import "testing"

// BenchmarkDecode decodes a small JSON answer (the size of a Happy API
// session list) per coding; allocations show the pooled decoders at work.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []string{"identity", "gzip", "deflate", "br", "zstd"} {
		wire, err := Encode(c, jsonBody)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(jsonBody)))
			for b.Loop() {
				if _, err := Decode(c, wire, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode encodes the same answer, as the built-in server does.
func BenchmarkEncode(b *testing.B) {
	for _, c := range []string{"gzip", "deflate", "br", "zstd"} {
		b.Run(c, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(jsonBody)))
			for b.Loop() {
				if _, err := Encode(c, jsonBody); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
