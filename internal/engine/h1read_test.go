package engine

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// compareReads reads an answer with readHead and with http.ReadResponse
// and fails when they differ in what a replay reads of it: status, proto,
// headers, length, whether the connection closes, the body and what
// follows it on the connection.
func compareReads(t *testing.T, answer, method string, mustHandle bool) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:8787/x", nil)
	wbr := bufio.NewReader(strings.NewReader(answer))
	want, werr := http.ReadResponse(wbr, req)
	gbr := bufio.NewReader(strings.NewReader(answer))
	gbr.Peek(1)
	got, n, ok := readHead(gbr, req)
	if !ok {
		if mustHandle {
			t.Errorf("readHead left %q to ReadResponse", answer)
		}
		if gbr.Buffered() != len(answer) && len(answer) <= 4096 {
			t.Errorf("readHead turned %q down after reading from it", answer)
		}
		return
	}
	if werr != nil {
		t.Fatalf("readHead read %q, which ReadResponse refuses: %v", answer, werr)
	}
	wantBody, werr := io.ReadAll(want.Body)
	gotBody, gerr := io.ReadAll(io.LimitReader(gbr, n))
	if int64(len(gotBody)) < n {
		gerr = io.ErrUnexpectedEOF
	}
	wantRest, _ := io.ReadAll(wbr)
	gotRest, _ := io.ReadAll(gbr)
	type view struct {
		Status, Proto      string
		Code, Major, Minor int
		Header             http.Header
		Length             int64
		Close              bool
		Body, Rest         string
		BodyErr            bool
	}
	w := view{want.Status, want.Proto, want.StatusCode, want.ProtoMajor, want.ProtoMinor, want.Header, want.ContentLength, want.Close, string(wantBody), string(wantRest), werr != nil}
	g := view{got.Status, got.Proto, got.StatusCode, got.ProtoMajor, got.ProtoMinor, got.Header, got.ContentLength, got.Close, string(gotBody), string(gotRest), gerr != nil}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("answer %q:\nreadHead     %+v\nReadResponse %+v", answer, g, w)
	}
}

func TestReadHeadMatchesNetHTTP(t *testing.T) {
	for _, c := range []struct {
		answer string
		handle bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nDate: Thu, 03 Dec 2026 19:00:00 GMT\r\n\r\n{\"ok\":true}NEXT", true},
		{"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-request-id:   abc \t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n{}", true},
		{"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", true},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", true},
		{"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n\r\nto the close", false},
		{"HTTP/1.1 204 No Content\r\n\r\n", false},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 200 OK\r\nBad Key: a\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 2OO OK\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/2.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nx", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1", false},
	} {
		compareReads(t, c.answer, "GET", c.handle)
	}
	compareReads(t, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD", false)
}

// FuzzReadHead: whatever the answer, readHead reads what ReadResponse
// reads, or leaves it to ReadResponse having read nothing.
func FuzzReadHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", false)
	f.Add("HTTP/1.0 404 Not Found\r\nConnection: Keep-Alive, close\r\nContent-Length: 1\r\n\r\nx", false)
	f.Add("HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n", true)
	f.Fuzz(func(t *testing.T, answer string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		compareReads(t, answer, method, false)
	})
}
