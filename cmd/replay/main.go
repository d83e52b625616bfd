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
	"github.com/reprise/reprise/internal/version"
)

// Exit codes (exitRegression, 3, is replay compare's).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitBreach      = 99  // thresholds breached (the code k6 uses)
	exitInterrupted = 130 // SIGINT or SIGTERM ended the run: partial report and results written (130 as shells give for SIGINT)
)

// exitCodes is the table the help and the README give.
const exitCodes = `Exit codes: 0 ok, 1 error, 2 bad usage, 3 replay compare found a regression,
99 thresholds breached, 130 interrupted (SIGINT or SIGTERM: the report and
--out results cover what was sent, marked "interrupted").`

// examples are shown under EXAMPLE in each command's help.
var examples = map[string]string{
	"run":      "replay run dev.rpz --target https://staging.example.com --speed 10 --threshold hap-19 --out json=run.json",
	"demo":     "replay demo --speed 20 --out html=demo.html",
	"inspect":  "replay inspect dev.rpz --ws-connections",
	"export":   "replay export dev.rpz --har dev.har",
	"serve":    "replay serve --listen 127.0.0.1:8787 --any-token --latency lognormal:median=5ms,sigma=0.5",
	"workload": "replay workload --target http://127.0.0.1:8787 --users 6 --duration 2m",
	"compare":  "replay compare dev.rpz -a http://release-a:8787 -b http://release-b:8787 --speed 10 --out html=cmp.html  (or: replay compare a.json b.json)",
	"merge":    "replay merge shard-0.json shard-1.json shard-2.json --out json=run.json --threshold hap-19",
}

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
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Usage: "print the version (" + version.Tool + ", as in results and HAR files) and exit"},
		},
		Action:          cliargs.RootAction("replay", version.Tool, func(err error) error { return usageError{err} }),
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		HideVersion:     true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	cliargs.OnUsageError(app.Commands, app.OnUsageError)
	cliargs.SetHelp(app, examples)
	err := cliargs.Run(ctx, app, cliargs.Permute(app.Commands, args))
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

// interruptedError marks a run a signal ended: the report and results of
// what was sent are already written.
type interruptedError struct {
	what string // "after 4.1s (interrupt signal received)"
	more string // what else the run found (breached thresholds)
}

func (i interruptedError) Error() string {
	msg := "interrupted " + i.what
	if i.more != "" {
		msg += "; " + i.more
	}
	return msg
}

// ExitCode makes the interrupted exit code reach the process.
func (i interruptedError) ExitCode() int { return exitInterrupted }

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
