package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func pcapCommand() *cli.Command {
	return &cli.Command{
		Name:  "pcap",
		Usage: "(being built)",
		Action: func(c *cli.Context) error {
			return errors.New("record pcap is not built yet")
		},
	}
}
