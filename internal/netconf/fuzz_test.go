package netconf

import (
	"bytes"
	"encoding/pem"
	"testing"
)

// FuzzParseResolve: no panic, and an accepted value renders to a string
// that parses to the same override.
func FuzzParseResolve(f *testing.F) {
	for _, s := range []string{"staging.test:8443:127.0.0.1", "h:443:[::1]", "[::1]:443:::1", "a:0:1.2.3.4", "x:1:[::ffff:1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseResolve(s)
		if err != nil {
			return
		}
		again, err := ParseResolve(o.String())
		if err != nil {
			t.Fatalf("%q parsed as %v, which does not parse: %v", s, o, err)
		}
		if again != o {
			t.Fatalf("%q: %v, then %v", s, o, again)
		}
	})
}

// FuzzParseCAs: no panic, and the certificates accepted, encoded again,
// parse to the same certificates.
func FuzzParseCAs(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("# bundle\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCAs(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		for _, c := range certs {
			pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		again, err := ParseCAs(buf.Bytes())
		if err != nil || len(again) != len(certs) {
			t.Fatalf("%d certificates re-encoded give %d, %v", len(certs), len(again), err)
		}
		for i := range certs {
			if !certs[i].Equal(again[i]) {
				t.Fatalf("certificate %d changed", i)
			}
		}
	})
}
