package cliargs

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// Help within HelpWidth columns: long descriptions wrap beside their
// flag, a default shows once and only when it says something, a usage
// that speaks of its default keeps its own words, and the example shows.
func TestSetHelp(t *testing.T) {
	long := strings.Repeat("words that go on ", 20)
	app := &cli.App{
		Name:  "tool",
		Usage: "does things",
		Commands: []*cli.Command{{
			Name:        "go",
			Usage:       "go somewhere",
			ArgsUsage:   "PLACE",
			Description: "First line as written.\n  an indented example line\n" + long,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "speed", Value: "1", Usage: "how fast"},
				&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "say less"},
				&cli.DurationFlag{Name: "wait", Usage: "how long (default 30s unless --now)"},
				&cli.DurationFlag{Name: "grace", Value: 10 * time.Second, Usage: long},
				&cli.StringSliceFlag{Name: "only", Usage: "keep `PATTERN` (repeatable)", EnvVars: []string{"ONLY"}},
				&cli.StringFlag{Name: "a-very-long-flag-name-indeed", Usage: "short"},
			},
			Action: func(*cli.Context) error { return nil },
		}},
	}
	SetHelp(app, map[string]string{"go": "tool go home --speed 2"})
	var out bytes.Buffer
	app.Writer = &out
	if err := app.Run([]string{"tool", "go", "--help"}); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, l := range strings.Split(help, "\n") {
		if utf8.RuneCountInString(l) > HelpWidth {
			t.Errorf("line of %d columns: %q", utf8.RuneCountInString(l), l)
		}
	}
	for _, want := range []string{
		"EXAMPLE:\n   tool go home --speed 2\n",
		"USAGE:\n   tool go [options] PLACE\n",
		"   First line as written.\n     an indented example line\n",
		"   --speed VALUE ", "how fast (default 1)\n",
		"   --quiet, -q ", "say less\n",
		"how long (default 30s unless --now)\n",
		"(default 10s)",
		"   --only PATTERN ", "keep PATTERN (repeatable) [$ONLY]\n",
		"   --a-very-long-flag-name-indeed VALUE\n" + strings.Repeat(" ", 21) + "short\n",
		"   --help, -h ",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "(default: false)") || strings.Contains(help, "(default 0s)") || strings.Count(help, "default") != 3 {
		t.Errorf("defaults shown for nothing or twice:\n%s", help)
	}
	out.Reset()
	if err := app.Run([]string{"tool", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "COMMANDS:\n   go  go somewhere\n") {
		t.Errorf("app help:\n%s", out.String())
	}
}
