package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestWorkloadAgainstServe runs `replay workload` against `replay serve`.
func TestWorkloadAgainstServe(t *testing.T) {
	base, _, stop := startServe(t, "--listen", "127.0.0.1:0")
	defer stop()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"replay", "workload", "--target", base, "--users", "2", "--ops-per-user", "15",
		"--think-min", "1ms", "--think-max", "5ms", "--seed", "2"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"workload: 2 users", "30 operations", "0 errors, 0 unexpected statuses", "POST /v1/auth", "websocket:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWorkloadRejectsBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"no target", nil, "needs --target"},
		{"remote target", []string{"--target", "http://192.0.2.1:80"}, "not a loopback address"},
		{"not a url", []string{"--target", "127.0.0.1:8787"}, "want http://host:port"},
		{"no users", []string{"--target", "http://127.0.0.1:1", "--users", "0"}, "want at least 1"},
		{"think reversed", []string{"--target", "http://127.0.0.1:1", "--think-min", "1s", "--think-max", "1ms"}, "below --think-min"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"replay", "workload"}, c.args...), &out, &errOut)
			if code != exitUsage || !strings.Contains(errOut.String(), c.msg) || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errOut.String(), exitUsage, c.msg)
			}
		})
	}
	t.Run("unreachable target", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"replay", "workload", "--target", "http://127.0.0.1:1", "--users", "1"}, &out, &errOut)
		if code != exitError || !strings.Contains(errOut.String(), "log in") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
}
