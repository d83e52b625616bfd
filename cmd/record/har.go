package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/har"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// harSkipsShown is how many skipped entries record har prints.
const harSkipsShown = 5

func harCommand() *cli.Command {
	return &cli.Command{
		Name:      "har",
		Usage:     "import HTTP and WebSocket traffic from HAR files (browser DevTools, Playwright, mitmproxy, Charles, ...)",
		ArgsUsage: "FILE.har...",
		Description: `Reads HAR 1.1/1.2 files entry by entry (any size) and writes a corpus.
Start offsets come from startedDateTime, relative to the earliest entry
imported; timings from timings. WebSocket entries (status 101, or
Chrome's _webSocketMessages) become WebSocket connections with their
messages. Records are grouped into flows by file and page (pageref).
Entries that cannot be imported are skipped and reported; entries with
status 0 or -1 (no response) are imported as failed exchanges.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "corpus to write (`FILE`.rpz, required)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"overwrite"}, Usage: "overwrite an existing corpus"},
			&cli.StringSliceFlag{Name: "host", Usage: "keep only entries for `HOST` (host, host:port or *.domain; repeatable)"},
			&cli.StringSliceFlag{Name: "path-prefix", Usage: "keep only entries whose path starts with `PREFIX` (repeatable)"},
			&cli.IntFlag{Name: "max-body", Value: har.DefaultMaxBody, Usage: "bytes kept of each body and WebSocket message (`N`)"},
			&cli.IntFlag{Name: "max-entry", Value: har.DefaultMaxEntry, Usage: "largest entry decoded, in bytes of JSON (`N`); larger ones are skipped"},
		}, redactFlags()...),
		Action: func(c *cli.Context) error {
			files := c.Args().Slice() // flags anywhere: see cliargs.Permute
			if len(files) == 0 {
				return usageError{errors.New("record har: name at least one HAR file")}
			}
			if c.String("out") == "" {
				return usageError{errors.New("record har: --out CORPUS is required")}
			}
			if c.Int("max-body") <= 0 {
				return usageError{fmt.Errorf("--max-body %d: must be positive", c.Int("max-body"))}
			}
			if c.Int("max-entry") < 1024 {
				return usageError{fmt.Errorf("--max-entry %d: must be at least 1024", c.Int("max-entry"))}
			}
			return runHAR(c, files)
		},
	}
}

func runHAR(c *cli.Context, files []string) error {
	out := c.String("out")
	copts, err := outputOptions(c, out)
	if err != nil {
		return err
	}
	var inputs []har.Input
	for _, p := range files {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("record har: %w", err)
		}
		inputs = append(inputs, har.FileInput(p))
	}
	opts := har.Options{
		Hosts:        c.StringSlice("host"),
		PathPrefixes: c.StringSlice("path-prefix"),
		MaxBody:      c.Int("max-body"),
		MaxEntry:     c.Int("max-entry"),
	}
	red, err := redactorFromFlags(c)
	if err != nil {
		return err
	}
	var w *corpus.Writer
	rep, err := har.Import(c.Context, inputs, opts, func(h traffic.Header) (traffic.Sink, error) {
		h.Meta["command"] = "record har"
		redactionHeader(&h, red)
		var err error
		w, err = corpus.Create(out, h, copts...)
		if err != nil {
			return nil, err
		}
		return redacting(w, red), nil
	})
	if err != nil {
		if w != nil {
			w.Close()
			os.Remove(out)
		}
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close corpus: %w", err)
	}
	if rep.Exchanges+rep.WSConns == 0 {
		os.Remove(out)
		msg := fmt.Sprintf("record har: nothing imported (%s)", rep.Summary())
		if len(rep.Skipped) > 0 {
			msg += "; first skipped: " + rep.Skipped[0].String()
		}
		return errors.New(msg)
	}
	stdout := c.App.Writer
	fmt.Fprintf(stdout, "%s -> %s\n", rep.Summary(), out)
	if n := len(rep.Skipped); n > 0 {
		for i, s := range rep.Skipped {
			if i == harSkipsShown {
				fmt.Fprintf(stdout, "  ... and %d more skipped\n", n-harSkipsShown)
				break
			}
			fmt.Fprintf(stdout, "  skipped %s\n", s)
		}
	}
	return nil
}
