package coding

import "testing"

func TestNegotiate(t *testing.T) {
	all := []string{Zstd, Brotli, Gzip, Deflate}
	for _, tt := range []struct {
		name    string
		accept  []string
		offered []string
		want    string
		ok      bool
	}{
		{"absent header", nil, all, "identity", true},
		{"empty header", []string{""}, all, "identity", true},
		{"node fetch", []string{"gzip, deflate"}, all, "gzip", true},
		{"go client", []string{"gzip"}, all, "gzip", true},
		{"chrome", []string{"gzip, deflate, br, zstd"}, all, "zstd", true},
		{"server order breaks ties", []string{"gzip, br"}, all, "br", true},
		{"q decides", []string{"br;q=0.5, gzip;q=0.8"}, all, "gzip", true},
		{"q with spaces and case", []string{"br ; Q=0.9 , deflate;q=1.0"}, all, "deflate", true},
		{"refused coding", []string{"gzip;q=0, deflate"}, all, "deflate", true},
		{"x-gzip alias", []string{"x-gzip"}, all, "gzip", true},
		{"star", []string{"*"}, all, "zstd", true},
		{"star below named", []string{"*;q=0.1, deflate"}, all, "deflate", true},
		{"star excludes named q=0", []string{"*, zstd;q=0, br;q=0"}, all, "gzip", true},
		{"identity preferred", []string{"gzip;q=0.5, identity"}, all, "identity", true},
		{"identity refused", []string{"identity;q=0"}, all, "identity", false},
		{"star zero refuses identity", []string{"*;q=0"}, all, "identity", false},
		{"star zero identity named", []string{"*;q=0, identity"}, all, "identity", true},
		{"identity refused, gzip ok", []string{"gzip;q=0.2, identity;q=0"}, all, "gzip", true},
		{"unknown only", []string{"compress"}, all, "identity", true},
		{"offered subset", []string{"br, gzip"}, []string{Gzip}, "gzip", true},
		{"nothing offered", []string{"br"}, []string{}, "identity", true},
		{"bad q ignored", []string{"br;q=2, gzip;q=x, deflate"}, all, "deflate", true},
		{"several lines", []string{"br;q=0.1", "gzip"}, all, "gzip", true},
		{"duplicate takes highest", []string{"br;q=0.1, br;q=0.9, gzip;q=0.5"}, all, "br", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Negotiate(tt.accept, tt.offered)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Negotiate(%q) = %q, %v; want %q, %v", tt.accept, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func BenchmarkNegotiate(b *testing.B) {
	accept := []string{"gzip, deflate, br, zstd"}
	b.ReportAllocs()
	for b.Loop() {
		Negotiate(accept, nil)
	}
}
