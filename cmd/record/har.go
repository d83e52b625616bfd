package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func harCommand() *cli.Command {
	return &cli.Command{
		Name:  "har",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("record har is not built yet")
		},
	}
}
