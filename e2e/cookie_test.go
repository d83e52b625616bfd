//go:build integration

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/webtest"
)

// cookieServer is a fresh webtest.CookieApp.
func cookieServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(webtest.CookieApp(0))
	t.Cleanup(srv.Close)
	return srv
}

// Browsers that log in to a cookie-session app, recorded through the proxy
// (cookies redacted on disk), replay against a fresh instance of the app
// with the cookies its live logins set: no request is refused.
func TestCookieSessionsRecordedAndReplayed(t *testing.T) {
	up := cookieServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "cookies.rpz")
	listen := freeAddr(t)
	proxy, plog := background(t, "record", "proxy", "--listen", listen, "--upstream", up.URL, "--out", out)
	waitListening(t, listen)
	const users, reads = 3, 4
	for u := 0; u < users; u++ {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		resp, err := c.Post("http://"+listen+"/login", "application/json", strings.NewReader(`{"user":"u"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for i := 0; i < reads; i++ {
			resp, err := c.Get("http://" + listen + "/me")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("recording: /me answered %d", resp.StatusCode)
			}
		}
	}
	proxy.Process.Signal(syscall.SIGINT)
	if err := proxy.Wait(); err != nil {
		t.Fatalf("record proxy: %v\n%s", err, plog)
	}
	if raw := decompressed(t, out); !strings.Contains(raw, "sid=<redacted:") {
		t.Fatalf("the session cookie is not redacted on disk")
	}

	fresh := cookieServer(t)
	results := filepath.Join(dir, "r.json")
	stdout, stderr, code := command(t, time.Minute, "replay", "run", out, "--target", fresh.URL, "--allow-origin", "-q", "--out", "json="+results)
	if code != 0 {
		t.Fatalf("replay exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Overall struct {
			Requests int64            `json:"requests"`
			Statuses map[string]int64 `json:"statuses"`
		} `json:"overall"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if want := int64(users * (1 + reads)); doc.Overall.Requests != want || doc.Overall.Statuses["200"] != want {
		t.Errorf("%d requests answered %v, want %d answered 200", doc.Overall.Requests, doc.Overall.Statuses, want)
	}
}
