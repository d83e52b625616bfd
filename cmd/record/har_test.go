package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

func runRecord(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"record"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRecordHAR(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ws.rpz")
	code, stdout, stderr := runRecord(t, "har", "../../har/testdata/mitmproxy_websocket.har", "../../har/testdata/playwright_unstable_network.har", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "read 5 entries from 2 file(s): 2 exchanges, 3 websocket connections (5 messages), 0 skipped -> " + out
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	r, err := corpus.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); h.Source != "har" || h.Meta["har.files"] != "mitmproxy_websocket.har,playwright_unstable_network.har" {
		t.Errorf("header = %+v", h)
	}
	recs, err := traffic.ReadAll(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	c := traffic.Collect(recs)
	if len(c.Exchanges) != 2 || len(c.WS) != 3 {
		t.Fatalf("corpus has %d exchanges and %d websockets", len(c.Exchanges), len(c.WS))
	}
	failed := 0
	for _, x := range c.Exchanges {
		if x.Response == nil && x.Has(traffic.FlagNoResponse) && x.Error == "har: no response (status -1)" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("want the status -1 entry as one failed exchange, got %+v", c.Exchanges)
	}
}

func TestRecordHARFilters(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f.rpz")
	code, stdout, stderr := runRecord(t, "har", "--out", out, "--host", "localhost", "--path-prefix", "/api", "../../har/testdata/mitmproxy_websocket.har", "../../har/testdata/playwright_unstable_network.har")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "2 exchanges, 0 websocket connections (0 messages), 0 skipped, 3 filtered out") {
		t.Errorf("stdout = %q", stdout)
	}
	code, _, stderr = runRecord(t, "har", "--out", filepath.Join(dir, "none.rpz"), "--host", "nowhere.example", "../../har/testdata/playwright_unstable_network.har")
	if code != 1 || !strings.Contains(stderr, "nothing imported") {
		t.Errorf("filtering everything out: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.rpz")); err == nil {
		t.Error("an empty corpus was left behind")
	}
}

func TestRecordHARErrors(t *testing.T) {
	dir := t.TempDir()
	notHAR := filepath.Join(dir, "page.html")
	os.WriteFile(notHAR, []byte("<html></html>"), 0o600)
	badVersion := filepath.Join(dir, "v2.har")
	os.WriteFile(badVersion, []byte(`{"log":{"version":"2.0","creator":{"name":"x","version":"1"},"entries":[]}}`), 0o600)
	skips := filepath.Join(dir, "skips.har")
	os.WriteFile(skips, []byte(`{"log":{"version":"1.2","entries":[
		{"startedDateTime":"2024-01-01T00:00:00Z","request":{"method":"GET","url":"http://a/x"},"response":{"status":200}},
		{"startedDateTime":"2024-01-01T00:00:01Z","request":{"method":"GET","url":"data:text/plain,hi"},"response":{"status":200}},
		{"startedDateTime":"bad","request":{"method":"GET","url":"http://a/y"},"response":{"status":200}},
		7
	]}}`), 0o600)
	existing := filepath.Join(dir, "exists.rpz")
	os.WriteFile(existing, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr, or stdout for code 0
	}{
		{"no files", []string{"har", "--out", filepath.Join(dir, "a.rpz")}, 2, "name at least one HAR file"},
		{"no out", []string{"har", skips}, 2, "--out CORPUS is required"},
		{"missing file", []string{"har", "--out", filepath.Join(dir, "b.rpz"), filepath.Join(dir, "nope.har")}, 1, "no such file"},
		{"not a HAR", []string{"har", "--out", filepath.Join(dir, "c.rpz"), notHAR}, 1, "page.html: not a HAR file: not JSON or not an object: starts with '<'"},
		{"wrong version", []string{"har", "--out", filepath.Join(dir, "d.rpz"), badVersion}, 1, `unsupported HAR version "2.0"`},
		{"existing corpus", []string{"har", "--out", existing, skips}, 1, "already exists"},
		{"bad max-body", []string{"har", "--out", filepath.Join(dir, "e.rpz"), "--max-body", "0", skips}, 2, "--max-body"},
		{"skips reported", []string{"har", "--out", filepath.Join(dir, "f.rpz"), skips}, 0,
			"read 4 entries from 1 file(s): 1 exchanges, 0 websocket connections (0 messages), 3 skipped -> " + filepath.Join(dir, "f.rpz") + "\n" +
				"  skipped skips.har: entry 1 (data:text/plain,hi): url scheme \"data\" is not http, https, ws or wss (nothing to replay)\n" +
				"  skipped skips.har: entry 2 (http://a/y): startedDateTime \"bad\" is not an ISO 8601 date-time\n" +
				"  skipped skips.har: entry 3: entry is not a JSON object\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runRecord(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, stdout, stderr)
			}
			got := stderr
			if code == 0 {
				got = stdout
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("output %q does not contain %q", got, tc.want)
			}
		})
	}
}
