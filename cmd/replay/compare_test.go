package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Replaying one corpus against a release and against one whose GET
// /v1/sessions is 200 ms slower (beyond what a loaded machine adds to a
// run): compare names that endpoint and exits 3; a run compared with
// itself is unchanged. (Other endpoints are not asserted unchanged: on a
// loaded machine two runs can truly differ.)
func TestCompareReleases(t *testing.T) {
	dir := t.TempDir()
	c := shardCorpus(t, dir, true)
	run := func(target, out string) {
		t.Helper()
		if code, stdout, stderr := runReplay(t, "run", c, "--target", target, "--speed", "10", "--no-correlate", "-q", "--out", "json="+out); code != exitOK {
			t.Fatalf("replay: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	run(shardServer(t, 0), a)
	run(shardServer(t, 200*time.Millisecond), b)

	out := filepath.Join(dir, "cmp.json")
	code, stdout, stderr := runReplay(t, "compare", a, b, "--out", "json="+out)
	if code != exitRegression {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitRegression, stdout, stderr)
	}
	oneLine(t, stderr, "regression")
	regressions := stdout[strings.Index(stdout, "regressions ("):]
	if i := strings.Index(regressions, "\n\n"); i > 0 {
		regressions = regressions[:i]
	}
	// the count said at the end is the number of rows shown
	rows := 0
	for _, l := range strings.Split(regressions, "\n")[2:] {
		if strings.HasSuffix(l, "<0.0001") || regexp.MustCompile(`\d\.\d{4}$`).MatchString(l) {
			rows++
		}
	}
	if want := fmt.Sprintf("replay: %d regressions found", rows); rows < 2 || !strings.HasPrefix(stderr, want) {
		t.Errorf("the table shows %d rows, stderr says %q", rows, stderr)
	}
	if !strings.HasPrefix(regressions, fmt.Sprintf("regressions (%d)\n", rows)) {
		t.Errorf("the section title does not count its %d rows:\n%s", rows, regressions)
	}
	if !strings.Contains(regressions, "GET /v1/sessions  ") || !strings.Contains(regressions, "latency p50") {
		t.Errorf("regressions do not name GET /v1/sessions latency:\n%s", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format  string `json:"format"`
		Verdict string `json:"verdict"`
		A       struct {
			File string `json:"file"`
		} `json:"a"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Format != "reprise-compare" || doc.Verdict != "regression" || doc.A.File != a {
		t.Errorf("comparison document %+v, %v", doc, err)
	}

	if code, stdout, _ := runReplay(t, "compare", a, b, "--fail-on", "never"); code != exitOK || !strings.Contains(stdout, "verdict: REGRESSION") {
		t.Errorf("--fail-on never: exit %d\n%s", code, stdout)
	}
	if code, stdout, stderr := runReplay(t, "compare", a, a); code != exitOK || !strings.Contains(stdout, "verdict: UNCHANGED") || stderr != "" {
		t.Errorf("a run against itself: exit %d\n%s%s", code, stdout, stderr)
	}
	// a rule loose enough lets the slower endpoint pass
	if code, stdout, _ := runReplay(t, "compare", a, b, "--threshold-delta", "GET /v1/sessions: p50>+1s", "--threshold-delta", "GET /v1/sessions: p95>+1s",
		"--threshold-delta", "GET /v1/sessions: p90>+1s", "--threshold-delta", "GET /v1/sessions: mean>+1s", "--threshold-delta", "p99>+1s"); strings.Contains(stdout, "GET /v1/sessions  latency p50") {
		t.Errorf("rules did not decide: exit %d\n%s", code, stdout)
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	c := shardCorpus(t, dir, false)
	a := filepath.Join(dir, "a.json")
	if code, o, e := runReplay(t, "run", c, "--target", shardServer(t, 0), "--speed", "20", "--no-correlate", "-q", "--out", "json="+a); code != exitOK {
		t.Fatalf("replay: exit %d\n%s%s", code, o, e)
	}
	notJSON := filepath.Join(dir, "n.json")
	os.WriteFile(notJSON, []byte("GET / HTTP/1.1\r\n"), 0o600)
	future := filepath.Join(dir, "f.json")
	data, _ := os.ReadFile(a)
	os.WriteFile(future, []byte(strings.Replace(string(data), `"version": 1`, `"version": 9`, 1)), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"one file", []string{"compare", a}, exitUsage, []string{"two results files"}},
		{"three files", []string{"compare", a, a, a}, exitUsage, []string{"two results files"}},
		{"missing", []string{"compare", a, filepath.Join(dir, "nope.json")}, exitError, []string{"nope.json"}},
		{"not json", []string{"compare", notJSON, a}, exitError, []string{"n.json"}},
		{"future version", []string{"compare", a, future}, exitError, []string{"f.json", "version 9"}},
		{"bad alpha", []string{"compare", a, a, "--alpha", "2"}, exitUsage, []string{"--alpha"}},
		{"bad min change", []string{"compare", a, a, "--min-change", "lots"}, exitUsage, []string{"--min-change"}},
		{"bad fail-on", []string{"compare", a, a, "--fail-on", "sometimes"}, exitUsage, []string{"--fail-on"}},
		{"bad rule", []string{"compare", a, a, "--threshold-delta", "p95>-10%"}, exitUsage, []string{"--threshold-delta", "plus sign"}},
		{"unknown endpoint", []string{"compare", a, a, "--threshold-delta", "GET /nope: p95>+10%"}, exitUsage, []string{"GET /nope", "known:"}},
		{"bad out", []string{"compare", a, a, "--out", "csv=x"}, exitUsage, []string{"--out", "known: json, html"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReplay(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			oneLine(t, stderr, tc.want...)
		})
	}
}
