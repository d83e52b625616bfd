package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/workload"
)

func workloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "workload",
		Usage:     "drive a Happy-compatible server like real Happy clients (to record realistic traffic)",
		ArgsUsage: " ",
		Description: `Simulated users log in with their own Ed25519 keys and run the Happy team's
k6 full-API mix (30% health, 20% sessions, 15% machines, 10% artifacts,
10% account, 7% kv, 4% feed, 4% version) with 100-600 ms think times, the
sessions flow (create -> message -> list -> delete), and WebSocket clients on
/v1/updates (user-, session- and machine-scoped, pings and rpc-requests with
ackIds, broadcasts). The same --seed gives the same operations in the same
order. Point --target at the recording proxy to record it:

  replay serve --listen 127.0.0.1:8787 &
  record proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:8787 --out demo.rpz &
  replay workload --target http://127.0.0.1:8080 --users 6 --duration 2m --seed 1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "base `URL` of the server or proxy to drive (required)"},
			&cli.IntFlag{Name: "users", Value: 6, Usage: "simulated users"},
			&cli.DurationFlag{Name: "duration", Usage: "how long to run (default 30s unless --ops or --ops-per-user)"},
			&cli.IntFlag{Name: "ops", Usage: "stop after this many mix operations, all users together"},
			&cli.IntFlag{Name: "ops-per-user", Usage: "each user runs exactly this many mix operations"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of keys, choices, ids and think times"},
			&cli.DurationFlag{Name: "think-min", Value: 100 * time.Millisecond, Usage: "shortest think time"},
			&cli.DurationFlag{Name: "think-max", Value: 600 * time.Millisecond, Usage: "longest think time"},
			&cli.BoolFlag{Name: "no-ws", Usage: "no WebSocket clients"},
			&cli.StringFlag{Name: "auth-token", Usage: "use this bearer token for every user instead of logging in", EnvVars: []string{"AUTH_TOKEN"}},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow a non-loopback --target"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("workload takes no arguments (got %q)", c.Args().First())}
			}
			target := c.String("target")
			if target == "" {
				return usageError{errors.New("workload needs --target URL, e.g. --target http://127.0.0.1:8787")}
			}
			if err := checkTarget(target, c.Bool("allow-remote")); err != nil {
				return usageError{err}
			}
			cfg := workload.Config{
				BaseURL:     target,
				Users:       c.Int("users"),
				Duration:    c.Duration("duration"),
				MaxOps:      c.Int("ops"),
				OpsPerUser:  c.Int("ops-per-user"),
				Seed:        c.Uint64("seed"),
				ThinkMin:    c.Duration("think-min"),
				ThinkMax:    c.Duration("think-max"),
				NoWebSocket: c.Bool("no-ws"),
				AuthToken:   c.String("auth-token"),
			}
			if cfg.Users <= 0 {
				return usageError{fmt.Errorf("--users %d: want at least 1", cfg.Users)}
			}
			if cfg.ThinkMax < cfg.ThinkMin {
				return usageError{fmt.Errorf("--think-max %s is below --think-min %s", cfg.ThinkMax, cfg.ThinkMin)}
			}
			rep, err := workload.Run(c.Context, cfg)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprint(c.App.Writer, rep.String())
			return nil
		},
	}
}

// checkTarget keeps load on loopback unless allowed otherwise.
func checkTarget(target string, allowRemote bool) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--target %q: want http://host:port", target)
	}
	if allowRemote || isLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("--target %q is not a loopback address; add --allow-remote to send load elsewhere", target)
}
