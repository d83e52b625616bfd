package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/cliargs"
	"github.com/reprise/reprise/internal/version"
)

// record --version prints the version string replay prints and writes in
// results and HAR files.
func TestVersion(t *testing.T) {
	code, stdout, stderr := runRecord(t, "--version")
	if code != exitOK || stdout != version.Tool+"\n" || stderr != "" {
		t.Fatalf("record --version: exit %d %q %q", code, stdout, stderr)
	}
}

// An unknown command is a bad command line: exit 2 and one line.
func TestUnknownCommand(t *testing.T) {
	code, _, stderr := runRecord(t, "frobnicate")
	if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `unknown command "frobnicate"`) || !strings.Contains(stderr, "proxy, sniff, pcap, har") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// Help fits in 100 columns and gives each command an example whose
// flags exist.
func TestHelp(t *testing.T) {
	for _, name := range []string{"", "proxy", "sniff", "pcap", "har"} {
		args := []string{"--help"}
		if name != "" {
			args = []string{name, "--help"}
		}
		code, out, stderr := runRecord(t, args...)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s --help: exit %d %s", name, code, stderr)
		}
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > cliargs.HelpWidth {
				t.Errorf("%s: line of %d columns: %s", name, n, l)
			}
			if strings.Count(l, "default") > 1 || strings.Contains(l, "(default: false)") {
				t.Errorf("%s: default said twice or for nothing: %s", name, l)
			}
		}
		if name == "" {
			continue
		}
		if !strings.Contains(out, "\nEXAMPLE:\n   record "+name+" ") {
			t.Errorf("%s: no example:\n%s", name, out)
		}
		for _, f := range strings.Fields(examples[name]) {
			if f, _, _ = strings.Cut(f, "="); strings.HasPrefix(f, "--") &&
				!strings.Contains(out, "\n   "+f+" ") && !strings.Contains(out, "\n   "+f+",") && !strings.Contains(out, ", "+f+" ") {
				t.Errorf("%s: example flag %s is not an option", name, f)
			}
		}
	}
}
