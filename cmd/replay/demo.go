package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("replay demo is not built yet")
		},
	}
}
