package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"

	"github.com/reprise/reprise/internal/replay"
)

var manifestDir = filepath.Join("..", "..", "deploy", "kubernetes")

// decodeManifest decodes one manifest into Kubernetes' own API types as
// the API server's strict field validation does (kubectl apply
// --validate=strict): an unknown or duplicate field, a field in the wrong
// case, a value of the wrong type or an unknown apiVersion or kind is an
// error.
func decodeManifest(data []byte) (runtime.Object, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{batchv1.AddToScheme, corev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	obj, _, err := dec.Decode(data, nil, nil)
	return obj, err
}

func readManifest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifestDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeJob decodes a manifest that must be a Job with one container.
func decodeJob(t *testing.T, name string, data []byte) *batchv1.Job {
	t.Helper()
	obj, err := decodeManifest(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	j, ok := obj.(*batchv1.Job)
	if !ok || len(j.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %T, not a Job with one container", name, obj)
	}
	return j
}

// Every manifest in deploy/kubernetes decodes strictly into the API type
// of its kind, and a typo in one does not.
func TestManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("manifests %v (%v): want the replay Job, the merge Job and the volume", files, err)
	}
	want := map[string]string{
		"replay-job.yaml": "*v1.Job",
		"merge-job.yaml":  "*v1.Job",
		"volume.yaml":     "*v1.PersistentVolumeClaim",
	}
	for _, f := range files {
		name := filepath.Base(f)
		obj, err := decodeManifest(readManifest(t, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", obj); want[name] != "" && got != want[name] {
			t.Errorf("%s decodes to %s, want %s", name, got, want[name])
		}
	}
	good := string(readManifest(t, "replay-job.yaml"))
	for _, tc := range []struct{ name, from, to string }{
		{"unknown field", "completionMode:", "completionMod:"},
		{"field in the wrong case", "restartPolicy:", "restartpolicy:"},
		{"nested unknown field", "secretKeyRef:", "secretRef:"},
		{"wrong value type", "completions: 4", `completions: "4"`},
		{"unknown apiVersion", "apiVersion: batch/v1", "apiVersion: batch/v2"},
		{"duplicate field", "  backoffLimit: 0\n", "  backoffLimit: 0\n  backoffLimit: 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.from, tc.to, 1)
			if bad == good {
				t.Fatalf("replay-job.yaml has no %q to change", tc.from)
			}
			_, err := decodeManifest([]byte(bad))
			if err == nil {
				t.Fatalf("%q changed to %q decodes without error", tc.from, tc.to)
			}
			t.Log(err)
		})
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// The manifests agree with each other: the replay Job is an Indexed Job
// whose shard count is its completions and parallelism, every $(VAR) its
// arguments use is defined (Kubernetes leaves an undefined one as it is),
// its shards share a --start-at, and its volume is the claim volume.yaml
// makes.
func TestManifestsAgree(t *testing.T) {
	replayJob := decodeJob(t, "replay-job.yaml", readManifest(t, "replay-job.yaml"))
	mergeJob := decodeJob(t, "merge-job.yaml", readManifest(t, "merge-job.yaml"))
	pvcObj, err := decodeManifest(readManifest(t, "volume.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	claim := pvcObj.(*corev1.PersistentVolumeClaim).Name

	spec := replayJob.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion ||
		spec.Completions == nil || spec.Parallelism == nil || *spec.Completions < 2 || *spec.Parallelism != *spec.Completions {
		t.Fatalf("replay Job: mode %v, completions %v, parallelism %v: want an Indexed Job running every shard at once",
			spec.CompletionMode, spec.Completions, spec.Parallelism)
	}
	shards := int(*spec.Completions)
	c := spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "--shard auto/"+strconv.Itoa(shards)) {
		t.Errorf("replay Job args %q do not shard by the completion index into %d", c.Args, shards)
	}
	if !strings.Contains(args, "--start-at $(START_AT)") {
		t.Errorf("replay Job args %q do not start the shards together (--start-at $(START_AT))", c.Args)
	}
	for _, j := range []*batchv1.Job{replayJob, mergeJob} {
		ps := j.Spec.Template.Spec
		if ps.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q: a shard restarted would replay its part twice", j.Name, ps.RestartPolicy)
		}
		c := ps.Containers[0]
		defined := map[string]bool{}
		if j == replayJob {
			defined["JOB_COMPLETION_INDEX"] = true // set by Kubernetes in an Indexed Job
		}
		for _, e := range c.Env {
			defined[e.Name] = true
		}
		for _, a := range c.Args {
			for _, m := range envRef.FindAllStringSubmatch(a, -1) {
				if !defined[m[1]] {
					t.Errorf("%s: argument %q uses $(%s), which the container does not define", j.Name, a, m[1])
				}
			}
		}
		vols := map[string]string{}
		for _, v := range ps.Volumes {
			if v.PersistentVolumeClaim != nil {
				vols[v.Name] = v.PersistentVolumeClaim.ClaimName
			}
		}
		for _, m := range c.VolumeMounts {
			if vols[m.Name] != claim {
				t.Errorf("%s: volume mount %q is not the claim %q of volume.yaml", j.Name, m.Name, claim)
			}
		}
	}
}

// podEnv is the environment the replay Job's container gets: its env
// values, TARGET pointed at target, and the completion index.
func podEnv(c corev1.Container, target string, index int) map[string]string {
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(index)}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	env["TARGET"] = target
	return env
}

// expandArgs does what the kubelet does to a container's arguments:
// $(VAR) becomes the variable's value; the volume /data/ is dir.
func expandArgs(t *testing.T, args []string, env map[string]string, dir string) []string {
	t.Helper()
	var out []string
	for _, a := range args {
		a = envRef.ReplaceAllStringFunc(a, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := env[name]
			if !ok {
				t.Fatalf("argument %q: $(%s) is not defined", a, name)
			}
			return v
		})
		out = append(out, strings.ReplaceAll(a, "/data/", dir+"/"))
	}
	return out
}

