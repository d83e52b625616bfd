package happyapi

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/coding"
)

// rawClient asks for what the test says and decodes nothing itself, as a
// Node or browser client's own stack would see the wire.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// rawCall sends one request with the given Accept-Encoding ("" sends
// none) and returns the response with its body as sent.
func rawCall(t *testing.T, base, method, path, token, acceptEncoding, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// independent decodes with a library other than internal/coding's own
// path, so the test does not only check the package against itself.
func independent(t *testing.T, c string, data []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch c {
	case "gzip":
		r, err = stdgzip.NewReader(bytes.NewReader(data))
	case "deflate":
		r, err = stdzlib.NewReader(bytes.NewReader(data))
	case "br":
		r = brotli.NewReader(bytes.NewReader(data))
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data))
		if err == nil {
			defer d.Close()
		}
		r = d
	default:
		t.Fatalf("no decoder for %q", c)
	}
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return out
}

func TestCompressionEachCoding(t *testing.T) {
	srv, base := newTest(t, Config{Tokens: []string{"tok"}})
	for _, tt := range []struct{ accept, want string }{
		{"gzip", "gzip"},
		{"br", "br"},
		{"zstd", "zstd"},
		{"deflate", "deflate"},
		{"gzip, deflate", "gzip"},                       // Node's fetch
		{"gzip, deflate, br, zstd", "zstd"},             // Chromium
		{"gzip;q=0.5, br;q=0.9", "br"},                  // q-values
		{"x-gzip", "gzip"},                              // alias
		{"*", "zstd"},                                   // anything
		{"zstd;q=0, *;q=0.5, br;q=0", "gzip"},           // star with exclusions
		{"identity;q=0, gzip;q=0.1", "gzip"},            // refuses identity
		{"gzip, deflate, br, zstd;q=0.9", "br"},         // server order among equals
		{"compress", ""},                                // nothing usable
		{"gzip;q=0.5, identity", ""},                    // prefers identity
		{"", ""},                                        // no header at all
		{"gzip;q=0, br;q=0, zstd;q=0, deflate;q=0", ""}, // all refused
	} {
		t.Run(tt.accept, func(t *testing.T) {
			for _, req := range []struct{ method, path, body string }{
				{"GET", "/health", ""},
				{"POST", "/v1/sessions", `{"tag":"t-` + tt.accept + `","metadata":"bWV0YQ=="}`},
				{"GET", "/v1/sessions", ""},
				{"GET", "/v1/sessions/nope", ""}, // a 404 answer is JSON too
			} {
				resp, raw := rawCall(t, base, req.method, req.path, "tok", tt.accept, req.body)
				if got := resp.Header.Get("Content-Encoding"); got != tt.want {
					t.Fatalf("%s %s: Content-Encoding %q, want %q", req.method, req.path, got, tt.want)
				}
				if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
					t.Errorf("%s %s: no Vary: Accept-Encoding (%q)", req.method, req.path, resp.Header.Get("Vary"))
				}
				plain := raw
				if tt.want != "" {
					if json.Valid(raw) {
						t.Fatalf("%s %s: body says %s but is plain JSON", req.method, req.path, tt.want)
					}
					if resp.ContentLength != -1 && resp.ContentLength != int64(len(raw)) {
						t.Errorf("compressed answer of %d bytes says Content-Length %d", len(raw), resp.ContentLength)
					}
					plain = independent(t, tt.want, raw)
					res, err := coding.Decode(tt.want, raw, 1<<20)
					if err != nil || !res.Complete || !bytes.Equal(res.Data, plain) {
						t.Fatalf("internal/coding disagrees: %v", err)
					}
				} else if resp.ContentLength != int64(len(raw)) {
					t.Errorf("uncompressed answer without its Content-Length")
				}
				if !json.Valid(plain) {
					t.Fatalf("%s %s: decoded body is not JSON: %q", req.method, req.path, plain)
				}
			}
		})
	}
	if st := srv.Stats(); st.Compressed["gzip"] == 0 || st.Compressed["br"] == 0 || st.Compressed["zstd"] == 0 || st.Compressed["deflate"] == 0 {
		t.Errorf("compressed answers by coding: %v", st.Compressed)
	}
}

func TestCompressionKnobs(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		srv, base := newTest(t, Config{NoCompress: true})
		resp, raw := rawCall(t, base, "GET", "/health", "", "gzip, br", "")
		if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" || !json.Valid(raw) {
			t.Errorf("compression off still coded: %v", resp.Header)
		}
		if n := len(srv.Stats().Compressed); n != 0 {
			t.Errorf("compressed counts %v", srv.Stats().Compressed)
		}
	})
	t.Run("min size", func(t *testing.T) {
		_, base := newTest(t, Config{Tokens: []string{"tok"}, CompressMinSize: 200})
		// {"sessions":[]} is under 200 bytes, the /health answer too.
		resp, raw := rawCall(t, base, "GET", "/v1/sessions", "tok", "gzip", "")
		if resp.Header.Get("Content-Encoding") != "" || !json.Valid(raw) {
			t.Errorf("tiny body compressed: %v %q", resp.Header, raw)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Error("a compressible answer must say Vary even when it is too small to compress")
		}
		for i := 0; i < 4; i++ {
			rawCall(t, base, "POST", "/v1/sessions", "tok", "", `{"tag":"tag-`+string(rune('a'+i))+`","metadata":"bWV0YWRhdGE="}`)
		}
		resp, _ = rawCall(t, base, "GET", "/v1/sessions", "tok", "gzip", "")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("a list of four sessions was not compressed: %v", resp.Header)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		if _, err := New(Config{CompressMinSize: -1}); err == nil {
			t.Error("negative minimum size accepted")
		}
	})
}

func TestCompressionHeadAndWebSocket(t *testing.T) {
	srv, base := newTest(t, Config{Tokens: []string{"tok"}})
	// A WebSocket upgrade asking for gzip is upgraded as before.
	h := http.Header{"Authorization": {"Bearer tok"}, "Accept-Encoding": {"gzip, deflate, br"}}
	c, resp, err := dial(t, base, "/v1/updates", h)
	if err != nil {
		t.Fatalf("upgrade with Accept-Encoding: %v", err)
	}
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("101 answer coded: %v", resp.Header)
	}
	if m := next(t, c); m["event"] != "connected" {
		t.Fatalf("first frame %v", m)
	}
	send(t, c, map[string]any{"event": "ping", "ackId": 7})
	if m := next(t, c); m["type"] != "pong" && m["event"] != "pong" {
		t.Errorf("ping answered with %v", m)
	}
	if srv.Stats().WSAccepted != 1 {
		t.Errorf("stats %+v", srv.Stats())
	}
}
