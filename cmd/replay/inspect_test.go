package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// replay inspect shows compressed bodies decoded, and names the ones it
// cannot decode.
func TestInspectDecodesBodies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "proxy", Origin: "http://localhost:8787"})
	if err != nil {
		t.Fatal(err)
	}
	gz, err := coding.Encode("gzip", []byte(`{"sessions":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		ce   string
		data []byte
	}{{"gzip", gz}, {"br", []byte("definitely not brotli")}} {
		x := &traffic.Exchange{Flow: "a", Request: traffic.Request{Method: "GET", URL: "/v1/sessions"},
			Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: b.ce}},
				Body: traffic.Body{Data: b.data, Size: int64(len(b.data))}}}
		if err := w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: x}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runReplay(t, "inspect", "--jsonl", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"body":"{\"sessions\":[]}"`) || !strings.Contains(stdout, `"coding":"gzip"`) {
		t.Errorf("gzip body not shown decoded:\n%s", stdout)
	}
	if !strings.Contains(stdout, `"decode_error":"br: corrupt stream"`) {
		t.Errorf("undecodable body not named:\n%s", stdout)
	}
	oneLine(t, stderr, "1 content-coded bodies could not be decoded", "br: corrupt stream ×1")

	code, stdout, stderr = runReplay(t, "inspect", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"codings       br×1 gzip×1", "undecodable   br: corrupt stream ×1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}