// applyReplay runs apply-replay.sh with lead seconds and a kubectl that
// writes what it is given to apply: the manifest as it reaches the
// cluster.
func applyReplay(t *testing.T, lead string) (manifest []byte, stderr string, err error) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run apply-replay.sh")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "kubectl")
	applied := filepath.Join(dir, "applied.yaml")
	script := "#!/bin/sh\n[ \"$1 $2\" = 'apply -f' ] && [ \"$3\" = - ] || { echo \"kubectl: unexpected $*\" >&2; exit 1; }\ncat > " + applied + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join(manifestDir, "apply-replay.sh"), lead)
	cmd.Env = append(os.Environ(), "KUBECTL="+fake, "KUBECTL_ARGS=")
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Run(); err != nil {
		return nil, errBuf.String(), err
	}
	b, rerr := os.ReadFile(applied)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return b, errBuf.String(), nil
}

// apply-replay.sh refuses a lead that is not a whole number of seconds,
// or one longer than replay accepts, with one line.
func TestApplyReplayRefusesBadLead(t *testing.T) {
	for _, lead := range []string{"2m", "-5", "86401"} {
		_, stderr, err := applyReplay(t, lead)
		if err == nil {
			t.Errorf("lead %q accepted", lead)
			continue
		}
		oneLine(t, stderr, "apply-replay.sh", "lead", lead)
	}
}

