//go:build integration

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/nginxtest"
	"github.com/reprise/reprise/internal/traffic"
)

const sharedHAR = "../../shared/testdata/har"

// Every shared HAR imports and replays against nginx: each HTTP exchange
// of the corpus reaches nginx once.
func TestImportedHARsReplayAgainstNginx(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedHAR, "*.har"))
	if len(files) == 0 {
		t.Skip("shared HAR test data not found at " + sharedHAR)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			target := nginxtest.Start(t, "")
			out := filepath.Join(t.TempDir(), "h.rpz")
			if _, e, code := command(t, time.Minute, "record", "har", f, "--out", out); code != 0 {
				t.Fatalf("record har: exit %d: %s", code, e)
			}
			r, err := corpus.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := traffic.ReadAll(context.Background(), r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			coll := traffic.Collect(recs)
			// The replay sends every exchange but those whose body holds a
			// redacted proof of identity (none in these files).
			stdout, stderr, code := command(t, 2*time.Minute, "replay", "run", out, "--target", target.URL, "--speed", "1000", "-q", "--max-lag", "1m",
				// Some of these files join sessions months apart.
				"--max-gap", "10s")
			if code != 0 && code != 1 {
				t.Fatalf("replay exit %d\n%s\n%s", code, stdout, stderr)
			}
			log, err := target.Log(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// WebSocket upgrades reach nginx as requests too.
			want := len(coll.Exchanges) + len(coll.WS)
			if len(log) != want {
				t.Fatalf("nginx saw %d requests, corpus has %d exchanges and %d websockets\n%s", len(log), len(coll.Exchanges), len(coll.WS), stdout)
			}
			if !strings.Contains(stdout, "accounting") {
				t.Fatalf("no report:\n%s", stdout)
			}
		})
	}
}

// Cookies and bearer tokens in a HAR never reach the corpus on disk.
func TestHARImportRedacts(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "secret.har")
	har := `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[{
	  "startedDateTime":"2026-01-02T03:04:05.000Z","time":1,
	  "request":{"method":"POST","url":"http://api.example/v1/auth?token=qs-secret-123","httpVersion":"HTTP/1.1",
	    "headers":[{"name":"Authorization","value":"Bearer hdr-secret-456"},{"name":"Cookie","value":"sid=cookie-secret-789"},{"name":"Content-Type","value":"application/json"}],
	    "queryString":[],"cookies":[],"headersSize":-1,"bodySize":40,
	    "postData":{"mimeType":"application/json","text":"{\"password\":\"body-secret-000\"}"}},
	  "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"cookies":[],
	    "content":{"size":30,"mimeType":"application/json","text":"{\"token\":\"resp-secret-111\"}"},"redirectURL":"","headersSize":-1,"bodySize":30},
	  "cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}`
	if err := os.WriteFile(in, []byte(har), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "secret.rpz")
	if _, e, code := command(t, time.Minute, "record", "har", in, "--out", out); code != 0 {
		t.Fatalf("record har: %s", e)
	}
	raw := decompressed(t, out)
	for _, secret := range []string{"qs-secret-123", "hdr-secret-456", "cookie-secret-789", "body-secret-000", "resp-secret-111"} {
		if strings.Contains(raw, secret) {
			t.Errorf("corpus holds %s", secret)
		}
	}
	if !strings.Contains(raw, "<redacted:") {
		t.Errorf("no placeholders in the corpus")
	}
}
