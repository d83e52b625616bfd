package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/capture"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

func pcapCommand() *cli.Command {
	return &cli.Command{
		Name:      "pcap",
		Usage:     "import HTTP/1.x and WebSocket traffic from pcap or pcapng files",
		ArgsUsage: "FILE...",
		Description: `Reads capture files (tcpdump, Wireshark, dumpcap: pcap or pcapng; Ethernet,
802.1Q/QinQ, Linux cooked v1/v2, BSD loopback or raw IP; IPv4 and IPv6),
reassembles TCP, parses HTTP/1.x and WebSocket and writes a corpus.
Rotated files may be given in any order: they are read by first timestamp.
Exchanges the capture did not hold whole are kept and flagged incomplete.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "corpus to write (`FILE`.rpz)", Required: true},
			&cli.BoolFlag{Name: "force", Aliases: []string{"overwrite"}, Usage: "overwrite an existing corpus"},
			&cli.DurationFlag{Name: "reorder-window", Value: 5 * time.Minute, Usage: "capture time records are held to be written in start order"},
		}, append(captureFlags(), redactFlags()...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError{errors.New("record pcap: name at least one capture file")}
			}
			cfg, err := captureConfig(c)
			if err != nil {
				return err
			}
			return runPcap(c, c.Args().Slice(), cfg)
		},
	}
}

// captureFlags are the reassembly and parsing limits shared by pcap and
// sniff.
func captureFlags() []cli.Flag {
	return []cli.Flag{
		&cli.UintSliceFlag{Name: "server-port", Usage: "`PORT` of the servers, to orient connections whose handshake was not captured (repeatable)"},
		&cli.IntFlag{Name: "max-body", Value: 1 << 20, Usage: "bytes kept of each body and WebSocket message (`N`); sizes are still counted"},
		&cli.DurationFlag{Name: "gap-timeout", Value: time.Second, Usage: "capture time to wait for a missing TCP segment before skipping it"},
		&cli.DurationFlag{Name: "idle-timeout", Value: 2 * time.Minute, Usage: "capture time after which a silent connection is closed"},
		&cli.IntFlag{Name: "max-buffered-pages", Value: 65536, Usage: "out-of-order TCP data buffered for all connections, in 1900-byte pages"},
		&cli.IntFlag{Name: "max-conn-pages", Value: 4096, Usage: "out-of-order TCP data buffered per connection, in 1900-byte pages"},
	}
}

// redacting wraps w so secrets are removed before they reach it, and notes
// the rules in h; red nil means --no-redact.
func redacting(w traffic.Sink, red *redact.Redactor) traffic.Sink {
	if red == nil {
		return w
	}
	return redact.NewSink(w, red)
}

// redactionHeader fills h's redaction fields.
func redactionHeader(h *traffic.Header, red *redact.Redactor) {
	if red != nil {
		h.Redactions = red.Rules()
		return
	}
	if h.Meta == nil {
		h.Meta = map[string]string{}
	}
	h.Meta["redaction"] = "off (--no-redact)"
}

func captureConfig(c *cli.Context) (capture.Config, error) {
	var cfg capture.Config
	for _, p := range c.UintSlice("server-port") {
		if p == 0 || p > 65535 {
			return cfg, usageError{fmt.Errorf("--server-port %d: not a TCP port", p)}
		}
		cfg.ServerPorts = append(cfg.ServerPorts, uint16(p))
	}
	if c.Int("max-body") < 0 {
		return cfg, usageError{fmt.Errorf("--max-body %d: must not be negative", c.Int("max-body"))}
	}
	for _, name := range []string{"gap-timeout", "idle-timeout"} {
		if c.Duration(name) <= 0 {
			return cfg, usageError{fmt.Errorf("--%s %v: must be positive", name, c.Duration(name))}
		}
	}
	for _, name := range []string{"max-buffered-pages", "max-conn-pages"} {
		if c.Int(name) <= 0 {
			return cfg, usageError{fmt.Errorf("--%s %d: must be positive", name, c.Int(name))}
		}
	}
	cfg.MaxBodySize = c.Int("max-body")
	cfg.MaxMessageSize = c.Int("max-body")
	cfg.GapTimeout = c.Duration("gap-timeout")
	cfg.IdleTimeout = c.Duration("idle-timeout")
	cfg.MaxPagesTotal = c.Int("max-buffered-pages")
	cfg.MaxPagesPerConn = c.Int("max-conn-pages")
	return cfg, nil
}

func runPcap(c *cli.Context, paths []string, cfg capture.Config) error {
	ctx := c.Context
	out := c.String("out")
	outOpts, err := outputOptions(c, out)
	if err != nil {
		return err
	}
	tuneGC()
	files, err := capture.OpenCaptureFiles(paths)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	origin := time.Time{}
	for _, f := range files {
		if !f.First.IsZero() && (origin.IsZero() || f.First.Before(origin)) {
			origin = f.First
		}
	}
	if origin.IsZero() {
		origin = time.Now()
	}
	cfg.Origin = origin
	cfg.Defragment = true // one capture in order: IP fragments can be put together
	opts := []corpus.WriterOption{corpus.WithReorderWindow(c.Duration("reorder-window"))}
	opts = append(opts, outOpts...)
	red, err := redactorFromFlags(c)
	if err != nil {
		return err
	}
	h := traffic.Header{
		Source:      "pcap",
		ClockOrigin: origin,
		Meta:        map[string]string{"files": strings.Join(paths, " ")},
	}
	redactionHeader(&h, red)
	w, err := corpus.Create(out, h, opts...)
	if err != nil {
		return err
	}
	p := capture.NewProcessor(redacting(w, red), cfg)
	var warnings []string
	for _, f := range files {
		err := f.Read(ctx, p)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			p.Close(context.WithoutCancel(ctx))
			if cerr := w.Close(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("interrupted: %s holds what was imported before", out)
		case errors.Is(err, capture.ErrTruncated):
			warnings = append(warnings, fmt.Sprintf("%v: the packets before the cut were imported; exchanges open there are flagged incomplete", err))
		default:
			warnings = append(warnings, fmt.Sprintf("%v: stopped reading this file there; the packets before were imported and exchanges open there are flagged incomplete", err))
		}
	}
	if err := p.Close(ctx); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	for _, msg := range warnings {
		fmt.Fprintf(c.App.ErrWriter, "record pcap: warning: %s\n", msg)
	}
	printCaptureStats(c.App.Writer, p.Stats())
	fmt.Fprintf(c.App.Writer, "wrote %s\n", out)
	return nil
}

func printCaptureStats(w io.Writer, s capture.Stats) {
	fmt.Fprintf(w, "packets %d (tcp %d, other %d, cut by snaplen %d, malformed %d)\n",
		s.Packets, s.TCP, s.NotTCP+s.NotIP+s.FragsLost, s.CutPackets, s.Malformed)
	if s.Fragments > 0 {
		fmt.Fprintf(w, "ip fragments %d (reassembled into %d datagrams, %d lost)\n", s.Fragments, s.Reassembled, s.FragsLost)
	}
	fmt.Fprintf(w, "streams %d, gaps %d (%d bytes missing)\n", s.Connections, s.Gaps, s.GapBytes)
	fmt.Fprintf(w, "exchanges %d (incomplete %d, no response %d, non-WebSocket upgrades %d)\n",
		s.Exchanges, s.Incomplete, s.NoResponse, s.Upgrades)
	fmt.Fprintf(w, "websocket connections %d, messages %d, frames %d\n", s.WSConns, s.WSMessages, s.WSFrames)
}
