package cliargs

import (
	"context"
	"sync"

	"github.com/urfave/cli/v2"
)

// parseMu serialises the parsing of command lines of programs run in one
// process (tests run several at once): urfave/cli writes its global
// HelpFlag while it parses flags. It is the only package state here, and
// guards the library's, not ours.
var parseMu sync.Mutex

// Run runs app with args: flags are parsed while no other Run parses, and
// the commands' actions then run side by side with those of other Runs.
func Run(ctx context.Context, app *cli.App, args []string) error {
	var once sync.Once
	parseMu.Lock()
	unlock := func() { once.Do(parseMu.Unlock) }
	defer unlock()
	app.Action = afterParse(app.Action, unlock)
	wrapActions(app.Commands, unlock)
	return app.RunContext(ctx, args)
}

func wrapActions(cmds []*cli.Command, unlock func()) {
	for _, c := range cmds {
		c.Action = afterParse(c.Action, unlock)
		wrapActions(c.Subcommands, unlock)
	}
}

func afterParse(a cli.ActionFunc, unlock func()) cli.ActionFunc {
	if a == nil {
		return nil
	}
	return func(c *cli.Context) error {
		unlock()
		return a(c)
	}
}
