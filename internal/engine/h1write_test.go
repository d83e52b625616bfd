package engine

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// compareWrites writes req with writeRequest and with net/http's
// Request.Write, and fails when the bytes differ (or when writeRequest
// turned down a request a replay sends).
func compareWrites(t *testing.T, newReq func() *http.Request, mustHandle bool) {
	t.Helper()
	var want bytes.Buffer
	wantErr := newReq().Write(&want)
	var got bytes.Buffer
	bw := bufio.NewWriter(&got)
	var keys []string
	ok, err := writeRequest(bw, newReq(), &keys)
	bw.Flush()
	if !ok {
		if mustHandle {
			t.Errorf("a replayed request went through Request.Write:\n%s", want.String())
		}
		return
	}
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("writeRequest: %v; Request.Write: %v", err, wantErr)
	}
	if err == nil && got.String() != want.String() {
		t.Errorf("writeRequest wrote\n%q\nRequest.Write\n%q", got.String(), want.String())
	}
}

func TestWriteRequestMatchesNetHTTP(t *testing.T) {
	cases := []struct {
		method, url, body string
		header            http.Header
	}{
		{"GET", "http://127.0.0.1:8787/v1/sessions", "", http.Header{"Authorization": {"Bearer x"}, "Accept": {"application/json"}}},
		{"POST", "http://127.0.0.1:8787/v1/sessions", `{"tag":"a"}`, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": nil}},
		{"POST", "http://127.0.0.1:8787/v1/kv", "", nil},
		{"DELETE", "http://h/v1/sessions/abc", "", http.Header{"User-Agent": {"happy-app/1.4.2 (ios 18.1)"}}},
		{"HEAD", "http://h/x", "", http.Header{"User-Agent": {""}}},
		{"PURGE", "http://h/x?a=1&b=%20", "", http.Header{"X-Multi": {"a", " b ", "c\r\nd"}}},
		{"PUT", "http://h/a%2Fb/c%20d?", "x", http.Header{"Cookie": {"s=1; t=2"}}},
		{"PATCH", "http://[::1]:9/p?q", "{}", http.Header{"If-Match": {`"v1"`}, "Content-Length": {"999"}, "Host": {"ignored"}}},
		{"GET", "http://h", "", nil},
	}
	for _, c := range cases {
		newReq := func() *http.Request {
			var body *strings.Reader
			req, err := http.NewRequest(c.method, c.url, nil)
			if c.body != "" {
				body = strings.NewReader(c.body)
				req, err = http.NewRequest(c.method, c.url, body)
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				req.Header[k] = v
			}
			if strings.HasSuffix(c.url, "?") {
				req.URL.ForceQuery = true
			}
			return req
		}
		compareWrites(t, newReq, true)
	}
}

// FuzzWriteRequest: whatever the request, writeRequest writes what
// Request.Write writes, or leaves it to Request.Write.
func FuzzWriteRequest(f *testing.F) {
	f.Add("GET", "/v1/sessions", "a=1", "Authorization", "Bearer x", "")
	f.Add("POST", "/v1/kv", "", "Content-Type", "application/json", `{"k":"v"}`)
	f.Add("DELETE", "/a%2Fb", "", "User-Agent", "", "")
	f.Add("PUT", "/x", "", "X-A", "v\r\nInjected: 1", "body")
	f.Fuzz(func(t *testing.T, method, path, query, name, value, body string) {
		u, err := url.Parse("http://127.0.0.1:8787" + path)
		if err != nil || u.Host != "127.0.0.1:8787" {
			return
		}
		u.RawQuery = query
		newReq := func() *http.Request {
			req, err := http.NewRequest("GET", "http://127.0.0.1:8787/", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Method, req.URL = method, u
			if body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			req.Header[name] = []string{value}
			return req
		}
		if validateRequest(newReq()) != nil {
			return // the transport refuses it before writing
		}
		compareWrites(t, newReq, false)
	})
}
