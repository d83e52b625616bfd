package cliargs

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// HelpWidth is the width SetHelp keeps help text within.
const HelpWidth = 100

// flagColumn bounds the column where flag descriptions start; a longer
// flag spelling puts its description on the next line.
const flagColumn = 30

// SetHelp renders the help of app and of each of its commands within
// HelpWidth columns and installs it (as a template that prints the text
// as is): descriptions are wrapped, each flag is shown once with its
// description beside it, its default only when it has one worth saying
// and the description does not already say it, and each command shows
// examples[name] under EXAMPLE. Call it once the commands and their flags
// are complete.
func SetHelp(app *cli.App, examples map[string]string) {
	app.CustomAppHelpTemplate = literal(appHelp(app))
	for _, c := range app.Commands {
		c.CustomHelpTemplate = literal(commandHelp(app.Name, c, examples[c.Name]))
	}
}

// literal is a text/template that prints s verbatim.
func literal(s string) string { return "{{" + strconv.Quote(s) + "}}" }

func appHelp(app *cli.App) string {
	var b strings.Builder
	b.WriteString("NAME:\n")
	wrapTo(&b, app.Name+" - "+app.Usage, "   ", "     ")
	b.WriteString("\nUSAGE:\n")
	wrapTo(&b, app.Name+" COMMAND [options] [arguments...]", "   ", "     ")
	if app.Description != "" {
		b.WriteString("\nDESCRIPTION:\n")
		description(&b, app.Description)
	}
	b.WriteString("\nCOMMANDS:\n")
	w := 0
	for _, c := range app.Commands {
		if !c.Hidden {
			w = max(w, len(c.Name))
		}
	}
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		column(&b, c.Name, c.Usage, 3+w+2)
	}
	b.WriteString("\nGLOBAL OPTIONS:\n")
	var fs []cli.Flag
	fs = append(fs, app.Flags...)
	fs = append(fs, helpFlag())
	flagLines(&b, fs)
	fmt.Fprintf(&b, "\n%s COMMAND --help shows the options of a command.\n", app.Name)
	return b.String()
}

func commandHelp(app string, c *cli.Command, example string) string {
	var b strings.Builder
	name := app + " " + c.Name
	b.WriteString("NAME:\n")
	wrapTo(&b, name+" - "+c.Usage, "   ", "     ")
	b.WriteString("\nUSAGE:\n")
	usage := name
	if len(c.Flags) > 0 {
		usage += " [options]"
	}
	if c.ArgsUsage != "" {
		usage += " " + c.ArgsUsage
	}
	wrapTo(&b, usage, "   ", "     ")
	if example != "" {
		b.WriteString("\nEXAMPLE:\n")
		for _, l := range strings.Split(example, "\n") {
			wrapTo(&b, l, "   ", "       ")
		}
	}
	if c.Description != "" {
		b.WriteString("\nDESCRIPTION:\n")
		description(&b, c.Description)
	}
	b.WriteString("\nOPTIONS:\n")
	fs := append(append([]cli.Flag(nil), c.Flags...), helpFlag())
	flagLines(&b, fs)
	return b.String()
}

func helpFlag() cli.Flag {
	return &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
}

// description writes text indented by three spaces, its own line breaks
// kept and lines too long wrapped under their own indentation.
func description(b *strings.Builder, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if utf8.RuneCountInString(l)+3 <= HelpWidth {
			b.WriteString(strings.TrimRight("   "+l, " ") + "\n") // as written
			continue
		}
		lead := l[:len(l)-len(strings.TrimLeft(l, " "))]
		wrapTo(b, strings.TrimLeft(l, " "), "   "+lead, "   "+lead)
	}
}

// flagLines writes one entry per visible flag: its spelling, then its
// description wrapped beside it.
func flagLines(b *strings.Builder, fs []cli.Flag) {
	type entry struct{ names, text string }
	var es []entry
	w := 0
	for _, f := range fs {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		names, text := describeFlag(f)
		es = append(es, entry{names, text})
		if n := utf8.RuneCountInString(names); n+3+2 <= flagColumn {
			w = max(w, n)
		}
	}
	for _, e := range es {
		column(b, e.names, e.text, 3+w+2)
	}
}