// TestPodChild is one pod of TestKubernetesManifests: it runs the replay
// command with the arguments and environment the test gives it, as the
// image's entrypoint would.
func TestPodChild(t *testing.T) {
	args := os.Getenv("REPRISE_POD_ARGS")
	if args == "" {
		t.Skip("a pod of TestKubernetesManifests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, append([]string{"replay"}, strings.Split(args, "\x1f")...), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// The shipped Kubernetes manifests run as written: apply-replay.sh gives
// the replay Job one start time; its pods, each a process of its own with
// its completion index, started one after another as a cluster starts
// them, replay their shards from that one start; and the merge Job's
// command line combines the shards into the run a single replay gives.
func TestKubernetesManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per pod")
	}
	const lead = 3 // seconds: the pods are launched within 0.5 s and read a small corpus
	applied, stderr, err := applyReplay(t, strconv.Itoa(lead))
	if err != nil {
		t.Fatalf("apply-replay.sh: %v: %s", err, stderr)
	}
	now := time.Now()
	replayJob := decodeJob(t, "the applied replay-job.yaml", applied)
	mergeJob := decodeJob(t, "merge-job.yaml", readManifest(t, "merge-job.yaml"))
	c := replayJob.Spec.Template.Spec.Containers[0]
	shards := int(*replayJob.Spec.Completions)

	env := podEnv(c, "", 0)
	startAt, err := time.Parse(time.RFC3339, env["START_AT"])
	if err != nil {
		t.Fatalf("START_AT after apply-replay.sh: %v", err)
	}
	// date +%s truncates: the start is between lead-1 and lead seconds on.
	if d := startAt.Sub(now); d < (lead-2)*time.Second || d > lead*time.Second {
		t.Fatalf("START_AT %s is %s from now, want about %ds", env["START_AT"], d, lead)
	}
	if !strings.Contains(stderr, env["START_AT"]) {
		t.Errorf("apply-replay.sh did not say when the shards start: %q", stderr)
	}

	dir := t.TempDir()
	corpusPath := shardCorpus(t, dir, false)
	if err := os.Rename(corpusPath, filepath.Join(dir, "dev.rpz")); err != nil {
		t.Fatal(err)
	}
	target := shardServer(t, 0)
	type pod struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	pods := make([]*pod, shards)
	for i := range pods {
		// Pods are scheduled and started one after another, not at once.
		time.Sleep(150 * time.Millisecond)
		env := podEnv(c, target, i)
		p := &pod{cmd: exec.Command(os.Args[0], "-test.run=^TestPodChild$")}
		p.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AUTH_TOKEN=") })
		for k, v := range env {
			p.cmd.Env = append(p.cmd.Env, k+"="+v)
		}
		p.cmd.Env = append(p.cmd.Env, "REPRISE_POD_ARGS="+strings.Join(expandArgs(t, c.Args, env, dir), "\x1f"))
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.cmd.Process.Kill() })
		pods[i] = p
	}
	for i, p := range pods {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("pod %d: %v\n%s%s", i, err, p.stdout.String(), p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "waiting until "+replay.FormatStart(startAt)) {
			t.Errorf("pod %d did not say it waits for the start: %q", i, p.stderr.String())
		}
	}
	for i := 0; i < shards; i++ {
		m := readResultsT(t, filepath.Join(dir, "results", fmt.Sprintf("shard-%d.json", i))).Meta
		if !m.StartAt.Equal(startAt) {
			t.Errorf("shard %d: start_at %v, want START_AT %v", i, m.StartAt, startAt)
		}
		if late := m.Start.Sub(startAt); late < 0 || late > 100*time.Millisecond {
			t.Errorf("shard %d started %s after START_AT, want within 100ms", i, late)
		} else {
			t.Logf("shard %d started %s after START_AT", i, late)
		}
	}

	mergeArgs := expandArgs(t, mergeJob.Spec.Template.Spec.Containers[0].Args, nil, dir)
	if n := strings.Count(strings.Join(mergeArgs, " "), "shard-"); n != shards {
		t.Fatalf("merge Job reads %d shards, the replay Job writes %d", n, shards)
	}
	// hap-19 wants 100 concurrent users; this corpus has 12: a breach
	// (exit 99) is the verdict, the merged results are the point.
	if code, _, stderr := runReplay(t, mergeArgs...); code != exitOK && code != exitBreach {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	run := readResultsT(t, filepath.Join(dir, "results", "run.json"))
	if run.Meta.Scheduled != 240 {
		t.Fatalf("merged run scheduled %d events, the corpus has 240", run.Meta.Scheduled)
	}
	if !run.Meta.StartAt.Equal(startAt) {
		t.Errorf("merged run: start_at %v, want %v", run.Meta.StartAt, startAt)
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
