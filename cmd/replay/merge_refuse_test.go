package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// merge takes the shards of one run and nothing else: a file or a run
// given twice, a whole run, a merge, and shards of another corpus are
// each refused with one line naming the files and what to do; --force
// adds up other corpora; an interrupted shard makes the merge partial,
// said first and in its results.
func TestMergeRefusesWhatIsNotOneRun(t *testing.T) {
	dir := t.TempDir()
	c1 := shardCorpus(t, filepath.Join(dir), false)
	otherDir := filepath.Join(dir, "other")
	if err := os.Mkdir(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c2 := shardCorpus(t, otherDir, false) // the same traffic, recorded again
	target := shardServer(t, 0)
	replayTo := func(corpus, out string, extra ...string) {
		t.Helper()
		args := append([]string{"run", corpus, "--target", target, "--speed", "10", "--no-correlate", "-q", "--out", "json=" + out}, extra...)
		if code, stdout, stderr := runReplay(t, args...); code != exitOK {
			t.Fatalf("replay %v: exit %d\n%s%s", extra, code, stdout, stderr)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	replayTo(c1, p("s0.json"), "--shard", "0/2")
	replayTo(c1, p("s1.json"), "--shard", "1/2")
	replayTo(c1, p("whole.json"))
	replayTo(c2, p("other-s1.json"), "--shard", "1/2")
	copyFile(t, p("s0.json"), p("s0-copy.json"))
	if err := os.Symlink(p("s0.json"), p("s0-link.json")); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runReplay(t, "merge", p("s0.json"), p("s1.json"), "--out", "json="+p("merged.json")); code != exitOK {
		t.Fatalf("merge of the two shards: exit %d\n%s%s", code, stdout, stderr)
	}

	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"same file twice", []string{"s0.json", "s1.json", "s0.json"}, []string{"s0.json is given twice", "give each shard's results once"}},
		{"same whole run twice", []string{"whole.json", "whole.json"}, []string{"whole.json is given twice"}},
		{"one file under two names", []string{"s0.json", "s0-link.json"}, []string{"s0.json and", "s0-link.json are the same file"}},
		{"same run in two files", []string{"s0.json", "s1.json", "s0-copy.json"}, []string{"s0.json and", "s0-copy.json hold the same run (run id "}},
		{"a whole run", []string{"whole.json"}, []string{"whole.json is a whole run, not a shard", "replay run --shard i/N", "replay compare"}},
		{"a whole run with shards", []string{"s0.json", "whole.json"}, []string{"whole.json is a whole run, not a shard"}},
		{"a merge with a shard", []string{"merged.json", "s1.json"}, []string{"merged.json is a merge of 2 shards, not a shard"}},
		{"another corpus", []string{"s0.json", "other-s1.json"}, []string{"s0.json and", "other-s1.json replayed different corpora", "sha256:", "--force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"merge"}
			for _, f := range tc.files {
				args = append(args, p(f))
			}
			code, stdout, stderr := runReplay(t, args...)
			if code != exitError {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitError, stdout, stderr)
			}
			oneLine(t, stderr, tc.want...)
			if stdout != "" {
				t.Errorf("a refused merge printed a summary:\n%s", stdout)
			}
		})
	}

	// --force adds up shards of other corpora, and says so
	code, stdout, stderr := runReplay(t, "merge", p("s0.json"), p("other-s1.json"), "--force")
	if code != exitOK || !strings.Contains(stdout, "replayed different corpora") || !strings.Contains(stdout, "added up as --force asked") {
		t.Errorf("--force: exit %d\n%s%s", code, stdout, stderr)
	}

	// a shard interrupted a third of the way makes the merged run partial
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, []string{"replay", "run", c1, "--target", target, "--speed", "1", "--no-correlate", "-q", "--shard", "1/2",
		"--out", "json=" + p("s1-cut.json")}, &out, &errOut)
	if code != exitInterrupted {
		t.Fatalf("interrupted shard: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	code, stdout, stderr = runReplay(t, "merge", p("s0.json"), p("s1-cut.json"), "--out", "json="+p("partial.json"))
	if code != exitOK {
		t.Fatalf("merge with an interrupted shard: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := firstLine(stdout); !strings.HasPrefix(got, "INTERRUPTED (shard 1/2) after ") {
		t.Errorf("merged summary's first line: %q", got)
	}
	if !strings.Contains(stdout, "s1-cut.json (shard 1/2) is partial: interrupted after") {
		t.Errorf("merge does not name the interrupted shard:\n%s", stdout)
	}
	doc := readResultsT(t, p("partial.json"))
	if in := doc.Meta.Interrupted; in == nil || len(in.Shards) != 1 || in.Shards[0] != "1/2" {
		t.Errorf("merged results' interruption %+v", in)
	}
	if id := doc.Meta.RunID; id == "" || id == readResultsT(t, p("s0.json")).Meta.RunID {
		t.Errorf("merged run id %q: want one of its own", id)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func firstLine(out string) string {
	return strings.TrimSpace(strings.SplitN(strings.TrimLeft(out, "\n"), "\n", 2)[0])
}
