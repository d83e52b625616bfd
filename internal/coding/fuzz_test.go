package coding

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode decodes arbitrary bytes as any coding list: it must not
// panic, must keep to the cap, must fail only with an *Error, and a body
// it decodes whole must survive encode -> decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, ce := range []string{"gzip", "deflate", "br", "zstd", "gzip, br"} {
		enc, err := Encode(ce, jsonBody)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ce, enc)
		f.Add(ce, enc[:len(enc)/2])
	}
	f.Add("identity", []byte(`{}`))
	f.Add("compress", []byte{0x1f, 0x9d})
	const max = 1 << 20
	f.Fuzz(func(t *testing.T, ce string, data []byte) {
		res, err := Decode(ce, data, max)
		if int64(len(res.Data)) > max && len(Parse(ce)) > 0 {
			t.Fatalf("decoded %d bytes over the cap", len(res.Data))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Coding == "" {
				t.Fatalf("error %v is not a coding error", err)
			}
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v of no known kind", err)
			}
			if res.Complete {
				t.Fatalf("failed decode reported complete")
			}
			return
		}
		if !res.Complete {
			return
		}
		enc, err := Encode(ce, res.Data)
		if err != nil {
			t.Fatalf("encode what decoded: %v", err)
		}
		again, err := Decode(ce, enc, max)
		if err != nil || !again.Complete || !bytes.Equal(again.Data, res.Data) {
			t.Fatalf("decode -> encode -> decode changed the body: %v", err)
		}
	})
}
