//go:build integration

package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/workload"
)

// Traffic recorded with bearer tokens, cookies and secret JSON fields holds
// none of them on disk, and replays with --auth-token against a server
// that only knows that token.
func TestRedactedRecordingReplaysWithAuthToken(t *testing.T) {
	// The recorded server issues tokens through Ed25519 logins.
	up := startHappy(t, happyapi.Config{})
	dir := t.TempDir()
	out := filepath.Join(dir, "dev.rpz")
	listen := freeAddr(t)
	proxy, plog := background(t, "record", "proxy", "--listen", listen, "--upstream", up.URL(), "--out", out)
	waitListening(t, listen)
	rep, err := workload.Run(context.Background(), workload.Config{BaseURL: "http://" + listen, Users: 3, Duration: 8 * time.Second, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Process.Signal(syscall.SIGINT)
	if err := proxy.Wait(); err != nil {
		t.Fatalf("record proxy: %v\n%s", err, plog)
	}

	// Secrets the workload saw must not be on disk: every token the server
	// issued appears in Authorization headers, token query parameters and
	// the login responses.
	raw := decompressed(t, out)
	if strings.Contains(raw, "eyJ") {
		t.Errorf("a JWT is in the corpus")
	}
	for _, field := range []string{`"signature":"`, `"dataEncryptionKey":"`, `"token":"`} {
		for i := 0; ; {
			j := strings.Index(raw[i:], field)
			if j < 0 {
				break
			}
			i += j + len(field)
			if !strings.HasPrefix(raw[i:], "<redacted:") {
				t.Errorf("%s holds %q", field, raw[i:min(i+20, len(raw))])
				break
			}
		}
	}
	if rep.TotalRequests() < 50 {
		t.Fatalf("workload sent only %d requests", rep.TotalRequests())
	}

	// Staging knows one static token.
	staging := startHappy(t, happyapi.Config{Tokens: []string{"staging-token"}})
	target, _ := url.Parse(staging.URL())
	stdout, stderr, code := command(t, time.Minute, "replay", "run", out, "--target", target.String(), "--speed", "5", "--auth-token", "staging-token", "-q",
		"--threshold", "error_rate<5%", "--out", "json="+filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("replay exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Every request authenticated. (One token for all recorded users merges
	// them into one account, so a few state conflicts such as a kv version
	// clash may appear; that is what the 5% allows.)
	if strings.Contains(readFile(t, filepath.Join(dir, "r.json")), `"401"`) {
		t.Fatalf("some requests were refused as unauthenticated:\n%s", stdout)
	}
	if !strings.Contains(stdout, "skipped, not scheduled: redacted credentials") {
		t.Fatalf("the logins with redacted signatures were not reported as skipped:\n%s", stdout)
	}
}
