package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// Secrets that must never reach the corpus.
const (
	secretBearer = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWJlYXJlcg.sig-AAAA"
	secretCookie = "cookie-secret-BBBB"
	secretQuery  = "query-ticket-CCCC"
	secretDEK    = "ZGF0YS1lbmNyeXB0aW9uLWtleS1EREREREQ="
	secretReply  = "reply-token-EEEE"
	secretGzip   = "gzip-token-FFFF"
	secretWSURL  = "ws-url-token-GGGG"
	secretWSMsg  = "ws-msg-password-HHHH"
	secretSetCk  = "set-cookie-IIII"
)

func TestRedactionReachesDisk(t *testing.T) {
	var ups *httptest.Server
	wsUp := websocket.Upgrader{}
	ups = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/updates":
			c, err := wsUp.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				op, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(op, msg)
			}
		case "/gz":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, `{"token":%q}`, secretGzip)
			zw.Close()
		default:
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Set-Cookie", "sid="+secretSetCk+"; Path=/; HttpOnly")
			fmt.Fprintf(w, `{"success":true,"token":%q}`, secretReply)
		}
	}))
	defer ups.Close()

	red, err := redact.New(redact.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	h := traffic.Header{Source: "proxy", Redactions: red.Rules()}
	w, err := corpus.NewWriter(&file, h)
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, ups.URL, func(c *Config) { c.Sink = redact.NewSink(w, red); c.HashIdentity = red.Hash })

	cl := newClient()
	req, _ := http.NewRequest("POST", tp.URL+"/v1/sessions?ticket="+secretQuery, strings.NewReader(fmt.Sprintf(`{"tag":"t","dataEncryptionKey":%q}`, secretDEK)))
	req.Header.Set("Authorization", "Bearer "+secretBearer)
	req.Header.Set("Cookie", "sid="+secretCookie)
	req.Header.Set("Content-Type", "application/json")
	for _, r := range []*http.Request{req, mustReq(t, "GET", tp.URL+"/gz")} {
		resp, err := cl.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "redacted") {
			t.Fatal("the client must get the real response; redaction is for the corpus only")
		}
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL(tp.URL, "/v1/updates?token="+secretWSURL), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"event":"login","data":{"password":%q}}`, secretWSMsg)))
	if _, got, _ := c.ReadMessage(); !strings.Contains(string(got), secretWSMsg) {
		t.Fatal("the upstream must get the real message")
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	c.ReadMessage()
	c.Close()
	tp.stop()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Decompress every zstd frame of the corpus and grep the raw records.
	zr, err := zstd.NewReader(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	haystack := append(raw, file.Bytes()...)
	for _, s := range []string{secretBearer, secretCookie, secretQuery, secretDEK, secretReply, secretGzip, secretWSURL, secretWSMsg, secretSetCk} {
		if bytes.Contains(haystack, []byte(s)) {
			t.Errorf("secret %q is in the corpus", s)
		}
	}
	for _, want := range []string{"Bearer <redacted:", "sid=<redacted:", "%3Credacted%3A", `"dataEncryptionKey":"<redacted:`, `"password":"<redacted:`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("placeholder %q missing: the records lost their shape", want)
		}
	}

	// The corpus reads back whole, flags and header included.
	rd, err := corpus.NewReader(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.Header().Redactions) != len(redact.DefaultRules()) {
		t.Errorf("header redactions %v", rd.Header().Redactions)
	}
	col := traffic.Collect(recs)
	if len(col.Exchanges) != 2 || len(col.WS) != 1 || len(col.WS[0].Messages) != 2 {
		t.Fatalf("read back %d exchanges, %d ws", len(col.Exchanges), len(col.WS))
	}
	for _, x := range col.Exchanges {
		if !x.Has(traffic.FlagRedacted) {
			t.Errorf("exchange %s not flagged redacted", x.Request.URL)
		}
	}
	if want := "auth:" + red.Hash([]byte(secretBearer)); col.Exchanges[0].Flow != want && col.Exchanges[1].Flow != want {
		t.Errorf("flow keys %q/%q, want the bearer's placeholder hash %q", col.Exchanges[0].Flow, col.Exchanges[1].Flow, want)
	}
}

func mustReq(t testing.TB, method, url string) *http.Request {
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDiskFullKeepsProxying(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 2000))
	}))
	defer upstream.Close()
	disk := &failingWriter{limit: 8 << 10}
	w, err := corpus.NewWriter(disk, traffic.Header{Source: "proxy"}, corpus.WithBlockSize(1024), corpus.WithLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, upstream.URL, func(c *Config) { c.Sink = w })
	cl := newClient()
	const n = 200
	for i := 0; i < n; i++ {
		resp, err := cl.Get(fmt.Sprintf("%s/item/%d", tp.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 2000 {
			t.Fatalf("request %d: %d, %d bytes: a full disk broke the traffic", i, resp.StatusCode, len(b))
		}
	}
	tp.stop()
	closeErr := w.Close()
	st := tp.Stats()
	if st.Lost == 0 || closeErr == nil || !strings.Contains(fmt.Sprint(st.SinkErr), "no space left") {
		t.Fatalf("lost %d, close error %v, sink error %v: the failure went unnoticed", st.Lost, closeErr, st.SinkErr)
	}
	if c := strings.Count(tp.logs.String(), "recording failed"); c != 1 {
		t.Errorf("%d warnings, want 1", c)
	}
	// What reached the disk is a valid corpus cut short.
	rd, err := corpus.NewReader(bytes.NewReader(disk.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || !rd.Stats().Truncated || int64(len(recs))+st.Lost > n {
		t.Errorf("read %d records (truncated %v) with %d lost of %d", len(recs), rd.Stats().Truncated, st.Lost, n)
	}
}
