package happyapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkRoutes measures the server's throughput per route over loopback
// with keep-alive connections (b.SetBytes is the response body size, so
// MB/s is response bytes).
func BenchmarkRoutes(b *testing.B) {
	_, base := newTest(b, Config{Tokens: []string{staticToken}})
	sid := ""
	for i := range 20 {
		r := call(b, base, "POST", "/v1/sessions", staticToken, map[string]any{"tag": fmt.Sprint("t", i), "metadata": "bWV0YQ=="})
		sid = path(r.body, "session.id").(string)
	}
	call(b, base, "POST", "/v1/kv", staticToken, map[string]any{"mutations": []any{map[string]any{"key": "k", "value": "dg==", "version": -1}}})
	var tag atomic.Int64
	routes := []struct {
		name, method, path string
		body               func() []byte
	}{
		{"health", "GET", "/health", nil},
		{"sessions_list", "GET", "/v1/sessions", nil},
		{"session_get", "GET", "/v1/sessions/" + sid, nil},
		{"session_create", "POST", "/v1/sessions", func() []byte {
			return fmt.Appendf(nil, `{"tag":"b%d","metadata":"bWV0YQ=="}`, tag.Add(1))
		}},
		{"message_post", "POST", "/v1/sessions/" + sid + "/messages", func() []byte { return []byte(`{"content":{"t":"encrypted","c":"aGVsbG8="}}`) }},
		{"kv_get", "GET", "/v1/kv/k", nil},
		{"not_found", "GET", "/v1/nope", nil},
	}
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			var size atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var body io.Reader
					if rt.body != nil {
						body = bytes.NewReader(rt.body())
					}
					req, _ := http.NewRequest(rt.method, base+rt.path, body)
					req.Header.Set("Authorization", "Bearer "+staticToken)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					size.Store(n)
				}
			})
			b.SetBytes(size.Load())
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkWebSocketPing measures the ping -> pong round trip on one
// connection.
func BenchmarkWebSocketPing(b *testing.B) {
	_, base := newTest(b, Config{AnyToken: true})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(base, "/v1/updates?token=u"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.ReadMessage() // connected
	msg := []byte(`{"event":"ping","data":{},"ackId":"1"}`)
	var n int
	b.ResetTimer()
	for range b.N {
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		_, p, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		n = len(p)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}

// BenchmarkUpdateFanout measures a message POST whose update fans out to
// ten live user-scoped connections.
func BenchmarkUpdateFanout(b *testing.B) {
	_, base := newTest(b, Config{AnyToken: true})
	sid := path(call(b, base, "POST", "/v1/sessions", "u", map[string]any{"tag": "t", "metadata": ""}).body, "session.id").(string)
	var received atomic.Int64
	for range 10 {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(base, "/v1/updates?token=u"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	client := &http.Client{}
	body := []byte(`{"content":{"t":"encrypted","c":"aGVsbG8="}}`)
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest("POST", base+"/v1/sessions/"+sid+"/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer u")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	want := int64(10*b.N + 10) // updates plus the connected frames
	for deadline := time.Now().Add(5 * time.Second); received.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(received.Load()-10)/b.Elapsed().Seconds(), "pushes/s")
}
