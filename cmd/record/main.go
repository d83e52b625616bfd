// Command record captures HTTP and WebSocket traffic into a reprise corpus:
// through a recording proxy, by sniffing an interface, or by importing pcap
// and HAR files.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/cliargs"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: every command is testable through it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "record",
		Usage:     "capture HTTP and WebSocket traffic into a reprise corpus",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			proxyCommand(),
			sniffCommand(),
			pcapCommand(),
			harCommand(),
		},
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	cliargs.OnUsageError(app.Commands, app.OnUsageError)
	err := app.RunContext(ctx, cliargs.Permute(app.Commands, args))
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "record: %v\n", err)
	var u usageError
	if errors.As(err, &u) || cliargs.IsFlagError(err) {
		return exitUsage
	}
	return exitError
}

// usageError marks a bad command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }
