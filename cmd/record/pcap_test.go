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

const capturesDir = "../../internal/capture/testdata/pcap"

func TestPcapCommand(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o600)
	cut := filepath.Join(dir, "cut.pcap")
	full, err := os.ReadFile(filepath.Join(capturesDir, "zeek_http_body_match_chunked_post.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cut, full[:len(full)/2], 0o600)

	tests := []struct {
		name      string
		args      []string
		code      int
		stderr    string
		exchanges int
		ws        int
	}{
		{"pcap with websocket", []string{filepath.Join(capturesDir, "sv_websocket_permessage_deflate.pcap")}, exitOK, "", 0, 1},
		{"pcapng and pcap together", []string{filepath.Join(capturesDir, "zeek_http_dvwa.pcapng"), filepath.Join(capturesDir, "zeek_http_qinq.pcap")}, exitOK, "", 4, 0},
		{"truncated file warns and keeps records", []string{cut}, exitOK, "truncated", -1, 0},
		{"garbage file", []string{garbage}, exitError, "not a pcap or pcapng file", 0, 0},
		{"missing file", []string{filepath.Join(dir, "nope.pcap")}, exitError, "no such file", 0, 0},
		{"no file", nil, exitUsage, "name at least one capture file", 0, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out"+string(rune('a'+i))+".rpz")
			var stdout, stderr bytes.Buffer
			args := append([]string{"record", "pcap", "--out", out}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.stderr != "" && !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.stderr)
			}
			if code != exitOK {
				if _, err := os.Stat(out); err == nil {
					t.Errorf("failed import left %s behind", out)
				}
				if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n != 0 {
					t.Errorf("error is %d lines, want one: %s", n+1, stderr.String())
				}
				return
			}
			r, err := corpus.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h := r.Header()
			if h.Source != "pcap" || h.ClockOrigin.IsZero() {
				t.Errorf("header source %q origin %v", h.Source, h.ClockOrigin)
			}
			recs, err := traffic.ReadAll(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			col := traffic.Collect(recs)
			if tc.exchanges >= 0 && len(col.Exchanges) != tc.exchanges {
				t.Errorf("got %d exchanges, want %d", len(col.Exchanges), tc.exchanges)
			}
			if tc.exchanges < 0 && len(col.Exchanges) == 0 {
				t.Errorf("no exchange kept from the truncated capture")
			}
			if len(col.WS) != tc.ws {
				t.Errorf("got %d websocket connections, want %d", len(col.WS), tc.ws)
			}
			for i := 1; i < len(recs); i++ {
				if recs[i].Start() < recs[i-1].Start() {
					t.Errorf("record %d starts before the previous one", i)
				}
			}
		})
	}
}

func TestSniffCommandUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no port or filter", []string{"-i", "lo", "-o", "x.rpz"}, "give --port or --filter"},
		{"unsupported filter", []string{"-i", "lo", "-o", "x.rpz", "--filter", "udp port 53"}, "not supported"},
		{"bad port", []string{"-i", "lo", "-o", "x.rpz", "-p", "70000"}, "not a TCP port"},
		{"bad ring", []string{"-i", "lo", "-o", "x.rpz", "-p", "80", "--ring-mb", "3"}, "multiple of 4"},
		{"unknown flag", []string{"-i", "lo", "-o", "x.rpz", "--prot", "80"}, "flag provided but not defined: -prot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"record", "sniff"}, tc.args...), &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", code, stderr.String(), exitUsage, tc.want)
			}
			if n := strings.Count(stderr.String(), "\n"); n != 1 || stdout.Len() != 0 {
				t.Errorf("a bad command line printed %d lines and %d bytes of help, want one line:\n%s%s", n, stdout.Len(), stdout.String(), stderr.String())
			}
		})
	}
}