// column writes left at three spaces and text wrapped from col on; a left
// part reaching col puts text on the next line.
func column(b *strings.Builder, left, text string, col int) {
	pad := col - 3 - utf8.RuneCountInString(left)
	if pad < 2 {
		b.WriteString("   " + left + "\n")
		wrapTo(b, text, strings.Repeat(" ", col), strings.Repeat(" ", col))
		return
	}
	wrapTo(b, text, "   "+left+strings.Repeat(" ", pad), strings.Repeat(" ", col))
}

// describeFlag returns how a flag is spelled ("--out FORMAT=FILE, -o")
// and what it does, with its default and environment variable.
func describeFlag(f cli.Flag) (names, text string) {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return strings.Join(dashed(f.Names()), ", "), ""
	}
	placeholder, usage := unquoteUsage(d.GetUsage())
	ns := dashed(f.Names())
	if d.TakesValue() {
		if placeholder == "" {
			placeholder = valueName(f)
		}
		ns[0] += " " + placeholder
	}
	names = strings.Join(ns, ", ")
	text = usage
	if def := defaultOf(d); def != "" && !strings.Contains(strings.ToLower(usage), "default") {
		text += " (default " + def + ")"
	}
	if env := d.GetEnvVars(); len(env) > 0 {
		text += " [$" + strings.Join(env, ", $") + "]"
	}
	return names, text
}

// unquoteUsage takes the first `back-quoted` word of a usage as the
// value's placeholder, as urfave/cli does, and returns the usage without
// the quotes.
func unquoteUsage(usage string) (placeholder, text string) {
	before, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return "", usage
	}
	name, after, ok := strings.Cut(rest, "`")
	if !ok {
		return "", usage
	}
	return name, before + name + after
}

func dashed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if len(n) == 1 {
			out[i] = "-" + n
		} else {
			out[i] = "--" + n
		}
	}
	return out
}

// valueName names the value of a flag by its type.
func valueName(f cli.Flag) string {
	switch f.(type) {
	case *cli.DurationFlag:
		return "DURATION"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return "N"
	case *cli.Float64Flag:
		return "NUMBER"
	case *cli.PathFlag:
		return "PATH"
	}
	return "VALUE"
}

// defaultOf is the default worth showing: none for a flag without a
// value, nor for zero values (false, 0, 0s, empty).
func defaultOf(d cli.DocGenerationFlag) string {
	if !d.TakesValue() {
		return ""
	}
	v := d.GetValue()
	switch v {
	case "", "0", "0s", "false", `""`:
		return ""
	}
	return v
}

// wrapTo writes text word-wrapped within HelpWidth columns, the first
// line after first and the others after rest.
func wrapTo(b *strings.Builder, text, first, rest string) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > HelpWidth {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
}

// RootAction is the action of a program's root command: --version prints
// the version, "help [COMMAND]" the help, an unknown command is refused
// through usage (which marks the error as a bad command line), and no
// command prints the help.
func RootAction(program, version string, usage func(error) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		switch {
		case c.Bool("version"):
			fmt.Fprintln(c.App.Writer, version)
			return nil
		case c.Args().First() == "help" && c.NArg() <= 2:
			if name := c.Args().Get(1); name != "" && c.App.Command(name) != nil {
				return cli.ShowCommandHelp(c, name)
			}
			return cli.ShowAppHelp(c)
		case c.NArg() > 0:
			var names []string
			for _, cmd := range c.App.Commands {
				if !cmd.Hidden {
					names = append(names, cmd.Name)
				}
			}
			return usage(fmt.Errorf("unknown command %q: the commands are %s (%s --help describes them)", c.Args().First(), strings.Join(names, ", "), program))
		}
		return cli.ShowAppHelp(c)
	}
}
