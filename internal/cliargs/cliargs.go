// Package cliargs lets the commands take flags after their positional
// arguments ("replay run CORPUS --target URL"), which urfave/cli/v2 does
// not: it stops parsing flags at the first argument.
package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Permute rewrites a full command line (program, subcommand, ...) so that
// the subcommand's flags come before its positional arguments. Arguments
// after "--" stay positional. Unknown subcommands are left as they are.
func Permute(cmds []*cli.Command, args []string) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	for _, c := range cmds {
		if c.HasName(args[1]) {
			cmd = c
			break
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// IsFlagError recognises the command-line errors urfave/cli reports
// without going through OnUsageError (unknown or missing flags), which
// deserve the usage exit code.
func IsFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined", "Required flag", "Required flags", "invalid value", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// OnUsageError makes every command (and subcommand) of cmds hand a bad
// command line to handle instead of printing its whole help: the caller
// prints one line naming the problem (and "--help" shows the help).
func OnUsageError(cmds []*cli.Command, handle cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = handle
		OnUsageError(c.Subcommands, handle)
	}
}
