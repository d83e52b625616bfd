package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("replay export is not built yet")
		},
	}
}
