package capture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchProcess measures the whole import path (file reader, decoder,
// reassembly, HTTP/WebSocket parsing) on a capture held in memory.
func benchProcess(b *testing.B, data []byte) {
	b.Helper()
	pr, err := NewFileReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var packets int
	for {
		if _, err := pr.ReadPacket(); err != nil {
			break
		}
		packets++
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		pr, _ := NewFileReader(bytes.NewReader(data))
		p := NewProcessor(discard{}, Config{})
		if err := ReadPackets(ctx, p, pr); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkProcess runs generated keep-alive and WebSocket traffic, and the
// larger shared captures when they are present.
func BenchmarkProcess(b *testing.B) {
	b.Run("generated-keepalive", func(b *testing.B) {
		g := newConvo()
		for c := 0; c < 20; c++ {
			tc := g.conn(uint16(30000+c), true)
			for i := 0; i < 50; i++ {
				tc.send(true, fmt.Sprintf("GET /v1/sessions/%d HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer t\r\n\r\n", i))
				tc.send(false, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n"+strings.Repeat("x", 600))
			}
			tc.close()
		}
		benchProcess(b, writePcap(b, g.pkts))
	})
	for _, name := range []string{"zeek_http_1000_requests_dropped_response.pcap", "sv_http_npm_chunked_gzip_port443.pcap", "zeek_websocket_wstunnel_ssh.pcap"} {
		b.Run(strings.TrimSuffix(name, ".pcap"), func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(sharedPcaps, name))
			if err != nil {
				b.Skipf("shared capture absent: %v", err)
			}
			benchProcess(b, data)
		})
	}
}
