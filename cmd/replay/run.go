package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("replay run is not built yet")
		},
	}
}
