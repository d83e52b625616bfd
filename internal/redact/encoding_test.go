package redact

import (
	"bytes"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/traffic"
)

// TestRecordEachCoding redacts a JSON answer under every coding a server
// may send, stacked ones included, and checks that the body stays in its
// coding, decodes, and holds the placeholder instead of the secret.
func TestRecordEachCoding(t *testing.T) {
	r := newTestRedactor(t)
	plain := `{"success":true,"token":"JWT-SECRET-9"}`
	for _, ce := range []string{"gzip", "x-gzip", "deflate", "br", "zstd", "gzip, br", "deflate, zstd"} {
		t.Run(ce, func(t *testing.T) {
			wire, err := coding.Encode(ce, []byte(plain))
			if err != nil {
				t.Fatal(err)
			}
			x := &traffic.Exchange{Request: traffic.Request{Method: "POST", URL: "/v1/auth"}, Response: &traffic.Response{
				Status: 200,
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: ce}},
				Body:   traffic.Body{Data: wire, Size: int64(len(wire))},
			}}
			out, changed := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
			if !changed {
				t.Fatal("nothing redacted")
			}
			b := out.Exchange.Response.Body
			if b.Truncated {
				t.Fatalf("body dropped: %v", out.Exchange.Notes)
			}
			res, err := coding.Decode(ce, b.Data, 1<<20)
			if err != nil || !res.Complete {
				t.Fatalf("redacted body no longer %s: %v", ce, err)
			}
			if bytes.Contains(res.Data, []byte("JWT-SECRET-9")) || !bytes.Contains(res.Data, []byte(r.Placeholder("JWT-SECRET-9"))) {
				t.Fatalf("redacted body: %s", res.Data)
			}
			if note := out.Exchange.Notes["redact-response"]; !strings.Contains(note, "re-encoded with "+ce) {
				t.Errorf("note %q", note)
			}
		})
	}
}

// TestRecordCorruptNamesCodingAndProblem checks that a body that cannot
// be decoded is dropped with a note naming the coding and what is wrong.
func TestRecordCorruptNamesCodingAndProblem(t *testing.T) {
	r := newTestRedactor(t)
	for _, tt := range []struct{ ce, want string }{
		{"br", "br: corrupt stream"},
		{"zstd", "zstd: corrupt stream"},
		{"gzip, compress", "compress: unsupported content coding"},
	} {
		x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{
			Status: 200,
			Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: tt.ce}},
			Body:   traffic.Body{Data: []byte(`{"token":"PLAIN-SECRET"}`), Size: 24},
		}}
		out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
		b := out.Exchange.Response.Body
		if len(b.Data) != 0 || !b.Truncated {
			t.Errorf("%s: undecodable body kept (%d bytes)", tt.ce, len(b.Data))
		}
		if note := out.Exchange.Notes["redact-response"]; !strings.Contains(note, tt.want) {
			t.Errorf("%s: note %q does not say %q", tt.ce, note, tt.want)
		}
	}
}
