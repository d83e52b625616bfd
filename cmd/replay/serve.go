package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/happyapi"
)

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "run the built-in Happy-compatible API server (in memory, with latency and fault injection)",
		ArgsUsage: " ",
		Description: `Serves every route of the Happy Server Workers API from memory, including the
WebSocket update stream, until interrupted. Tokens come from POST /v1/auth
(Ed25519), from --token, or from any bearer with --any-token.

Latency specs: fixed:20ms | uniform:10ms-50ms | normal:mean=30ms,stddev=5ms |
lognormal:median=30ms,sigma=0.5 | exponential:mean=20ms (max=D caps the last three).
Stall spec: every=5s,for=500ms (requests arriving during a stall wait for its end).

Answers are compressed as real servers compress them (zstd, br, gzip or deflate,
whichever the request's Accept-Encoding prefers; --no-compress turns it off).
--max-concurrent and --max-rate make a saturating server: requests over a limit
wait in a queue of --queue places (their wait is latency the client sees) and
are answered 503 when it is full. GET /_reprise/state answers loopback clients
with what exists (sessions, machines, artifacts, kv keys, sockets, connections);
the same is printed on exit.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8787", Usage: "address to listen on (loopback unless --allow-remote)"},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow a non-loopback --listen address"},
			&cli.StringSliceFlag{Name: "token", Usage: "bearer token accepted as a user of its own (repeatable), e.g. test-auth-token"},
			&cli.BoolFlag{Name: "any-token", Usage: "accept every non-empty bearer token (each token is its own user)"},
			&cli.StringFlag{Name: "signing-key", Usage: "key for issued tokens and tickets (default random); reuse it to accept tokens from an earlier run", EnvVars: []string{"HAPPYAPI_SIGNING_KEY"}},
			&cli.StringFlag{Name: "latency", Value: "none", Usage: "injected latency `SPEC` for every HTTP request"},
			&cli.Float64Flag{Name: "error-rate", Usage: "fraction (0..1) of requests answered with an injected 500/503"},
			&cli.StringFlag{Name: "stall", Value: "none", Usage: "periodic stalls, `SPEC` every=5s,for=500ms"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the latency and fault random source"},
			&cli.BoolFlag{Name: "no-compress", Usage: "never compress answers (default: compress as the request's Accept-Encoding prefers)"},
			&cli.IntFlag{Name: "compress-min-size", Usage: "smallest answer, in bytes, that is compressed (default 0: every non-empty answer)"},
			&cli.IntFlag{Name: "max-concurrent", Usage: "requests handled at once, the rest queue (default 0: no limit)"},
			&cli.Float64Flag{Name: "max-rate", Usage: "requests started per second, evenly spaced, the rest queue (default 0: no limit)"},
			&cli.IntFlag{Name: "queue", Value: 1024, Usage: "requests that may wait under --max-concurrent/--max-rate; beyond, 503 at once (0: none wait)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("serve takes no arguments (got %q)", c.Args().First())}
			}
			cfg, err := serveConfig(c)
			if err != nil {
				return usageError{err}
			}
			addr := c.String("listen")
			if err := checkLoopback(addr, c.Bool("allow-remote")); err != nil {
				return usageError{err}
			}
			srv, err := happyapi.New(cfg)
			if err != nil {
				return usageError{err}
			}
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if err := srv.Start(ctx, addr); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "happy api listening on %s (latency %s, error rate %g, stall %s, seed %d, %s, %s)\n",
				srv.URL(), cfg.Latency, cfg.ErrorRate, cfg.Stall, cfg.Seed, compressionLabel(cfg), capacityLabel(cfg))
			<-ctx.Done()
			<-srv.Done()
			st := srv.Stats()
			fmt.Fprintf(c.App.ErrWriter, "happy api stopped: %d requests (%d injected faults, %d stalled%s), %d WebSocket connections%s\n",
				st.Requests, st.Faults, st.Stalled, loadSummary(st), st.WSAccepted, injectedSummary(srv.Truth()))
			fmt.Fprintf(c.App.ErrWriter, "happy api state: %s\n", srv.State())
			return nil
		},
	}
}

func serveConfig(c *cli.Context) (happyapi.Config, error) {
	lat, err := happyapi.ParseLatency(c.String("latency"))
	if err != nil {
		return happyapi.Config{}, fmt.Errorf("--latency: %w", err)
	}
	stall, err := happyapi.ParseStall(c.String("stall"))
	if err != nil {
		return happyapi.Config{}, fmt.Errorf("--stall: %w", err)
	}
	rate := c.Float64("error-rate")
	if rate < 0 || rate > 1 {
		return happyapi.Config{}, fmt.Errorf("--error-rate %g is outside 0..1 (write 0.01 for 1%%)", rate)
	}
	if n := c.Int("max-concurrent"); n < 0 {
		return happyapi.Config{}, fmt.Errorf("--max-concurrent %d is negative (0 means no limit)", n)
	}
	if r := c.Float64("max-rate"); r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return happyapi.Config{}, fmt.Errorf("--max-rate %g is not a number of requests per second (0 means no limit)", r)
	}
	if n := c.Int("queue"); n < 0 {
		return happyapi.Config{}, fmt.Errorf("--queue %d is negative (0 means no request waits)", n)
	}
	if n := c.Int("compress-min-size"); n < 0 {
		return happyapi.Config{}, fmt.Errorf("--compress-min-size %d is negative", n)
	}
	queue := c.Int("queue")
	if queue == 0 {
		queue = -1 // Config's zero means the default
	}
	return happyapi.Config{
		Tokens:          c.StringSlice("token"),
		AnyToken:        c.Bool("any-token"),
		SigningKey:      []byte(c.String("signing-key")),
		Latency:         lat,
		ErrorRate:       rate,
		Stall:           stall,
		Seed:            c.Uint64("seed"),
		Now:             time.Now,
		NoCompress:      c.Bool("no-compress"),
		CompressMinSize: c.Int("compress-min-size"),
		MaxConcurrent:   c.Int("max-concurrent"),
		MaxRate:         c.Float64("max-rate"),
		MaxQueue:        queue,
	}, nil
}

func compressionLabel(cfg happyapi.Config) string {
	switch {
	case cfg.NoCompress:
		return "compression off"
	case cfg.CompressMinSize > 0:
		return fmt.Sprintf("compression on from %d bytes", cfg.CompressMinSize)
	}
	return "compression on"
}

func capacityLabel(cfg happyapi.Config) string {
	var parts []string
	if cfg.MaxConcurrent > 0 {
		parts = append(parts, fmt.Sprintf("%d requests at once", cfg.MaxConcurrent))
	}
	if cfg.MaxRate > 0 {
		parts = append(parts, fmt.Sprintf("%g requests/s", cfg.MaxRate))
	}
	if len(parts) == 0 {
		return "no capacity limit"
	}
	q := cfg.MaxQueue
	if q < 0 {
		q = 0
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", queue %d", q)
}

// loadSummary says how the capacity limits and compression acted.
func loadSummary(st happyapi.Stats) string {
	var s string
	if st.Queued > 0 || st.Refused > 0 {
		s += fmt.Sprintf(", %d queued, %d refused with 503", st.Queued, st.Refused)
	}
	var n int64
	for _, v := range st.Compressed {
		n += v
	}
	if n > 0 {
		s += fmt.Sprintf(", %d compressed", n)
	}
	return s
}

// checkLoopback refuses addresses other machines could reach unless
// allowed: the server has no real security.
func checkLoopback(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w (want host:port, e.g. 127.0.0.1:8787)", addr, err)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address; the test server has no real security, add --allow-remote to expose it anyway", addr)
}

// injectedSummary renders the exact percentiles of the delay the server
// injected, the truth a load report is compared with.
func injectedSummary(t happyapi.Truth) string {
	if len(t.Requests) == 0 {
		return ""
	}
	d := t.Injected()
	if d[len(d)-1] == 0 {
		return ""
	}
	r := func(q float64) time.Duration { return happyapi.QuantileOf(d, q).Round(10 * time.Microsecond) }
	s := fmt.Sprintf("; injected delay p50=%s p90=%s p95=%s p99=%s max=%s", r(0.5), r(0.9), r(0.95), r(0.99), r(1))
	if t.Dropped > 0 {
		s += fmt.Sprintf(" (first %d requests)", len(d))
	}
	return s
}
