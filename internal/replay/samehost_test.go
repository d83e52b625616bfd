package replay

import (
	"net/url"
	"testing"
)

// The recorded origin is recognised by resolved host and port, not by
// spelling: localhost, 127.0.0.1 and ::1 are one machine.
func TestSameHostResolved(t *testing.T) {
	for _, tc := range []struct {
		origin, target string
		want           bool
	}{
		{"http://127.0.0.1:8787", "http://localhost:8787", true},
		{"http://localhost:8787", "http://[::1]:8787", true},
		{"http://localhost.:8787", "http://127.0.0.1:8787", true},
		{"http://127.0.0.1:8787", "http://127.0.0.2:8787", true},
		{"http://[::ffff:127.0.0.1]", "http://127.0.0.1:80", true},
		{"https://localhost", "https://127.0.0.1:443", true},
		{"http://127.0.0.1:8787", "http://localhost:8788", false},
		{"http://10.1.2.3:8787", "http://127.0.0.1:8787", false},
		{"http://10.1.2.3:8787", "http://10.1.2.4:8787", false},
	} {
		u, err := url.Parse(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameHost(tc.origin, u); got != tc.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tc.origin, tc.target, got, tc.want)
		}
	}
}
