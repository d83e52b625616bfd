package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

func TestHeadScanner(t *testing.T) {
	stream := "\r\nPOST /a?x=1 HTTP/1.1\r\nhost: h\r\nX-Zeta: 1\r\nx-alpha: 2\r\nContent-Length: 5\r\n\r\nhello" +
		"PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nB: folded\r\n  more\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n" +
		"GET /c HTTP/1.1\nHost: h\nA: 1\n\n" +
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
	want := []struct {
		method, target string
		fields         string
	}{
		{"POST", "/a?x=1", "host=h|X-Zeta=1|x-alpha=2|Content-Length=5"},
		{"PUT", "/b", "Host=h|Transfer-Encoding=chunked|B=folded more"},
		{"GET", "/c", "Host=h|A=1"},
		{"GET", "/ws", "Host=h|Upgrade=websocket"},
	}
	for _, chunk := range []int{1, 2, 7, len(stream)} {
		t.Run(fmt.Sprintf("chunks of %d", chunk), func(t *testing.T) {
			s := &headScanner{}
			for i := 0; i < len(stream); i += chunk {
				s.feed([]byte(stream[i:min(i+chunk, len(stream))]))
			}
			for _, w := range want {
				got := fieldString(s.take(w.method, w.target))
				if got != w.fields {
					t.Errorf("%s %s: fields %q, want %q", w.method, w.target, got, w.fields)
				}
			}
			if s.state != scanOff {
				t.Error("scanner should stop after an upgrade")
			}
		})
	}
}

func fieldString(f traffic.Fields) string {
	var parts []string
	for _, h := range f {
		parts = append(parts, h.Name+"="+h.Value)
	}
	return strings.Join(parts, "|")
}

// FuzzHeadScanner checks that the head scanner never panics and finds the
// same heads however the stream is split.
func FuzzHeadScanner(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), uint8(1))
	f.Add([]byte("POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /q HTTP/1.1\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		a, b := &headScanner{}, &headScanner{}
		a.feed(stream)
		n := int(chunk%9) + 1
		for i := 0; i < len(stream); i += n {
			b.feed(stream[i:min(i+n, len(stream))])
		}
		if len(a.heads) != len(b.heads) || a.state != b.state {
			t.Fatalf("split changes the result: %d vs %d heads, state %d vs %d", len(a.heads), len(b.heads), a.state, b.state)
		}
		for i := range a.heads {
			if fieldString(a.heads[i].fields) != fieldString(b.heads[i].fields) {
				t.Fatalf("head %d differs", i)
			}
		}
	})
}
