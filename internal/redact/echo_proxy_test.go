package redact_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/proxy"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// proxyToken holds bytes every encoder treats apart ('/', '+', '=', '&',
// '<', a space, a non-ASCII letter), so its plain, query-escaped,
// path-escaped and JSON-escaped forms all differ; all of them contain
// "SECRET".
const proxyToken = "SECRET-7f3a9c2e/5b+d1=0e&q<r s\u00e9"

// echoServer answers like a server that echoes request URIs: an error
// body with the URI (and the token decoded and re-encoded several ways),
// the same gzip-compressed, a later pagination link with the token, and
// a WebSocket hello that repeats the upgrade URI.
func echoServer(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{}
	var mu sync.Mutex
	var last string // the last token seen, echoed by /v1/next
	body := func(r *http.Request) []byte {
		tok := r.URL.Query().Get("token")
		mu.Lock()
		last = tok
		mu.Unlock()
		b, err := json.Marshal(map[string]string{
			"error":   "invalid token",
			"echo":    r.RequestURI,                        // query-escaped
			"decoded": tok,                                 // JSON-escaped by Go: \u0026 \u003c
			"path":    "/v1/tokens/" + url.PathEscape(tok), // path-escaped
		})
		if err != nil {
			t.Error(err)
		}
		// A PHP-style field: '/' escaped as \/, non-ASCII as \u.
		php := strings.NewReplacer("/", `\/`, "\u00e9", `\u00e9`, `"`, `\"`).Replace(tok)
		return append(b[:len(b)-1], `,"php":"`+php+`"}`...)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/updates":
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"event":"hello","url":%q}`, r.RequestURI)))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		case "/v1/next":
			mu.Lock()
			tok := last
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"items":[],"next":"/v1/account?token=%s&page=2"}`, url.QueryEscape(tok))
		case "/gz/v1/account":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusUnauthorized)
			zw := gzip.NewWriter(w)
			zw.Write(body(r))
			zw.Close()
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(body(r))
		}
	}))
}

// TestEchoedSecretNeverReachesDisk records, through the recording proxy,
// a server that echoes the request URI with ?token=SECRET... in its JSON
// bodies (once gzip-compressed), in a later response and in a WebSocket
// message, then searches the decompressed corpus, and every decoded
// body, for SECRET in any form.
func TestEchoedSecretNeverReachesDisk(t *testing.T) {
	ups := echoServer(t)
	defer ups.Close()
	upstream, _ := url.Parse(ups.URL)

	red, err := redact.New(redact.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	w, err := corpus.NewWriter(&file, traffic.Header{Source: "proxy", Origin: ups.URL, Redactions: red.Rules()})
	if err != nil {
		t.Fatal(err)
	}
	sink := redact.NewSink(w, red)
	p, err := proxy.New(proxy.Config{Upstream: upstream, Sink: sink, HashIdentity: red.Hash})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	q := "?token=" + url.QueryEscape(proxyToken)

	// The client sees the real echoes: redaction is for the corpus only.
	cl := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	for _, path := range []string{"/v1/account" + q, "/gz/v1/account" + q, "/v1/next"} {
		resp, err := cl.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(zr)
		}
		if !bytes.Contains(b, []byte("SECRET")) {
			t.Fatalf("%s: the server did not echo the token to the client: %s", path, b)
		}
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/v1/updates"+q+"&clientType=user-scoped", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, hello, err := c.ReadMessage(); err != nil || !bytes.Contains(hello, []byte("SECRET")) {
		t.Fatalf("hello %s, %v", hello, err)
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	c.ReadMessage()
	c.Close()

	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Lost != 0 || st.Exchanges != 3 || st.WSConns != 1 {
		t.Fatalf("recorded %d exchanges, %d websockets, lost %d", st.Exchanges, st.WSConns, st.Lost)
	}

	// The whole corpus decompressed, as zstd -dc gives it.
	zr, err := zstd.NewReader(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(raw, []byte("SECRET")); i >= 0 {
		t.Errorf("SECRET in the decompressed corpus: ...%s...", raw[max(0, i-80):min(len(raw), i+80)])
	}
	if bytes.Contains(file.Bytes(), []byte("SECRET")) {
		t.Error("SECRET in the corpus file")
	}

	// Every record read back, bodies decoded: no SECRET, and the echoes
	// are there as placeholders (the test would pass on dropped bodies
	// otherwise).
	rd, err := corpus.NewReader(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	col := traffic.Collect(recs)
	ph := red.Placeholder(proxyToken)
	phEsc := url.QueryEscape(ph)
	echoes := 0
	for _, x := range col.Exchanges {
		if x.Response == nil {
			t.Fatalf("%s: no response recorded", x.Request.URL)
		}
		b := x.Response.Body.Data
		if x.Response.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: recorded body is not gzip: %v", x.Request.URL, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if bytes.Contains(b, []byte("SECRET")) || strings.Contains(x.Request.URL, "SECRET") {
			t.Errorf("%s: SECRET in the recorded exchange: %s", x.Request.URL, b)
		}
		echoes += bytes.Count(b, []byte(ph)) + bytes.Count(b, []byte(phEsc))
		if x.Response.Body.Truncated {
			t.Errorf("%s: body dropped: %v", x.Request.URL, x.Notes)
		}
	}
	// 2 bodies with echo, decoded, path and php forms; 1 next link.
	if echoes != 9 {
		t.Errorf("%d echoes replaced by the token's placeholder, want 9", echoes)
	}
	if len(col.WS) != 1 || len(col.WS[0].Messages) == 0 {
		t.Fatalf("%d websockets recorded", len(col.WS))
	}
	hello := col.WS[0].Messages[0].Payload
	if bytes.Contains(hello, []byte("SECRET")) || !bytes.Contains(hello, []byte(phEsc)) || !json.Valid(hello) {
		t.Errorf("recorded hello %s", hello)
	}
	if u := col.WS[0].Open.Upgrade.Request.URL; !strings.Contains(u, "token="+phEsc) {
		t.Errorf("upgrade URL %s", u)
	}
}
