package happyapi

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newTest starts srv behind httptest and returns it with its base URL.
func newTest(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// call sends one JSON request; body may be nil, a string (sent raw) or a
// value to encode.
func call(t testing.TB, base, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, raw, err)
		}
	}
	return r
}

// key returns a deterministic Ed25519 key for name.
func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// authBody signs challenge with k as the Happy app does.
func authBody(k ed25519.PrivateKey, challenge string) map[string]string {
	return map[string]string{
		"publicKey": base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)),
		"challenge": base64.StdEncoding.EncodeToString([]byte(challenge)),
		"signature": base64.StdEncoding.EncodeToString(ed25519.Sign(k, []byte(challenge))),
	}
}

// login authenticates name's key and returns the token.
func login(t testing.TB, base, name string) string {
	t.Helper()
	r := call(t, base, "POST", "/v1/auth", "", authBody(key(name), "challenge-"+name))
	if r.status != 200 {
		t.Fatalf("auth %s: %d %s", name, r.status, r.raw)
	}
	return r.body["token"].(string)
}

// path digs a value out of a decoded JSON body: "session.id", "sessions.0.id".
func path(v any, p string) any {
	for _, k := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
