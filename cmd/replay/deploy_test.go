package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// job is the part of a Kubernetes Job manifest the test reads.
type job struct {
	Kind string `yaml:"kind"`
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readJob(t *testing.T, name string) job {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	var j job
	if err := yaml.Unmarshal(b, &j); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if j.Kind != "Job" || len(j.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: not a Job with one container", name)
	}
	return j
}

// The shipped Kubernetes manifests run as written: every pod of the
// Indexed Job replays its shard (its index from JOB_COMPLETION_INDEX, as
// Kubernetes sets it), and the merge Job's command line combines the
// shards into the run a single replay gives.
func TestKubernetesManifests(t *testing.T) {
	replayJob, mergeJob := readJob(t, "replay-job.yaml"), readJob(t, "merge-job.yaml")
	args := replayJob.Spec.Template.Spec.Containers[0].Args
	shards := replayJob.Spec.Completions
	if replayJob.Spec.CompletionMode != "Indexed" || shards < 2 || replayJob.Spec.Parallelism != shards {
		t.Fatalf("replay Job: mode %q, completions %d, parallelism %d", replayJob.Spec.CompletionMode, shards, replayJob.Spec.Parallelism)
	}
	if !strings.Contains(strings.Join(args, " "), "--shard auto/"+strconv.Itoa(shards)) {
		t.Fatalf("replay Job args %q do not shard by the completion index into %d", args, shards)
	}
	dir := t.TempDir()
	corpusPath := shardCorpus(t, dir, false)
	if err := os.Rename(corpusPath, filepath.Join(dir, "dev.rpz")); err != nil {
		t.Fatal(err)
	}
	target := shardServer(t, 0)
	expand := func(a string, index int) string {
		a = strings.ReplaceAll(a, "$(TARGET)", target)
		a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(index))
		return strings.ReplaceAll(a, "/data/", dir+"/")
	}
	for i := 0; i < shards; i++ {
		t.Setenv("JOB_COMPLETION_INDEX", strconv.Itoa(i))
		var podArgs []string
		for _, a := range args {
			podArgs = append(podArgs, expand(a, i))
		}
		if code, _, stderr := runReplay(t, podArgs...); code != exitOK {
			t.Fatalf("pod %d: exit %d: %s", i, code, stderr)
		}
	}
	var mergeArgs []string
	for _, a := range mergeJob.Spec.Template.Spec.Containers[0].Args {
		mergeArgs = append(mergeArgs, expand(a, -1))
	}
	if n := strings.Count(strings.Join(mergeArgs, " "), "shard-"); n != shards {
		t.Fatalf("merge Job reads %d shards, the replay Job writes %d", n, shards)
	}
	// hap-19 wants 100 concurrent users; this corpus has 12: a breach
	// (exit 99) is the verdict, the merged results are the point.
	if code, _, stderr := runReplay(t, mergeArgs...); code != exitOK && code != exitBreach {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Meta struct {
			Scheduled int64 `json:"scheduled"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	if run.Meta.Scheduled != 240 {
		t.Fatalf("merged run scheduled %d events, the corpus has 240", run.Meta.Scheduled)
	}
	if _, err := os.Stat(filepath.Join(dir, "results", "run.html")); err != nil {
		t.Fatal(err)
	}
}

// --shard auto/N outside an Indexed Job is one line, not a guess.
func TestShardAutoNeedsIndex(t *testing.T) {
	t.Setenv("JOB_COMPLETION_INDEX", "") // restored after the test
	os.Unsetenv("JOB_COMPLETION_INDEX")
	dir := t.TempDir()
	code, _, stderr := runReplay(t, "run", smallCorpus(t, dir, 3), "--target", okServer(t), "--shard", "auto/4")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	oneLine(t, stderr, "JOB_COMPLETION_INDEX")
}
