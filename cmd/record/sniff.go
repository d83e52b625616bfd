package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func sniffCommand() *cli.Command {
	return &cli.Command{
		Name:  "sniff",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("record sniff is not built yet")
		},
	}
}
