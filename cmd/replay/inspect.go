package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("replay inspect is not built yet")
		},
	}
}
