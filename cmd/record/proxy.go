package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func proxyCommand() *cli.Command {
	return &cli.Command{
		Name:  "proxy",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("record proxy is not built yet")
		},
	}
}
