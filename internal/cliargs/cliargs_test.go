package cliargs

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestPermute(t *testing.T) {
	cmds := []*cli.Command{{Name: "run", Flags: []cli.Flag{
		&cli.StringFlag{Name: "target"}, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}}, &cli.StringSliceFlag{Name: "threshold"},
	}}}
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after the corpus", []string{"replay", "run", "c.rpz", "--target", "http://x", "-q"}, []string{"replay", "run", "--target", "http://x", "-q", "--", "c.rpz"}},
		{"equals form", []string{"replay", "run", "c.rpz", "--target=http://x"}, []string{"replay", "run", "--target=http://x", "--", "c.rpz"}},
		{"value that looks like an argument", []string{"replay", "run", "--threshold", "p95<1s", "c.rpz"}, []string{"replay", "run", "--threshold", "p95<1s", "--", "c.rpz"}},
		{"double dash keeps the rest", []string{"replay", "run", "--", "-weird.rpz"}, []string{"replay", "run", "--", "-weird.rpz"}},
		{"unknown command untouched", []string{"replay", "nope", "x", "--y"}, []string{"replay", "nope", "x", "--y"}},
		{"no arguments", []string{"replay", "run", "--target", "u"}, []string{"replay", "run", "--target", "u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Permute(cmds, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
