// Command replay replays recorded traffic against a target, reports latency,
// errors and threshold verdicts, and compares runs.
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
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitBreach = 99 // thresholds breached (the code k6 uses)
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
		Name:      "replay",
		Usage:     "replay recorded HTTP and WebSocket traffic and report what the target did",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			runCommand(),
			demoCommand(),
			inspectCommand(),
			exportCommand(),
			serveCommand(),
			workloadCommand(),
			compareCommand(),
			mergeCommand(),
		},
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	cliargs.OnUsageError(app.Commands, app.OnUsageError)
	err := app.RunContext(ctx, cliargs.Permute(app.Commands, args))
	return exitCode(err, stderr)
}

// usageError marks a bad command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// breachError marks a run whose thresholds were breached: the report is
// already printed, so only the exit code speaks.
type breachError struct {
	n     int
	about string // what stopped the run early, if something did
}

func (b breachError) Error() string {
	if b.about != "" {
		return fmt.Sprintf("%d threshold(s) breached; %s", b.n, b.about)
	}
	return fmt.Sprintf("%d threshold(s) breached", b.n)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var b breachError
	if errors.As(err, &b) {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return exitBreach
	}
	fmt.Fprintf(stderr, "replay: %v\n", err)
	var u usageError
	if errors.As(err, &u) || cliargs.IsFlagError(err) {
		return exitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitError
}
