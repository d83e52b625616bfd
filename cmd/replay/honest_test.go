package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/reprise/reprise/corpora"
	"github.com/reprise/reprise/internal/cliargs"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/version"
)

// --speed states its range, and keeps "max" for the max-rate mode.
func TestSpeedRange(t *testing.T) {
	c := smallCorpus(t, t.TempDir(), 3)
	target := okServer(t)
	for _, tc := range []struct {
		speed string
		want  []string
	}{
		{"1e9", []string{`--speed "1e9"`, "out of range", "from 0.001 to 1000000"}},
		{"0", []string{"from 0.001 to 1000000"}},
		{"-2", []string{"from 0.001 to 1000000"}},
		{"0.0001", []string{"from 0.001 to 1000000"}},
		{"NaN", []string{"from 0.001 to 1000000"}},
		{"Inf", []string{"from 0.001 to 1000000"}},
		{"fast", []string{`--speed "fast"`, "want a factor from 0.001 to 1000000"}},
	} {
		t.Run(tc.speed, func(t *testing.T) {
			code, stdout, stderr := runReplay(t, "run", c, "--target", target, "--speed", tc.speed)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			oneLine(t, stderr, tc.want...)
		})
	}
	for _, ok := range []string{"1000000", "10x", "0.001"} {
		if v, err := parseSpeed(ok); err != nil || v <= 0 {
			t.Errorf("parseSpeed(%q) = %v, %v", ok, v, err)
		}
	}
}

// A command that does not exist is a bad command line (2), not the
// regression code.
func TestUnknownCommandIsUsage(t *testing.T) {
	code, stdout, stderr := runReplay(t, "frobnicate")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
	}
	oneLine(t, stderr, `unknown command "frobnicate"`, "run, demo", "replay --help")
	if code, _, _ := runReplay(t); code != exitOK {
		t.Errorf("replay alone (help): exit %d", code)
	}
	if code, out, _ := runReplay(t, "help", "merge"); code != exitOK || !strings.Contains(out, "replay merge - ") {
		t.Errorf("replay help merge: exit %d\n%s", code, out)
	}
}

// --version prints the one version string the results documents and
// exported HAR files carry.
func TestVersionEverywhere(t *testing.T) {
	code, stdout, stderr := runReplay(t, "--version")
	if code != exitOK || stdout != version.Tool+"\n" || stderr != "" {
		t.Fatalf("replay --version: exit %d %q %q", code, stdout, stderr)
	}
	dir := t.TempDir()
	results := filepath.Join(dir, "r.json")
	if code, o, e := runReplay(t, "run", smallCorpus(t, dir, 3), "--target", okServer(t), "-q", "--out", "json="+results); code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, o, e)
	}
	if replay.Version != version.Tool {
		t.Errorf("replay.Version %q and version.Tool %q differ", replay.Version, version.Tool)
	}
	if tool := readResultsT(t, results).Meta.Tool; tool+"\n" != stdout {
		t.Errorf("results say tool %q, --version %q", tool, stdout)
	}
	in := filepath.Join(dir, "x.rpz")
	writeExportCorpus(t, in)
	har := filepath.Join(dir, "x.har")
	if code, o, e := runReplay(t, "export", in, "--har", har); code != exitOK {
		t.Fatalf("export: exit %d\n%s%s", code, o, e)
	}
	var doc struct {
		Log struct {
			Creator struct{ Name, Version string } `json:"creator"`
		} `json:"log"`
	}
	if err := json.Unmarshal(mustReadFile(t, har), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Log.Creator.Name + " " + doc.Log.Creator.Version; got+"\n" != stdout {
		t.Errorf("HAR creator %q, --version %q", got, stdout)
	}
}

// Every help text fits in 100 columns, shows each flag once with its
// default once at most, and gives an example whose flags exist.
func TestHelpFitsAndShowsAnExample(t *testing.T) {
	_, top, _ := runReplay(t, "--help")
	checkHelp(t, "replay", top)
	for _, name := range []string{"run", "demo", "inspect", "export", "serve", "workload", "compare", "merge"} {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runReplay(t, name, "--help")
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkHelp(t, name, out)
			if !strings.Contains(out, "\nEXAMPLE:\n   replay "+name+" ") {
				t.Fatalf("no example:\n%s", out)
			}
			checkExample(t, out, examples[name])
		})
	}
}

// checkHelp checks a help text's width and defaults.
func checkHelp(t *testing.T, name, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > cliargs.HelpWidth {
			t.Errorf("%s: line of %d columns: %s", name, n, l)
		}
		if strings.Count(l, "default") > 1 || strings.Contains(l, "(default: false)") || strings.Contains(l, "(default 0s)") {
			t.Errorf("%s: default said twice or for nothing: %s", name, l)
		}
	}
}

// checkExample checks that every flag of the example is one the help lists.
func checkExample(t *testing.T, help, example string) {
	t.Helper()
	for _, f := range strings.Fields(example) {
		if !strings.HasPrefix(f, "--") {
			continue
		}
		f, _, _ = strings.Cut(f, "=")
		if !strings.Contains(help, "\n   "+f+" ") && !strings.Contains(help, "\n   "+f+",") && !strings.Contains(help, ", "+f+" ") {
			t.Errorf("example flag %s is not among the options:\n%s", f, help)
		}
	}
}

// --out is checked before anything is sent: a directory, a path under a
// file, are refused and the target sees no request; a target that does
// not answer leaves no directory behind; a good run makes the directories
// its results need.
func TestOutCheckedBeforeTheRun(t *testing.T) {
	dir := t.TempDir()
	c := smallCorpus(t, dir, 5)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write([]byte(`{}`)) }))
	defer srv.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	for _, tc := range []struct {
		name, out string
		want      []string
	}{
		{"a directory", "json=" + dir, []string{dir + " is a directory", "give a file in it, such as " + filepath.Join(dir, "results.json")}},
		{"a directory, slash", "html=" + dir + "/", []string{"is a directory"}},
		{"under a file", "json=" + filepath.Join(file, "sub", "r.json"), []string{file + " is not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runReplay(t, "run", c, "--target", srv.URL, "-q", "--out", tc.out)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			oneLine(t, stderr, append([]string{"--out " + tc.out}, tc.want...)...)
		})
	}
	if fi, err := os.Stat("/proc/self"); err == nil && fi.IsDir() {
		// a directory no one can write in, root included
		code, _, stderr := runReplay(t, "run", c, "--target", srv.URL, "-q", "--out", "json=/proc/reprise-results/r.json")
		if code != exitUsage {
			t.Fatalf("unwritable: exit %d: %s", code, stderr)
		}
		oneLine(t, stderr, "--out json=/proc/reprise-results/r.json: cannot write in /proc")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the target got %d requests before --out was refused", n)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	made := filepath.Join(dir, "made")
	code, _, stderr := runReplay(t, "run", c, "--target", dead, "-q", "--out", "json="+filepath.Join(made, "deep", "r.json"))
	if code != exitError {
		t.Fatalf("unreachable target: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(made); err == nil {
		t.Errorf("an unreachable target left %s behind", made)
	}
	code, _, stderr = runReplay(t, "run", c, "--target", srv.URL, "-q", "--out", "json="+filepath.Join(made, "deep", "r.json"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	readResultsT(t, filepath.Join(made, "deep", "r.json"))
}

// A target spelled localhost is the recorded origin 127.0.0.1 on the
// same port.
func TestOriginByResolvedHost(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	path := filepath.Join(t.TempDir(), "local.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://127.0.0.1:" + port})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(context.Background(), traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "f",
		Request: traffic.Request{Method: "GET", URL: "/x"}, Response: &traffic.Response{Status: 200}}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runReplay(t, "run", path, "--target", "http://localhost:"+port, "-q")
	if code != exitError {
		t.Fatalf("exit %d, want %d: %s", code, exitError, stderr)
	}
	oneLine(t, stderr, "recorded origin http://127.0.0.1:"+port, "--allow-origin")
	if hits.Load() != 0 {
		t.Error("the recorded origin got requests")
	}
}

// A corpus whose recorder has not closed it is NAME.partial: asking for
// NAME says so and how to read it.
func TestInspectPartialCorpusHint(t *testing.T) {
	dir := t.TempDir()
	good := smallCorpus(t, dir, 200, corpus.WithBlockSize(1024))
	data := mustReadFile(t, good)
	name := filepath.Join(dir, "live.rpz")
	if err := os.WriteFile(name+".partial", data[:len(data)*3/4], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"inspect", name}, {"run", name, "--target", okServer(t), "-q"}, {"export", name, "--har", filepath.Join(dir, "x.har")}} {
		code, _, stderr := runReplay(t, args...)
		if code != exitError {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		oneLine(t, stderr, "live.rpz does not exist, but", "live.rpz.partial does", "still running", "killed", "replay inspect "+name+".partial")
	}
	code, stdout, stderr := runReplay(t, "inspect", name+".partial")
	if code != exitOK || !strings.Contains(stdout, "tail cut") {
		t.Errorf("inspect of the .partial file: exit %d\n%s%s", code, stdout, stderr)
	}
	// with no .partial either, the plain error stays
	code, _, stderr = runReplay(t, "inspect", filepath.Join(dir, "nope.rpz"))
	if code != exitError || strings.Contains(stderr, "partial") {
		t.Errorf("missing corpus: exit %d: %s", code, stderr)
	}
}

// Replayed against a server that takes no WebSocket, the shipped
// corpus's sockets are attempts: none opened, and the report says so.
func TestReportWSAttemptsNotSessions(t *testing.T) {
	dir := t.TempDir()
	c := happyCorpus(t, dir)
	results := filepath.Join(dir, "r.json")
	code, stdout, stderr := runReplay(t, "run", c, "--target", okServer(t), "--speed", "100", "-q", "--only", "WS /v1/updates", "--out", "json="+results)
	if code != exitError && code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	w := readResultsT(t, results).Overall.WS
	if w == nil || w.Connects == 0 || w.Sessions != 0 {
		t.Fatalf("ws %+v: want attempts and no sessions", w)
	}
	want := fmt.Sprintf("ws_sessions....................: 0 0.00/s opened, of %d attempted", w.Connects)
	if !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
		t.Errorf("summary lacks %q:\n%s", want, stdout)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(b)
}

// happyCorpus writes the shipped corpus (two minutes of six users) to dir.
func happyCorpus(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, corpora.HappyDevName)
	if err := os.WriteFile(path, corpora.HappyDev, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
