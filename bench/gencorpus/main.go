// Command gencorpus writes a large synthetic corpus of Happy-like API
// traffic, for benchmarks (bench/peers.sh) and memory tests:
//
//	go run ./bench/gencorpus -requests 100000 -out big.rpz
//
// Each user has a bearer token of its own (a flow of its own, keyed as the
// recording proxy keys it) and a connection its app keeps, and makes a mix
// of GET /health (unauthenticated), GET and POST /v1/sessions, GET and
// DELETE /v1/sessions/{id}, POST /v1/sessions/{id}/messages, GET /v1/kv,
// GET /v1/kv/{key} and POST /v1/kv. Responses are the JSON the Happy
// server answers, with server-made session ids that the user's later
// requests and WebSocket keep-alives send back, so a replay's correlation
// has work to do, and kv versions that follow each other. A share of users
// (-ws) keeps a WebSocket connection on /v1/updates: the server pushes an
// update for each of their mutations, and every -ws-alive requests they
// send a session-alive or a ping.
//
// Requests start every 1/-rate seconds over all users (exponential gaps
// with -poisson), each made by a user drawn at random among those not
// waiting for an answer (when eight draws in a row find one waiting, its
// requests overlap, as they do when an app fetches in parallel). Everything comes from one
// random source seeded by -seed, and the corpus carries a fixed clock
// origin, so the same flags give the same bytes. Records are written as
// they are made, through the corpus writer: memory is bounded by the
// number of users, not of requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := defaults
	fs := flag.NewFlagSet("gencorpus", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "", "corpus `FILE` to write (required)")
	force := fs.Bool("force", false, "overwrite an existing FILE")
	fs.Int64Var(&cfg.Requests, "requests", cfg.Requests, "HTTP requests to make (WebSocket upgrades and messages come on top)")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "recorded users: each a bearer token and a flow of its own")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "recorded HTTP requests per second, over all users")
	fs.BoolVar(&cfg.Poisson, "poisson", false, "space requests by exponential gaps (Poisson arrivals) instead of evenly")
	fs.IntVar(&cfg.Body, "body", cfg.Body, "mean size in `BYTES` of the payloads (session metadata, message content, kv values), drawn from half to one and a half of it")
	fs.Float64Var(&cfg.WSShare, "ws", cfg.WSShare, "`SHARE` of users (0 to 1) that keep a WebSocket connection on /v1/updates")
	fs.IntVar(&cfg.WSAlive, "ws-alive", cfg.WSAlive, "a WebSocket user sends a session-alive or a ping every `N` requests (0: never)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same flags and seed give the same corpus")
	fs.StringVar(&cfg.Origin, "origin", cfg.Origin, "recorded upstream `URL` (replay refuses to target it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "gencorpus: %v (gencorpus -h lists the flags)\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gencorpus: unexpected argument %q: every setting is a flag, e.g. -out big.rpz (gencorpus -h lists them)\n", fs.Arg(0))
		return exitUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, "gencorpus: -out is required: the corpus file to write, e.g. -out big.rpz")
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "gencorpus: %v\n", err)
		return exitUsage
	}
	st, err := write(ctx, cfg, *out, *force)
	if err != nil {
		fmt.Fprintf(stderr, "gencorpus: %v\n", err)
		return exitError
	}
	size := int64(-1)
	if fi, err := os.Stat(*out); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "wrote %s: %d requests of %d users (%d flows) over %s, %d WebSocket connections and %d messages, %.1f MB\n",
		*out, st.Requests, st.Users, st.Flows, st.Span.Round(1e6), st.WSConns, st.WSMessages, float64(size)/1e6)
	return exitOK
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: gencorpus -out FILE [flags]")
	fmt.Fprintln(w, "Writes a synthetic corpus of Happy-like API traffic (sessions, messages, kv, health; WebSocket updates).")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// write makes cfg's corpus at path. A failed or interrupted generation
// leaves no file behind.
func write(ctx context.Context, cfg config, path string, force bool) (stats, error) {
	h := traffic.Header{
		Created: clockOrigin, ClockOrigin: clockOrigin,
		Source: "gencorpus", Origin: cfg.Origin,
		Meta: map[string]string{
			"generator": "bench/gencorpus",
			"requests":  strconv.FormatInt(cfg.Requests, 10),
			"users":     strconv.Itoa(cfg.Users),
			"rate":      strconv.FormatFloat(cfg.Rate, 'g', -1, 64),
			"poisson":   strconv.FormatBool(cfg.Poisson),
			"body":      strconv.Itoa(cfg.Body),
			"ws":        strconv.FormatFloat(cfg.WSShare, 'g', -1, 64),
			"ws-alive":  strconv.Itoa(cfg.WSAlive),
			"seed":      strconv.FormatUint(cfg.Seed, 10),
		},
	}
	var opts []corpus.WriterOption
	if force {
		opts = append(opts, corpus.WithOverwrite())
	}
	w, err := corpus.Create(path, h, opts...)
	if err != nil {
		return stats{}, err
	}
	st, err := generate(ctx, cfg, func(r traffic.Record) error { return w.Write(ctx, r) })
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		os.Remove(path + corpus.PartialSuffix)
		if errors.Is(err, context.Canceled) {
			return st, fmt.Errorf("interrupted after %d requests: %s not written", st.Requests, path)
		}
		return st, fmt.Errorf("write %s: %w", path, err)
	}
	return st, nil
}
