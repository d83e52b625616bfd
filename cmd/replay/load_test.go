package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func countingServer(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestRunLoadFlags(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 5) // one flow, 5 requests over 40ms
	tokenFile := filepath.Join(dir, "tokens.txt")
	os.WriteFile(tokenFile, []byte("# staging accounts\ntok-1\ntok-2\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		requests int64
		say      []string
	}{
		{"multiply", []string{"--multiply", "3", "--stagger", "30ms"}, 15, []string{"3 copies at once = 3 users, 3 flows", "copy k starts k x 10ms after it becomes active", "copies: 3"}},
		// one recorded user, no duration: each VU replays it once
		{"users on a one-user corpus", []string{"--users", "2", "--stagger", "0"}, 10, []string{"2 virtual users (--users)", "2 VUs at once",
			"no --duration: 2 iterations", "iterations", "vus_max"}},
		// 2 VUs for 450ms, iterations of 41ms (the user's 40ms and the
		// 1ms minimum): 10 whole ones each, the 11th (at 410ms) cut
		// after its records at 410-440ms
		{"stages", []string{"--stages", "0s:2,450ms:2", "--loop", "--stagger", "0"}, 108, []string{"stages in VUs: 0s jump to 2, 450ms hold 2",
			"--loop is implied", "ends with the stages, after 450ms"}},
		{"token pool", []string{"--multiply", "2", "--auth-tokens", "TOKENS"}, 10, []string{"2 copies at once"}},
		// 1 VU for 300ms: 7 whole iterations of 41ms, the 8th (at 287ms)
		// cut after its records at 287 and 297ms
		{"profile cut by duration", []string{"--profile", "smoke", "--duration", "300ms"}, 37, []string{"profile smoke (quick validation: 1 VU for 30s), 30s",
			"ends after 300ms: iterations still running then are cut"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, n := countingServer(t)
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "TOKENS" {
					args[i] = tokenFile
				}
			}
			code, stdout, stderr := runReplay(t, append([]string{"run", good, "--target", target, "-q"}, args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if n.Load() != tc.requests {
				t.Errorf("server saw %d requests, want %d", n.Load(), tc.requests)
			}
			if !regexp.MustCompile(`http_reqs\.+: ` + strconv.FormatInt(tc.requests, 10) + ` `).MatchString(stdout) {
				t.Errorf("summary does not count %d requests:\n%s", tc.requests, stdout)
			}
			for _, s := range tc.say {
				if !strings.Contains(stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, stdout)
				}
			}
		})
	}
}

func TestRunLoadBadInput(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 5)
	tokens, empty := filepath.Join(dir, "tokens.txt"), filepath.Join(dir, "empty.txt")
	os.WriteFile(tokens, []byte("a\nb\n"), 0o600)
	os.WriteFile(empty, []byte("# no tokens yet\n\n"), 0o600)
	target := okServer(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"negative multiply", []string{"--multiply", "-1"}, []string{"must not be negative"}},
		{"multiply and users", []string{"--multiply", "2", "--users", "3"}, []string{"give one of --multiply, --users, --profile"}},
		{"profile and stages", []string{"--profile", "smoke", "--stages", "1s:1"}, []string{"give one of"}},
		{"unknown profile", []string{"--profile", "soak"}, []string{`unknown profile "soak"`, "smoke, average, stress, spike, endurance"}},
		{"bad stages", []string{"--stages", "30s:1,1x:2"}, []string{"--stages", `stage 2 "1x:2"`}},
		{"stages never start a VU", []string{"--stages", "5s:0"}, []string{"never ask for a virtual user"}},
		{"negative graceful ramp-down", []string{"--users", "2", "--graceful-ramp-down", "-1s"}, []string{"--graceful-ramp-down"}},
		{"loop without an end", []string{"--loop"}, []string{"--loop", "--duration"}},
		{"negative stagger", []string{"--multiply", "2", "--stagger", "-1s"}, []string{"--stagger"}},
		{"too many copies", []string{"--multiply", "1000000"}, []string{"at most 100000"}},
		{"token file missing", []string{"--auth-tokens", "/nonexistent/tokens.txt"}, []string{"--auth-tokens", "no such file"}},
		{"token file and token", []string{"--auth-tokens", tokens, "--auth-token", "x"}, []string{"exclusive"}},
		{"empty token file", []string{"--auth-tokens", empty}, []string{"no tokens"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReplay(t, append([]string{"run", good, "--target", target}, tc.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			oneLine(t, stderr, tc.want...)
		})
	}
}
