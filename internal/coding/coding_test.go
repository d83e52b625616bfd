package coding

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/traffic"
)

// jsonBody is a small JSON answer of the size the Happy API gives.
var jsonBody = []byte(`{"sessions":[{"id":"cmf2k1v0x0000abcd","seq":3,"createdAt":1735689600000,"updatedAt":1735689600123,"active":true,"activeAt":1735689600123,"metadata":"eyJwYXRoIjoiL2hvbWUvdXNlci9wcm9qZWN0In0=","metadataVersion":1,"agentState":null,"agentStateVersion":0,"dataEncryptionKey":null,"lastMessage":null}]}`)

// bigBody is a JSON list of 400 KB that compresses about 2:1, so that
// half of its encoding holds whole blocks of every coding (zstd's are up
// to 128 KiB).
var bigBody = func() []byte {
	var b bytes.Buffer
	b.WriteString("[")
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; b.Len() < 400<<10; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		fmt.Fprintf(&b, `{"id":"%016x","seq":%d,"text":"hello, world"},`, x, i)
	}
	b.WriteString(`{}]`)
	return b.Bytes()
}()

// foreign encodes with an implementation other than the package's own,
// as the servers whose bodies get decoded do.
func foreign(t testing.TB, c string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch c {
	case "gzip":
		w = stdgzip.NewWriter(&buf)
	case "deflate":
		w = stdzlib.NewWriter(&buf)
	case "raw-deflate":
		fw, _ := stdflate.NewWriter(&buf, stdflate.DefaultCompression)
		w = fw
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		t.Fatalf("no foreign encoder for %s", c)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeEachCoding(t *testing.T) {
	for _, tt := range []struct {
		name, header, encoder string
	}{
		{"gzip", "gzip", "gzip"},
		{"x-gzip", "x-gzip", "gzip"},
		{"upper case", " GZIP ", "gzip"},
		{"deflate zlib", "deflate", "deflate"},
		{"deflate raw", "deflate", "raw-deflate"},
		{"br", "br", "br"},
		{"zstd", "zstd", "zstd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, body := range [][]byte{jsonBody, bigBody} {
				res, err := Decode(tt.header, foreign(t, tt.encoder, body), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Complete || !bytes.Equal(res.Data, body) {
					t.Fatalf("complete %v, decoded %d bytes, want %d", res.Complete, len(res.Data), len(body))
				}
				if want := canonical(tt.header); res.Coding() != want {
					t.Errorf("coding %q, want %q", res.Coding(), want)
				}
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ce := range []string{"gzip", "deflate", "br", "zstd", "identity", "", "gzip, br", "zstd, gzip, deflate", "br, identity"} {
		t.Run(ce, func(t *testing.T) {
			for i := 0; i < 3; i++ { // pooled encoders and decoders are reused
				enc, err := Encode(ce, jsonBody)
				if err != nil {
					t.Fatal(err)
				}
				if len(Parse(ce)) > 0 && bytes.Equal(enc, jsonBody) {
					t.Fatal("encoding changed nothing")
				}
				res, err := Decode(ce, enc, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Complete || !bytes.Equal(res.Data, jsonBody) {
					t.Fatalf("round trip gave %q", res.Data)
				}
			}
		})
	}
}

func TestStackedAppliedInOrder(t *testing.T) {
	// "gzip, br": gzip was applied first, so the wire holds br(gzip(x)).
	wire := foreign(t, "br", foreign(t, "gzip", jsonBody))
	res, err := Decode("gzip, br", wire, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Data, jsonBody) || res.Coding() != "gzip, br" {
		t.Fatalf("decoded %q as %q", res.Data, res.Coding())
	}
	// The reverse order is a corrupt br stream, not garbage returned as text.
	_, err = Decode("br, gzip", wire, 1<<20)
	var ce *Error
	if !errors.As(err, &ce) || ce.Coding != "gzip" || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong order: %v", err)
	}
	// Several header lines are one list.
	hdr := traffic.Fields{{Name: "Content-Encoding", Value: "gzip"}, {Name: "content-encoding", Value: "br"}}
	res, err = Body(hdr, traffic.Body{Data: wire, Size: int64(len(wire))}, 0)
	if err != nil || !bytes.Equal(res.Data, jsonBody) {
		t.Fatalf("two header lines: %v %q", err, res.Data)
	}
}

func TestGzipMultistream(t *testing.T) {
	a, b := foreign(t, "gzip", []byte(`{"a":1}`)), foreign(t, "gzip", []byte(`{"b":2}`))
	res, err := Decode("gzip", append(append([]byte{}, a...), b...), 1<<20)
	if err != nil || string(res.Data) != `{"a":1}{"b":2}` {
		t.Fatalf("%v %q", err, res.Data)
	}
}

func TestCutStreamIsIncomplete(t *testing.T) {
	for _, c := range []string{"gzip", "deflate", "raw-deflate", "br", "zstd"} {
		t.Run(c, func(t *testing.T) {
			ce := c
			if c == "raw-deflate" {
				ce = "deflate"
			}
			wire := foreign(t, c, bigBody)
			cut := wire[:len(wire)/2]
			res, err := Decode(ce, cut, 1<<22)
			if err != nil {
				t.Fatalf("a cut stream is not an error: %v", err)
			}
			if res.Complete {
				t.Fatal("cut stream reported complete")
			}
			if len(res.Data) == 0 || !bytes.HasPrefix(bigBody, res.Data) {
				t.Fatalf("decoded %d bytes, not a start of the body", len(res.Data))
			}
			// The same through Body, with the recorder's flag.
			res, err = Body(traffic.Fields{{Name: "Content-Encoding", Value: ce}}, traffic.Body{Data: cut, Size: int64(len(wire)), Truncated: true}, 1<<22)
			if err != nil || res.Complete || !bytes.HasPrefix(bigBody, res.Data) {
				t.Fatalf("Body: %v complete=%v", err, res.Complete)
			}
		})
	}
}

func TestTruncatedIdentityIsIncomplete(t *testing.T) {
	res, err := Body(nil, traffic.Body{Data: jsonBody[:10], Size: int64(len(jsonBody)), Truncated: true}, 0)
	if err != nil || res.Complete || res.Coding() != "" || string(res.Data) != string(jsonBody[:10]) {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestCorrupt(t *testing.T) {
	for _, tt := range []struct {
		name, coding string
		data         func(t *testing.T) []byte
		partial      bool // some of the body decodes before the damage
	}{
		{"gzip not compressed", "gzip", plainJSON, false},
		{"deflate not compressed", "deflate", plainJSON, false},
		{"br not compressed", "br", plainJSON, false},
		{"zstd not compressed", "zstd", plainJSON, false},
		{"gzip checksum", "gzip", trailer("gzip", 8), true},
		{"deflate checksum", "deflate", trailer("deflate", 4), true},
		{"zstd checksum", "zstd", trailer("zstd", 4), true},
		{"br damaged", "br", middle("br"), true},
		{"zstd damaged", "zstd", middle("zstd"), true},
		{"gzip trailing garbage", "gzip", func(t *testing.T) []byte {
			return append(foreign(t, "gzip", jsonBody), "garbage after the member"...)
		}, true},
		{"br trailing garbage", "br", func(t *testing.T) []byte {
			return append(foreign(t, "br", jsonBody), "garbage"...)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Decode(tt.coding, tt.data(t), 1<<22)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v (complete %v, %d bytes), want ErrCorrupt", err, res.Complete, len(res.Data))
			}
			if want := tt.coding + ": corrupt stream"; err.Error() != want {
				t.Errorf("error text %q, want %q", err, want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Err == nil || ce.Coding != tt.coding {
				t.Errorf("coding or library cause lost: %#v", err)
			}
			if res.Complete {
				t.Error("damaged stream reported complete")
			}
			if tt.partial && len(res.Data) == 0 {
				t.Error("nothing of what decoded before the damage kept")
			}
			if tt.partial && !bytes.HasPrefix(bigBody, res.Data) && !bytes.HasPrefix(jsonBody, res.Data) {
				t.Errorf("damaged stream gave %d bytes that are not a start of the body", len(res.Data))
			}
		})
	}
}

func plainJSON(*testing.T) []byte {
	return []byte(`{"not":"compressed at all, just JSON that says it is"}`)
}

// trailer flips a byte of the checksum n bytes before the end.
func trailer(c string, n int) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := foreign(t, c, bigBody)
		b[len(b)-n] ^= 0xff
		return b
	}
}

// middle overwrites bytes in the middle of an encoded stream.
func middle(c string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := foreign(t, c, bigBody)
		for i := len(b) / 2; i < len(b)/2+64; i++ {
			b[i] = 0xff
		}
		return b
	}
}

func TestUnsupported(t *testing.T) {
	res, err := Decode("gzip, compress", foreign(t, "gzip", jsonBody), 1<<20)
	if !errors.Is(err, ErrUnsupported) || err.Error() != "compress: unsupported content coding" || res.Data != nil {
		t.Fatalf("%v %q", err, res.Data)
	}
	if _, err := Encode("x-custom", jsonBody); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("encode: %v", err)
	}
}

func TestDecodedSizeCap(t *testing.T) {
	zeros := make([]byte, 4<<20)
	for _, c := range []string{"gzip", "deflate", "br", "zstd", "gzip, zstd"} {
		t.Run(c, func(t *testing.T) {
			wire, err := Encode(c, zeros)
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > 64<<10 {
				t.Fatalf("bomb not small: %d bytes", len(wire))
			}
			res, err := Decode(c, wire, 1<<20)
			if !errors.Is(err, ErrTooLarge) || res.Data != nil {
				t.Fatalf("got %v with %d bytes, want ErrTooLarge", err, len(res.Data))
			}
			if !strings.HasSuffix(err.Error(), ": decoded body over 1048576 bytes") {
				t.Errorf("error text %q", err)
			}
			// Exactly at the cap is fine.
			res, err = Decode(c, wire, 4<<20)
			if err != nil || len(res.Data) != 4<<20 {
				t.Fatalf("at the cap: %v, %d bytes", err, len(res.Data))
			}
		})
	}
}

func TestEmptyAndIdentity(t *testing.T) {
	for _, ce := range []string{"", "identity", "gzip", "br"} {
		res, err := Decode(ce, nil, 0)
		if err != nil || !res.Complete || len(res.Data) != 0 {
			t.Errorf("%q on no body: %v %+v", ce, err, res)
		}
	}
	res, err := Decode("identity", jsonBody, 10)
	if err != nil || &res.Data[0] != &jsonBody[0] || res.Codings != nil {
		t.Fatalf("identity must pass the body through uncopied and uncapped: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"identity"}, ""},
		{[]string{"GZip"}, "gzip"},
		{[]string{"x-gzip, identity ,BR"}, "gzip, br"},
		{[]string{"deflate", "zstd"}, "deflate, zstd"},
		{[]string{" , gzip,,"}, "gzip"},
	} {
		if got := Format(Parse(tt.in...)); got != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriterFlushIsDecodable(t *testing.T) {
	for _, c := range []string{"gzip", "deflate", "br", "zstd"} {
		var buf bytes.Buffer
		w, err := NewWriter(c, &buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(jsonBody)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		// Before Close: a reader gets the whole body, the stream unfinished.
		res, err := Decode(c, buf.Bytes(), 1<<20)
		if err != nil || !bytes.Equal(res.Data, jsonBody) || res.Complete {
			t.Errorf("%s after Flush: %v complete=%v %d bytes", c, err, res.Complete, len(res.Data))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Errorf("%s: write after close accepted", c)
		}
	}
}

func ExampleDecode() {
	wire, _ := Encode("gzip", []byte(`{"ok":true}`))
	res, err := Decode("gzip", wire, 1<<20)
	fmt.Println(string(res.Data), res.Coding(), res.Complete, err)

	_, err = Decode("br", []byte(`{"ok":true}`), 1<<20)
	fmt.Println(err, errors.Is(err, ErrCorrupt))
	// Output:
	// {"ok":true} gzip true <nil>
	// br: corrupt stream true
}

func ExampleNegotiate() {
	// Node's fetch.
	c, _ := Negotiate([]string{"gzip, deflate"}, nil)
	fmt.Println(c)
	// A browser: the server's preference decides among equals.
	c, _ = Negotiate([]string{"gzip, deflate, br, zstd"}, nil)
	fmt.Println(c)
	// Nothing acceptable.
	c, ok := Negotiate([]string{"identity;q=0, compress"}, nil)
	fmt.Println(c, ok)
	// Output:
	// gzip
	// zstd
	// identity false
}

func TestRawDeflateThatLooksLikeZlib(t *testing.T) {
	// A raw stream whose first stored block starts 0x78 0x01: a valid zlib
	// header, after which zlib fails at once. Then a final stored block.
	raw := []byte{0x78, 0x01, 0x00, 0xfe, 0xff, '{', 0x01, 0x01, 0x00, 0xfe, 0xff, '}'}
	if !zlibHeader(raw) {
		t.Fatal("test stream does not start like zlib")
	}
	res, err := Decode("deflate", raw, 1<<20)
	if err != nil || string(res.Data) != "{}" || !res.Complete {
		t.Fatalf("%v %q complete=%v", err, res.Data, res.Complete)
	}
}
