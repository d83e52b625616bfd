package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/capture"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

func sniffCommand() *cli.Command {
	return &cli.Command{
		Name:  "sniff",
		Usage: "capture HTTP/1.x and WebSocket traffic live from a network interface (Linux, root)",
		Description: `Captures from an AF_PACKET ring (no libpcap), filters in the kernel,
reassembles TCP and writes a corpus until interrupted (SIGINT/SIGTERM) or
--duration passes. Records are queued to a writer goroutine: packet
processing never waits for the disk; a full queue drops records and says so.

--filter takes a subset of tcpdump syntax: tcp, ip, ip6,
[tcp] [src|dst] port N, [src|dst] host ADDR, and/or/not, parentheses.
With --port it is combined as "tcp port P and (FILTER)".`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "network `IF` to capture on (lo, eth0)", Required: true},
			&cli.UintSliceFlag{Name: "port", Aliases: []string{"p"}, Usage: "server TCP `PORT` to capture (repeatable)"},
			&cli.StringFlag{Name: "filter", Usage: "capture filter `EXPR` (see above)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "corpus to write (`FILE`.rpz)", Required: true},
			&cli.BoolFlag{Name: "force", Aliases: []string{"overwrite"}, Usage: "overwrite an existing corpus"},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (default: until interrupted)"},
			&cli.IntFlag{Name: "ring-mb", Value: 256, Usage: "kernel capture ring size in `MiB` (multiple of 4): absorbs bursts while the parser is starved of CPU"},
			&cli.IntFlag{Name: "queue", Value: 65536, Usage: "records queued for the writer before drops"},
			&cli.IntFlag{Name: "workers", Value: 2, Usage: "goroutines parsing connections in parallel (`N`)"},
			&cli.DurationFlag{Name: "reorder-window", Value: 5 * time.Second, Usage: "how long records are held to be written in start order"},
			&cli.BoolFlag{Name: "pure-acks", Usage: "also capture TCP segments without payload (dropped in the kernel by default: not needed to record)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the capture to `FILE`", Hidden: true},
		}, append(captureFlags(), redactFlags()...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("record sniff: unexpected argument %q", c.Args().First())}
			}
			cfg, err := captureConfig(c)
			if err != nil {
				return err
			}
			var parts []string
			var ports []string
			for _, p := range c.UintSlice("port") {
				if p == 0 || p > 65535 {
					return usageError{fmt.Errorf("--port %d: not a TCP port", p)}
				}
				ports = append(ports, fmt.Sprintf("tcp port %d", p))
				cfg.ServerPorts = append(cfg.ServerPorts, uint16(p))
			}
			if len(ports) > 0 {
				parts = append(parts, "("+strings.Join(ports, " or ")+")")
			}
			if f := c.String("filter"); f != "" {
				parts = append(parts, "("+f+")")
			}
			if len(parts) == 0 {
				return usageError{errors.New("record sniff: give --port or --filter (capturing everything is rarely what you want)")}
			}
			filter := strings.Join(parts, " and ")
			if _, err := capture.CompileFilter(filter, 1); err != nil {
				return usageError{err}
			}
			ring := c.Int("ring-mb")
			if ring < 4 || ring%4 != 0 {
				return usageError{fmt.Errorf("--ring-mb %d: must be a positive multiple of 4", ring)}
			}
			if c.Int("workers") < 1 || c.Int("workers") > 64 {
				return usageError{fmt.Errorf("--workers %d: must be between 1 and 64", c.Int("workers"))}
			}
			if c.Int("queue") <= 0 {
				return usageError{fmt.Errorf("--queue %d: must be positive", c.Int("queue"))}
			}
			return runSniff(c, filter, cfg)
		},
	}
}

func runSniff(c *cli.Context, filter string, cfg capture.Config) error {
	out := c.String("out")
	outOpts, err := outputOptions(c, out)
	if err != nil {
		return err
	}
	tuneGC()
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	sn, err := capture.OpenSniffer(capture.SnifferConfig{
		Interface:   c.String("interface"),
		Filter:      filter,
		PayloadOnly: !c.Bool("pure-acks"),
		BlockSize:   4 << 20,
		Blocks:      c.Int("ring-mb") / 4,
	})
	if err != nil {
		return err
	}
	defer sn.Close()

	red, err := redactorFromFlags(c)
	if err != nil {
		return err
	}
	var p *capture.Parallel
	started := time.Now()
	open := func() (traffic.Sink, error) {
		origin := p.Origin()
		if origin.IsZero() {
			origin = started
		}
		opts := []corpus.WriterOption{
			// The writer shares the machine with the capture: compress fast.
			corpus.WithLevel(zstd.SpeedFastest),
			corpus.WithReorderWindow(c.Duration("reorder-window")),
			corpus.WithClock(func() time.Duration { return time.Since(origin) }),
			corpus.WithFlushInterval(time.Second),
		}
		opts = append(opts, outOpts...)
		h := traffic.Header{
			Source:      "sniff",
			ClockOrigin: origin,
			Meta:        map[string]string{"interface": c.String("interface"), "filter": filter},
		}
		redactionHeader(&h, red)
		w, err := corpus.Create(out, h, opts...)
		if err != nil {
			return nil, err
		}
		return redacting(w, red), nil
	}
	sink := capture.NewAsyncSink(open, c.Int("queue"))
	p = capture.NewParallel(sink, cfg, c.Int("workers"))

	ctx := c.Context
	if d := c.Duration("duration"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	fmt.Fprintf(c.App.ErrWriter, "record sniff: capturing on %s (%s); interrupt to stop\n", c.String("interface"), filter)
	// Packets already in the ring when ctx ends are still processed.
	work := context.WithoutCancel(ctx)
	runErr := sn.Run(ctx,
		func(pkt capture.Packet) error { return p.Packet(work, pkt) },
		func(now time.Time) error { return p.Tick(work, now) })
	if errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded) {
		runErr = nil
	}
	kst, kerr := sn.Stats()
	sn.Close()
	final := context.WithoutCancel(ctx)
	closeErr := p.Close(final)
	sinkErr := sink.Close()

	st := p.Stats()
	w := c.App.Writer
	fmt.Fprintf(w, "packets seen %d, dropped by the kernel %d (passed the filter %d)\n", kst.Delivered, kst.Dropped, kst.Received)
	printCaptureStats(w, st)
	fmt.Fprintf(w, "records written %d, dropped (writer queue full) %d\n", sink.Written(), sink.Dropped())
	if err := errors.Join(runErr, kerr, closeErr, sinkErr); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", out)
	return nil
}

// tuneGC makes garbage collection less frequent unless GOGC says
// otherwise: the capture allocates many small short-lived objects, and
// gopacket's large global tables make every collection cycle expensive.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
