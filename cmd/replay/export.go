package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/har"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/version"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a corpus as a HAR 1.2 file for browser DevTools and HAR tools",
		ArgsUsage: "CORPUS",
		Description: `Writes every exchange as a HAR entry and every WebSocket connection as a
Chrome-style entry (_resourceType "websocket", _webSocketMessages), entry
by entry. Content-encoded response bodies (gzip, deflate, zstd, br) are
written decoded, as HAR expects; binary bodies as base64. What HAR has no
field for (flows, flags, errors) rides in "_reprise" fields, so
"record har" restores the corpus. Use --har - to write to standard output.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "har", Usage: "HAR file to write (`OUT.har`, - for standard output; required)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"overwrite"}, Usage: "overwrite an existing HAR file"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice() // flags anywhere: see cliargs.Permute
			if len(args) != 1 {
				return usageError{errors.New("replay export: name exactly one corpus")}
			}
			if c.String("har") == "" {
				return usageError{errors.New("replay export: --har OUT.har is required")}
			}
			return runExport(c, args[0], c.String("har"))
		},
	}
}

func runExport(c *cli.Context, in, out string) error {
	r, err := corpus.Open(in)
	if err != nil {
		return corpusHint(err, in)
	}
	defer r.Close()
	opts := har.ExportOptions{Version: version.Number, Comment: "exported from " + filepath.Base(in)}
	if out == "-" {
		_, err := har.Export(c.Context, r, r.Header(), c.App.Writer, opts)
		return err
	}
	if !c.Bool("force") {
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("%s already exists: choose another --har or add --force", out)
		}
	}
	var rep har.ExportReport
	err = writeAtomic(out, 0o600, func(w io.Writer) error {
		var err error
		rep, err = har.Export(c.Context, r, r.Header(), w, opts)
		return err
	})
	if err != nil {
		return err
	}
	var w io.Writer = c.App.Writer
	fmt.Fprintf(w, "%s -> %s\n", rep.Summary(), out)
	if r.Stats().Truncated {
		fmt.Fprintf(w, "note: %s was cut short (recorder stopped); exported up to its last whole block\n", in)
	}
	return nil
}
