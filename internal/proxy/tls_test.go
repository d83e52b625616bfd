package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/traffic"
)

// With Config.TLS the proxy records HTTPS and wss:// clients: requests as
// https with their header order and body, WebSocket frames in both
// directions, all relayed to a plain HTTP upstream.
func TestTLSClients(t *testing.T) {
	// httptest's certificate (valid for 127.0.0.1) and a client that trusts it.
	certSrv := httptest.NewTLSServer(http.NotFoundHandler())
	certSrv.Close()
	trusting := certSrv.Client().Transport.(*http.Transport).TLSClientConfig

	up := wsUpstream(t, false)
	tp := startProxy(t, up.URL, func(c *Config) {
		c.TLS = &tls.Config{Certificates: certSrv.TLS.Certificates}
	})
	if !strings.HasPrefix(tp.URL, "https://") {
		t.Fatalf("proxy URL %s", tp.URL)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting.Clone(), ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("POST", tp.URL+"/v1/kv?x=1", strings.NewReader(`{"key":"k1"}`))
	req.Header.Set("X-B", "2")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Errorf("the proxy spoke HTTP/%d to its client, want HTTP/1.1", resp.ProtoMajor)
	}

	d := websocket.Dialer{TLSClientConfig: trusting.Clone()}
	c, _, err := d.Dial("wss"+strings.TrimPrefix(tp.URL, "https")+"/v1/updates", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte("hello over tls"))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "hello over tls" {
		t.Fatalf("echo %q %v", msg, err)
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), timeSoon())
	c.ReadMessage()
	c.Close()
	tp.stop()

	col := wsRecords(t, tp.Sink.Records())
	if len(col.Exchanges) != 1 || len(col.WS) != 1 {
		t.Fatalf("%d exchanges, %d websockets", len(col.Exchanges), len(col.WS))
	}
	x := col.Exchanges[0]
	if x.Request.Scheme != "https" || x.Request.URL != "/v1/kv?x=1" || string(x.Request.Body.Data) != `{"key":"k1"}` {
		t.Errorf("recorded %s %s://%s body %q", x.Request.Method, x.Request.Scheme, x.Request.URL, x.Request.Body.Data)
	}
	var names []string
	for _, f := range x.Request.Header {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "X-B") || x.Response == nil || x.Response.Status == 0 {
		t.Errorf("headers %s, response %+v", got, x.Response)
	}
	ws := col.WS[0]
	if ws.Open.Upgrade.Request.Scheme != "https" {
		t.Errorf("upgrade recorded as %s", ws.Open.Upgrade.Request.Scheme)
	}
	var texts []string
	for _, m := range ws.Messages {
		if m.Opcode == traffic.OpText {
			texts = append(texts, string(m.Payload))
		}
	}
	if len(texts) != 2 || texts[0] != "hello over tls" || texts[1] != "hello over tls" {
		t.Errorf("websocket messages %q, want the message and its echo", texts)
	}
}

func timeSoon() time.Time { return time.Now().Add(time.Second) }
