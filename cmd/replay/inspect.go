package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/inspect"
	"github.com/reprise/reprise/internal/replay"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a corpus: records, endpoints, statuses, content codings, WebSocket connections and their messages",
		ArgsUsage: "CORPUS",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "jsonl", Usage: "print every record as one JSON object per line instead (bodies content-decoded, \"coding\" naming the coding)"},
			&cli.BoolFlag{Name: "ws-connections", Usage: fmt.Sprintf("list every WebSocket connection (by default the first %d, after their summary)", inspect.DefaultConnections)},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{errors.New("inspect takes one corpus file: replay inspect CORPUS")}
			}
			path := c.Args().First()
			r, err := corpus.Open(path)
			if err != nil {
				return corpusHint(err, path)
			}
			defer r.Close()
			if c.Bool("jsonl") {
				rep, err := inspect.WriteJSONL(c.Context, r, c.App.Writer, 0)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if n := rep.UndecodableTotal(); n > 0 {
					fmt.Fprintf(c.App.ErrWriter, "inspect: %d content-coded bodies could not be decoded and are shown as recorded, with decode_error: %s\n",
						n, rep.UndecodableSummary())
				}
				return nil
			}
			router, err := replay.Routes(c.Context, path)
			if err != nil {
				return err
			}
			s, err := inspect.Summarize(c.Context, r, r.Header(), inspect.Options{Endpoint: router.Route})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := s.WriteText(c.App.Writer, inspect.TextOptions{AllConnections: c.Bool("ws-connections")}); err != nil {
				return err
			}
			if st := r.Stats(); st.Truncated {
				fmt.Fprintf(c.App.Writer, "\ntail cut: %s was not closed by its recorder; read %d records up to its last whole block (%d bytes after it ignored)\n",
					path, st.Records, st.TailBytes)
			}
			return nil
		},
	}
}

// corpusHint explains a corpus that is not there when its recorder's
// file is: NAME.partial is what a recorder still running, or killed,
// leaves.
func corpusHint(err error, path string) error {
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	partial := path + ".partial"
	if _, serr := os.Stat(partial); serr != nil {
		return err
	}
	return fmt.Errorf("%s does not exist, but %s does: its recorder is still running (stop it with Ctrl-C to close the corpus) or was killed; "+
		"replay inspect %s reads what it holds (replay run takes it with --allow-truncated)", path, partial, partial)
}
