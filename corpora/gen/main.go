// Command gen records the shipped demo corpus: it starts the built-in
// Happy-compatible server and the recording proxy in front of it, drives
// the proxy with the Happy client workload (six users for two minutes and
// ten seconds, seed 1), and writes what the proxy recorded, redacted as by
// default, to -out.
//
//	go run ./corpora/gen -out corpora/happy-dev.rpz
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/proxy"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/workload"
)

func main() {
	out := flag.String("out", "corpora/happy-dev.rpz", "corpus to write (replaced)")
	users := flag.Int("users", 6, "simulated users")
	dur := flag.Duration("duration", 130*time.Second, "how long the users run")
	seed := flag.Uint64("seed", 1, "workload seed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *users, *dur, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, users int, dur time.Duration, seed uint64) error {
	srv, err := happyapi.New(happyapi.Config{Seed: seed})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	defer srv.Close()
	upstream, err := url.Parse(srv.URL())
	if err != nil {
		return err
	}

	red, err := redact.New(redact.DefaultRules())
	if err != nil {
		return err
	}
	origin := time.Now()
	clock := func() time.Duration { return time.Since(origin) }
	h := traffic.Header{
		Source: "proxy", Origin: upstream.String(), Created: origin.UTC(), ClockOrigin: origin.UTC(),
		Redactions: red.Rules(),
		Meta: map[string]string{
			"generator": fmt.Sprintf("go run ./corpora/gen -users %d -duration %s -seed %d", users, dur, seed),
			"workload":  "internal/workload: k6 full-API mix, sessions flow, WebSocket clients",
		},
	}
	w, err := corpus.Create(out, h, corpus.WithOverwrite(), corpus.WithReorderWindow(5*time.Second), corpus.WithClock(clock), corpus.WithFlushInterval(time.Second))
	if err != nil {
		return err
	}
	sink := redact.NewSink(w, red)
	p, err := proxy.New(proxy.Config{Upstream: upstream, Sink: sink, Clock: clock, HashIdentity: red.Hash})
	if err != nil {
		w.Close()
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.Close()
		return err
	}
	proxyCtx, stopProxy := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(proxyCtx, ln) }()

	fmt.Printf("gen: server %s, proxy http://%s, %d users for %s (seed %d)\n", upstream, ln.Addr(), users, dur, seed)
	rep, werr := workload.Run(ctx, workload.Config{BaseURL: "http://" + ln.Addr().String(), Users: users, Duration: dur, Seed: seed})
	stopProxy()
	serveErr := <-served
	p.Close()
	closeErr := sink.Close()
	st := p.Stats()
	fmt.Printf("gen: workload: %s\n", rep)
	fmt.Printf("gen: recorded %d exchanges, %d websocket connections, %d messages, %d lost -> %s\n", st.Exchanges, st.WSConns, st.WSMessages, st.Lost, out)
	if st.Lost > 0 {
		return fmt.Errorf("%d records lost: %v", st.Lost, st.SinkErr)
	}
	return errors.Join(werr, serveErr, closeErr)
}
