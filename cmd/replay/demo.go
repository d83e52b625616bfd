package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/corpora"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/report"
	"github.com/reprise/reprise/internal/schedule"
)

// demoThresholds are HAP-19's criteria that a corpus of six users can
// meet: the concurrent-users criterion is left out.
func demoThresholds() (report.Thresholds, error) {
	ts, err := report.NamedSet("hap-19")
	return slices.DeleteFunc(ts, func(t report.Threshold) bool { return t.Metric == report.MetricFlows }), err
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "replay the shipped corpus at 10x against the built-in Happy-compatible server and print the report",
		Description: `Starts the built-in Happy-compatible server on a free loopback port, replays the
embedded corpus (two minutes of six simulated Happy users, HTTP and WebSocket) at
--speed 10 against it, and prints the report with HAP-19's thresholds (the
concurrent-users criterion left out: the corpus has six users).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "speed", Value: "10", Usage: "time compression"},
			&cli.StringFlag{Name: "latency", Value: "none", Usage: "latency SPEC the server injects (see replay serve)"},
			&cli.StringSliceFlag{Name: "out", Usage: "write results: json=FILE, html=FILE"},
		},
		Action: func(c *cli.Context) error {
			speed, err := parseSpeed(c.String("speed"))
			if err != nil {
				return usageError{err}
			}
			lat, err := happyapi.ParseLatency(c.String("latency"))
			if err != nil {
				return usageError{fmt.Errorf("--latency: %w", err)}
			}
			outs, err := parseOuts(c.StringSlice("out"), "json", "html")
			if err != nil {
				return usageError{err}
			}
			dir, err := os.MkdirTemp("", "reprise-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			path := filepath.Join(dir, corpora.HappyDevName)
			if err := os.WriteFile(path, corpora.HappyDev, 0o600); err != nil {
				return err
			}
			// The server accepts any bearer token as a user of its own: the
			// corpus's redacted tokens stand for its six users.
			// Rate limits are off: at ten times the recorded pace every user
			// would hit the ticket limit the recording stayed under. The
			// server compresses what the corpus's clients accept, as real
			// servers do.
			srv, err := happyapi.New(happyapi.Config{AnyToken: true, Latency: lat,
				AuthLimit: happyapi.RateLimit{N: -1}, TicketLimit: happyapi.RateLimit{N: -1}})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
				return err
			}
			defer srv.Close()
			target, err := url.Parse(srv.URL())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "replay demo: built-in Happy-compatible server on %s; replaying %s (%d bytes, embedded) at %gx\n",
				target, corpora.HappyDevName, len(corpora.HappyDev), speed)
			ths, err := demoThresholds()
			if err != nil {
				return err
			}
			tag, _ := runTag("")
			opts := replay.Options{
				Corpus:   path,
				Schedule: schedule.Options{Speed: speed},
				Engine:   engine.Config{Target: target},
				Progress: progressPrinter(c.App.ErrWriter, 0),
				RunTag:   tag,
			}
			err = replayAndReport(c, opts, nil, ths, outs)
			var b breachError
			if errors.As(err, &b) {
				// The demo shows verdicts; only replay run enforces them.
				fmt.Fprintf(c.App.Writer, "replay demo: %v on this machine (replay run would exit 99)\n", b)
				return nil
			}
			return err
		},
	}
}
