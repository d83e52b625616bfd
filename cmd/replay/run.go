package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/gctune"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/netconf"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/report"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "replay a corpus against a target and report latency, errors and threshold verdicts",
		ArgsUsage: "CORPUS",
		Description: `Fires every recorded request at its recorded time (compressed by --speed) whatever
the earlier responses do (open model), measures latency from the intended send time
(coordinated-omission safe) with service time beside it, and prints a k6-style summary.

Thresholds: --threshold 'p95<500ms' --threshold 'error_rate<1%' --threshold 'rate>=1000/min'
  --threshold 'GET /v1/sessions: p95<200ms, p99<400ms' --threshold hap-19 (a named set).

` + exitCodes,
		Flags: append(replayFlags(),
			&cli.StringSliceFlag{Name: "out", Usage: "write results: json=FILE (full results, histograms included), html=FILE (self-contained report with charts); repeatable"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no live progress line"},
			&cli.StringSliceFlag{Name: "abort-threshold", Aliases: []string{"abort-on-fail"}, Usage: "threshold checked every second during the run: its breach stops the run (exit 99), as k6's abortOnFail; also judged at the end (repeatable)"},
			&cli.DurationFlag{Name: "abort-grace", Value: 10 * time.Second, Usage: "time into the run before --abort-threshold is checked (as k6's delayAbortEval)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE`", Hidden: true},
			&cli.StringFlag{Name: "trace", Usage: "write an execution trace of the run to `FILE` (go tool trace)", Hidden: true},
			&cli.StringFlag{Name: "memprofile", Usage: "write an allocation profile of the run to `FILE` at its end", Hidden: true},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{errors.New("run takes one corpus file: replay run CORPUS --target URL")}
			}
			opts, nw, err := replayOptions(c, c.Args().First())
			if err != nil {
				return err
			}
			ths, err := report.Resolve(c.StringSlice("threshold"))
			if err != nil {
				return usageError{fmt.Errorf("--threshold: %w", err)}
			}
			outs, err := parseOuts(c.StringSlice("out"), "json", "html")
			if err != nil {
				return usageError{err}
			}
			if !c.Bool("quiet") {
				opts.Progress = progressPrinter(c.App.ErrWriter, opts.Engine.Duration)
			}
			if path := c.String("cpuprofile"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			if path := c.String("trace"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				defer f.Close()
				if err := trace.Start(f); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				defer trace.Stop()
			}
			if path := c.String("memprofile"); path != "" {
				defer func() {
					if f, err := os.Create(path); err == nil {
						pprof.Lookup("allocs").WriteTo(f, 0)
						f.Close()
					}
				}()
			}
			if exprs := c.StringSlice("abort-threshold"); len(exprs) > 0 {
				abort, err := report.Resolve(exprs)
				if err != nil {
					return usageError{fmt.Errorf("--abort-threshold: %w", err)}
				}
				if c.Duration("abort-grace") < 0 {
					return usageError{errors.New("--abort-grace must not be negative")}
				}
				opts.AbortGrace = c.Duration("abort-grace")
				opts.Abort = func(s *metrics.Snapshot) string { return report.Evaluate(s, abort).Breached() }
				ths = append(ths, abort...)
			}
			return replayAndReport(c, opts, nw, ths, outs)
		},
	}
}

// replayFlags are the flags of every command that replays.
func replayFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "target", Usage: "base URL to replay against, http:// or https:// (required)"},
		&cli.StringFlag{Name: "speed", Value: "1", Usage: "time compression from 0.001 to 1000000: 10 (or 10x) replays ten times faster; max: as fast as the target answers, --max-in-flight at once (a capacity test)"},
		&cli.StringFlag{Name: "auth-token", EnvVars: []string{"AUTH_TOKEN"}, Usage: "bearer token replacing recorded ones (headers and token query parameters)"},
		&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "'Name: value' set on every request (repeatable)"},
		&cli.StringSliceFlag{Name: "drop-header", Usage: "header removed from every request (repeatable)"},
		&cli.StringSliceFlag{Name: "threshold", Usage: "pass/fail criterion or named set such as hap-19 (repeatable)"},
		&cli.BoolFlag{Name: "exact-ids", Usage: "send client-made values (session tags, machine and artifact ids, kv keys) as recorded in the first copy, for exact-delivery tests; by default every run gives them values of its own"},
		&cli.BoolFlag{Name: "fresh-ids", Hidden: true, Usage: "the default: client-made values of this run's own"},
		&cli.StringFlag{Name: "run-tag", Usage: "`TAG` the run's own client-made values derive from: the same tag gives the same ids again; default random, printed after the run"},
		&cli.StringSliceFlag{Name: "only", Usage: "replay only the endpoints matching `PATTERN` ('GET /health', '/v1/sessions*', 'WS /v1/updates'; * is any characters); repeatable"},
		&cli.StringSliceFlag{Name: "skip", Usage: "leave out the endpoints matching `PATTERN` (as --only); repeatable"},
		&cli.BoolFlag{Name: "http1", Usage: "force HTTP/1.1 on https:// targets (HTTP/2 is used when offered)"},
		&cli.BoolFlag{Name: "net-http", Hidden: true, Usage: "send plain-HTTP requests with net/http's client instead of reprise's own HTTP/1.1 client (for comparing the two)"},
		&cli.BoolFlag{Name: "insecure", Usage: "skip TLS certificate verification"},
		&cli.StringSliceFlag{Name: "ca-cert", Usage: "PEM `FILE` of CA certificates to trust beside the system's (a private CA); repeatable"},
		&cli.StringFlag{Name: "cert", Usage: "client certificate `FILE` (PEM) for mutual TLS, with --key"},
		&cli.StringFlag{Name: "key", Usage: "private key `FILE` (PEM, unencrypted) of --cert"},
		&cli.StringSliceFlag{Name: "resolve", Usage: "`HOST:PORT:ADDR`: connect to ADDR for HOST:PORT, still sending HOST as Host and TLS name, as curl's --resolve (IPv6 ADDR in brackets); repeatable"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "per request and WebSocket handshake"},
		&cli.IntFlag{Name: "max-in-flight", Value: 10000, Usage: "bound on requests in flight; requests over it are counted as not sent"},
		&cli.IntFlag{Name: "max-conns", Value: engine.DefaultMaxConns, Usage: "bound on connections open to the target (HTTP and WebSocket); within it each recorded user keeps at most the connections it opened in the recording, and requests beyond queue as at real clients"},
		&cli.DurationFlag{Name: "grace", Aliases: []string{"graceful-stop"}, Value: 5 * time.Second, Usage: "how long past --duration (or a profile's end) what is in flight may finish before it is cut and counted"},
		&cli.DurationFlag{Name: "max-lag", Value: 5 * time.Second, Usage: "how late a request may go out before it is counted as not sent"},
		&cli.DurationFlag{Name: "duration", Usage: "stop after this much replay time"},
		&cli.DurationFlag{Name: "max-gap", Usage: "cut idle gaps between records longer than this (corpus time) down to it, e.g. 10s for a HAR of sessions days apart"},
		&cli.StringFlag{Name: "start-at", Usage: "wait until `TIME` to start, once the corpus is read and the target checked: RFC 3339 (2026-12-03T10:00:00Z) or +DURATION from now (+30s); shards given one TIME send their first events together"},
		&cli.StringFlag{Name: "shard", Usage: "replay shard i/N of the flows (0-based), for merging with replay merge; auto/N takes i from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)"},
		&cli.BoolFlag{Name: "no-correlate", Usage: "send recorded values verbatim (no carrying of ids and tokens from responses)"},
		&cli.BoolFlag{Name: "no-shapes", Usage: "do not decode JSON responses for their shape (saves CPU at very high rates; no shape_checks)"},
		&cli.BoolFlag{Name: "allow-origin", Usage: "allow replaying at the corpus's recorded origin host"},
		&cli.BoolFlag{Name: "allow-truncated", Usage: "replay a corpus its recorder did not close (killed): what it holds up to its last whole block"},
		&cli.BoolFlag{Name: "follow-redirects", Usage: "follow redirects to the target's own host (other hosts never)"},
		&cli.StringFlag{Name: "flow-order", Value: "sent", Usage: "sent: a request follows the previous one of its flow on the wire (open model); answered: also waits for its answer when the recording did"},
		&cli.IntFlag{Name: "max-endpoints", Value: 40, Usage: "rows of the endpoint table (busiest first), 0 for all"},
		&cli.IntFlag{Name: "multiply", Usage: "run N copies of the whole corpus at once, each with its own client-made ids"},
		&cli.IntFlag{Name: "users", Usage: "virtual users at once (k6 VUs): each replays one recorded user per iteration, then the next; with --profile, its peak"},
		&cli.StringFlag{Name: "profile", Usage: "k6 load profile in VUs: smoke, average, stress, spike, endurance"},
		&cli.StringFlag{Name: "stages", Usage: "custom k6 stages in VUs, DURATION:VUS ramps: '30s:1,1m:10,30s:0'"},
		&cli.DurationFlag{Name: "graceful-ramp-down", Value: schedule.DefaultGracefulRampDown, Usage: "how long a VU a ramp-down stops may finish its iteration (k6's gracefulRampDown)"},
		&cli.BoolFlag{Name: "loop", Usage: "with --multiply, repeat the corpus with fresh ids until --duration ends (VUs always iterate)"},
		&cli.DurationFlag{Name: "stagger", Value: time.Second, Usage: "copy or VU k of N starts k*stagger/N after it becomes active (0: together)"},
		&cli.StringFlag{Name: "auth-tokens", Usage: "file of bearer tokens, one per line, of distinct accounts: each recorded user of each copy gets one (instead of --auth-token)"},
	}
}

// replayOptions reads the replay flags, and the network options into the
// way to the target (TLS, --resolve, proxies from the environment).
func replayOptions(c *cli.Context, corpusPath string) (replay.Options, *netconf.Network, error) {
	o, err := readReplayFlags(c, corpusPath)
	if err != nil {
		return o, nil, err
	}
	nw, err := netconf.New(netconf.Options{
		CACerts:     c.StringSlice("ca-cert"),
		Cert:        c.String("cert"),
		Key:         c.String("key"),
		Resolve:     c.StringSlice("resolve"),
		Insecure:    c.Bool("insecure"),
		DialTimeout: min(o.Engine.Timeout, 10*time.Second),
	})
	if err != nil {
		return o, nil, usageError{err}
	}
	o.Engine.TLSConfig = nw.TLS
	o.Engine.DialContext = nw.DialContext
	o.Engine.Proxy = nw.Proxy
	return o, nw, nil
}

// readReplayFlags reads every replay flag but the network ones.
func readReplayFlags(c *cli.Context, corpusPath string) (replay.Options, error) {
	var o replay.Options
	o.Corpus = corpusPath
	raw := c.String("target")
	if raw == "" {
		return o, usageError{errors.New("--target is required: the base URL to replay against, for example --target http://127.0.0.1:8787")}
	}
	target, err := url.Parse(raw)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return o, usageError{fmt.Errorf("--target %q: want an http:// or https:// URL with a host", raw)}
	}
	maxRate := strings.EqualFold(strings.TrimSpace(c.String("speed")), "max")
	speed := 1.0
	if !maxRate {
		speed, err = parseSpeed(c.String("speed"))
		if err != nil {
			return o, usageError{err}
		}
	}
	o.Schedule = schedule.Options{Speed: speed}
	if s := c.String("shard"); s != "" {
		i, n, err := parseShard(s)
		if err != nil {
			return o, usageError{err}
		}
		o.Schedule.Shard, o.Schedule.Shards = i, n
	}
	if s := c.String("start-at"); c.IsSet("start-at") {
		at, err := replay.ParseStartAt(s, time.Now())
		if err != nil {
			return o, usageError{fmt.Errorf("--start-at %q: %w", s, err)}
		}
		o.StartAt = at
	}
	var set traffic.Fields
	for _, h := range c.StringSlice("header") {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(strings.TrimSpace(name), " \t") {
			return o, usageError{fmt.Errorf("--header %q: want 'Name: value'", h)}
		}
		set = append(set, traffic.Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	for _, name := range []string{"timeout", "max-lag", "duration"} {
		if c.Duration(name) < 0 {
			return o, usageError{fmt.Errorf("--%s must not be negative", name)}
		}
	}
	if fo := c.String("flow-order"); fo != "sent" && fo != "answered" {
		return o, usageError{fmt.Errorf("--flow-order %q: want sent or answered", fo)}
	}
	if c.Int("max-conns") < 1 {
		return o, usageError{errors.New("--max-conns must be at least 1")}
	}
	if c.Duration("grace") < 0 {
		return o, usageError{errors.New("--grace must not be negative")}
	}
	if c.Int("max-in-flight") < 1 {
		return o, usageError{errors.New("--max-in-flight must be at least 1")}
	}
	o.Engine = engine.Config{
		Target:          target,
		HTTP1:           c.Bool("http1"),
		NetHTTP:         c.Bool("net-http"),
		Insecure:        c.Bool("insecure"),
		Timeout:         c.Duration("timeout"),
		MaxInFlight:     c.Int("max-in-flight"),
		MaxRate:         maxRate,
		MaxConns:        c.Int("max-conns"),
		Grace:           c.Duration("grace"),
		MaxLag:          c.Duration("max-lag"),
		Duration:        c.Duration("duration"),
		AuthToken:       c.String("auth-token"),
		SetHeaders:      set,
		DropHeaders:     c.StringSlice("drop-header"),
		FollowRedirects: c.Bool("follow-redirects"),
		WaitForAnswers:  c.String("flow-order") == "answered",
		NoShapes:        c.Bool("no-shapes"),
	}
	filter, err := replay.ParseFilter(c.StringSlice("only"), c.StringSlice("skip"))
	if err != nil {
		return o, usageError{err}
	}
	o.Filter = filter
	if c.Bool("exact-ids") && (c.IsSet("run-tag") || c.Bool("fresh-ids")) {
		return o, usageError{errors.New("--exact-ids sends the recorded ids; --run-tag and --fresh-ids give the run its own: give one")}
	}
	if !c.Bool("exact-ids") {
		tag, err := runTag(c.String("run-tag"))
		if err != nil {
			return o, usageError{err}
		}
		o.RunTag = tag
	}
	o.NoCorrelate = c.Bool("no-correlate")
	o.AllowOrigin = c.Bool("allow-origin")
	o.AllowTruncated = c.Bool("allow-truncated")
	load := schedule.Load{Multiply: c.Int("multiply"), Users: c.Int("users"), Profile: c.String("profile")}
	if s := c.String("stages"); s != "" {
		st, err := schedule.ParseStages(s)
		if err != nil {
			return o, usageError{fmt.Errorf("--stages %q: %w", s, err)}
		}
		load.Stages = st
	}
	if err := load.Validate(); err != nil {
		return o, usageError{fmt.Errorf("load: %w", err)}
	}
	if c.Duration("stagger") < 0 || c.Duration("stagger") > time.Hour {
		return o, usageError{errors.New("--stagger must be between 0 and 1h")}
	}
	if g := c.Duration("graceful-ramp-down"); g < 0 || g > time.Hour {
		return o, usageError{fmt.Errorf("--graceful-ramp-down %v: want 0 to 1h", g)}
	}
	o.Load = load
	o.Schedule.Stagger = c.Duration("stagger")
	o.Schedule.GracefulRampDown = c.Duration("graceful-ramp-down")
	o.Schedule.Loop = c.Bool("loop")
	o.Schedule.MaxGap = c.Duration("max-gap")
	if o.Schedule.MaxGap < 0 {
		return o, usageError{fmt.Errorf("--max-gap %v must not be negative", o.Schedule.MaxGap)}
	}
	shape := schedule.StagesDuration(load.Stages)
	if p, ok := schedule.LookupProfile(load.Profile); ok {
		shape = schedule.StagesDuration(p.Stages)
	}
	if o.Engine.Duration == 0 {
		// the profile's end is the run's: progress shows it
		o.Engine.Duration = shape
	}
	if o.Schedule.Loop && o.Engine.Duration == 0 {
		return o, usageError{errors.New("--loop repeats the corpus until the run ends: give --duration, --profile or --stages")}
	}
	if path := c.String("auth-tokens"); path != "" {
		if o.Engine.AuthToken != "" {
			return o, usageError{errors.New("--auth-tokens and --auth-token (or AUTH_TOKEN) are exclusive: give one")}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return o, usageError{fmt.Errorf("--auth-tokens: %w", err)}
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				o.AuthTokens = append(o.AuthTokens, line)
			}
		}
		if len(o.AuthTokens) == 0 {
			return o, usageError{fmt.Errorf("--auth-tokens %s: no tokens in the file (one per line)", path)}
		}
	}
	out := c.App.Writer
	o.Announce = func(plan string) { fmt.Fprintln(out, plan) }
	errOut := c.App.ErrWriter
	o.Waiting = func(until time.Time) {
		fmt.Fprintf(errOut, "corpus read, target checked: waiting until %s (in %s) to start, as --start-at says\n",
			replay.FormatStart(until), max(time.Until(until), 0).Round(time.Millisecond))
	}
	return o, nil
}

// beforeSending runs once the corpus is read, before anything is sent:
// it checks each target the way the run reaches it (through a proxy or
// --resolve, and a TLS handshake for https://; a target dialled directly
// was checked by the replay's own preflight), then the --out files, and
// makes their directories. A run that waits for --start-at makes them when
// it writes the results: an interrupted wait leaves none behind.
func beforeSending(c *cli.Context, nw *netconf.Network, opts replay.Options, outs []output, targets ...*url.URL) error {
	for _, t := range targets {
		if nw != nil && (t.Scheme == "https" || !nw.Direct(t)) {
			if err := nw.Check(c.Context, t, opts.Engine.Timeout); err != nil {
				return err
			}
		}
	}
	if !opts.StartAt.IsZero() {
		for _, o := range outs {
			if err := checkOut(o.path); err != nil {
				return fmt.Errorf("--out %s=%s: %w", o.format, o.path, err)
			}
		}
		return nil
	}
	return makeOutDirs(outs)
}

// notStarted explains a replay that ended before it started: interrupted
// (while waiting for --start-at, or before), or refused.
func notStarted(c *cli.Context, err error, opts replay.Options, target *url.URL) error {
	if errors.Is(err, replay.ErrStartInterrupted) {
		return interruptedError{what: fmt.Sprintf("while waiting for --start-at %s, %s before it (%s): nothing was sent, no report written",
			replay.FormatStart(opts.StartAt), max(time.Until(opts.StartAt), 0).Round(time.Millisecond), context.Cause(c.Context))}
	}
	if c.Context.Err() != nil {
		return interruptedError{what: "before the run started (" + context.Cause(c.Context).Error() + "): nothing was sent, no report written"}
	}
	return explainDNS(corpusHint(err, opts.Corpus), target)
}

// replayAndReport runs the replay, prints the summary, writes outputs and
// turns breached thresholds into the exit code. nw, when set, is the way
// to the target that the engine was given (replayOptions).
func replayAndReport(c *cli.Context, opts replay.Options, nw *netconf.Network, ths report.Thresholds, outs []output) error {
	defer gctune.Start()()
	target := opts.Engine.Target
	// The replay's own preflight dials the target's host directly: right
	// unless a proxy or --resolve stands between. The full check (through
	// them, and a TLS handshake for https://) runs once the corpus has
	// been read, before anything is sent.
	opts.Preflight = nw == nil || nw.Direct(target)
	opts.CheckEndpoints = func(known []string) error {
		if err := ths.Check(known); err != nil {
			return usageError{fmt.Errorf("--threshold: %w", err)}
		}
		return beforeSending(c, nw, opts, outs, target)
	}
	out, err := replay.Run(c.Context, opts)
	if out == nil {
		return notStarted(c, err, opts, target)
	}
	snap := out.Snapshot
	verdicts := report.Evaluate(snap, ths)
	snap.Thresholds = verdicts.Results()
	if opts.Progress != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
	if perr := report.Summary(c.App.Writer, snap, report.SummaryOptions{Verdicts: verdicts, MaxEndpoints: c.Int("max-endpoints")}); perr != nil {
		return perr
	}
	netLines, netErr := networkNotes(c.Context, nw, opts.Engine, snap)
	notes(c.App.Writer, out, netLines...)
	for _, o := range outs {
		if werr := writeOutput(o, snap, verdicts); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if out.Aborted != "" {
		return breachError{max(verdicts.Failed(), 1), fmt.Sprintf("run stopped after %s: %s", out.AbortedAt.Round(time.Second), out.Aborted)}
	}
	if i := snap.Meta.Interrupted; i != nil {
		ie := interruptedError{what: fmt.Sprintf("after %s (%s): the report covers what was sent before it", i.At.Round(time.Millisecond), i.Reason)}
		if len(outs) > 0 {
			ie.what += ", and so do the --out results (marked \"interrupted\")"
		}
		if n := verdicts.Failed(); n > 0 {
			ie.more = fmt.Sprintf("%d threshold(s) breached", n)
		}
		return ie
	}
	a, aerr := snap.Accounting()
	if aerr == nil && a.Scheduled == 0 && out.LeftOut > 0 {
		return fmt.Errorf("--only/--skip left none of the corpus's %d events to replay (replay inspect lists its endpoints)", out.LeftOut)
	}
	if aerr == nil && a.Scheduled > 0 && a.Completed == 0 {
		return fmt.Errorf("no request reached %s: all %d scheduled events failed or were not sent (see the report above)", opts.Engine.Target, a.Scheduled)
	}
	if netErr != nil {
		return netErr
	}
	if n := verdicts.Failed(); n > 0 {
		return breachError{n: n}
	}
	return nil
}

// notes prints what the reader needs to know beyond the numbers, extra
// lines last.
func notes(w io.Writer, out *replay.Outcome, extra ...string) {
	var lines []string
	if sat, ok := out.Snapshot.Saturation(); ok {
		lines = append(lines, fmt.Sprintf("target saturated at about %.0f req/s from t=%s: %d results from then on timed out, were refused or reset, got 429 or 5xx, or were kept back (%d requests completed)",
			sat.Rate, sat.At, sat.Overloaded, sat.Completed))
	}
	if l := authHint(out.Snapshot); l != "" {
		lines = append(lines, l)
	}
	if out.Aborted != "" {
		lines = append(lines, fmt.Sprintf("run stopped after %s by --abort-threshold: %s (the rest of the corpus was not replayed)", out.AbortedAt.Round(time.Second), out.Aborted))
	}
	if m := out.Snapshot.Meta; !m.StartAt.IsZero() && m.Start.Sub(m.StartAt) > lateStart {
		lines = append(lines, fmt.Sprintf("started %s after --start-at %s (the corpus and the target check took longer than the wait, or the machine is overloaded): this run's events are that much later than those of runs that started on time",
			m.Start.Sub(m.StartAt).Round(time.Millisecond), replay.FormatStart(m.StartAt)))
	}
	if out.LeftOut > 0 {
		lines = append(lines, fmt.Sprintf("%d events left out by --only/--skip (not scheduled; a request that used an id from a left-out response is sent with the recorded id)", out.LeftOut))
	}
	if out.Corpus.Truncated {
		lines = append(lines, fmt.Sprintf("corpus tail cut (recorder did not close it): replayed the %d records up to its last whole block", out.Corpus.Records))
	}
	if out.Schedule.Late > 0 {
		lines = append(lines, fmt.Sprintf("%d records were later in the corpus than the reorder window and went out late", out.Schedule.Late))
	}
	if out.Links > 0 {
		l := fmt.Sprintf("correlation: %d values carried from responses into later requests", out.Links)
		if out.Misses > 0 {
			l += fmt.Sprintf(" (%d not found in the live response; recorded value sent)", out.Misses)
		}
		lines = append(lines, l)
	}
	if w := out.Engine.ConnWaits; w > 0 {
		lines = append(lines, fmt.Sprintf("connections: %d new connections waited for a slot under --max-conns (at most %d open at once): the target was slower than the clients could keep up with", w, out.Engine.PeakConns))
	}
	if out.Waits > 0 {
		lines = append(lines, fmt.Sprintf("dependencies: %d requests waited for the answer to the request that made a value they use (an id the client made), as the recording did", out.Waits))
	}
	if out.Orders > 0 {
		lines = append(lines, fmt.Sprintf("order: %d writes waited for the answers to earlier uses of the value they change (a delete after its read), as the recording did", out.Orders))
	}
	if n := sumCounts(out.Undecoded); n > 0 {
		lines = append(lines, fmt.Sprintf("%d live response bodies could not be decoded (%s): correlation and shape checks skipped them", n, countList(out.Undecoded)))
	}
	if n := sumCounts(out.RecordedUndecoded); n > 0 {
		lines = append(lines, fmt.Sprintf("%d recorded bodies could not be decoded (%s): values in them were not carried", n, countList(out.RecordedUndecoded)))
	}
	if out.RunTag != "" {
		lines = append(lines, fmt.Sprintf("run tag %s: client-made values (tags, ids, keys) were this run's own (--run-tag %s gives the same again, --exact-ids sends the recorded ones)", out.RunTag, out.RunTag))
	}
	if id := out.Identities; id.Events > 0 {
		l := fmt.Sprintf("copies: %d client-made values given per-copy variants in %d events", id.ClientValues, id.Events)
		if out.Schedule.VUs > 0 {
			l = fmt.Sprintf("virtual users: %d client-made values given variants of each iteration's own in %d events", id.ClientValues, id.Events)
		}
		if id.Accounts > 0 {
			l += fmt.Sprintf("; %d accounts from --auth-tokens in use", id.Accounts)
		}
		lines = append(lines, l)
	}
	if out.Schedule.Stopped > 0 && out.Schedule.VUs == 0 {
		lines = append(lines, fmt.Sprintf("%d copy rounds were stopped by the load shape before their end (their remaining events not scheduled)", out.Schedule.Stopped))
	}
	for reason, n := range out.Engine.Skipped {
		lines = append(lines, fmt.Sprintf("%d requests skipped, not scheduled: %s (logins whose signature or password was redacted; the requests that used their tokens keep the recorded identities)", n, reason))
	}
	if lag := out.Engine.MaxLag; lag > 50*time.Millisecond {
		lines = append(lines, fmt.Sprintf("the dispatcher ran up to %s behind schedule (machine overloaded?)", lag.Round(time.Millisecond)))
	}
	lines = append(lines, extra...)
	writeNotes(w, lines)
}

// lateStart is how late after --start-at a run may start before a note
// says so: shards within it start together.
const lateStart = 20 * time.Millisecond

type output struct {
	format, path string
}

// authHint explains a run whose failures are mostly 401 and 403: the
// target refused the recorded credentials.
func authHint(s *metrics.Snapshot) string {
	o := s.Overall
	if o == nil || o.Failed == 0 {
		return ""
	}
	n := o.FailedStatuses[401] + o.FailedStatuses[403]
	if n == 0 || 2*n < o.Failed {
		return ""
	}
	return fmt.Sprintf("%d of %d failures are 401/403: the target refused the recorded credentials; give it a token of its own with --auth-token (or AUTH_TOKEN), one per account with --auth-tokens FILE, or run the built-in server with replay serve --any-token", n, o.Failed)
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// countList writes counts by cause, the largest first: "br: corrupt
// stream ×3, gzip: corrupt stream ×1".
func countList(m map[string]int64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return cmp.Compare(m[b], m[a])
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// runTag checks a --run-tag, or makes a random one: every run gives the
// values its client made (tags, ids, keys) variants of its own, so a
// second replay at one target never meets the first one's data.
func runTag(tag string) (string, error) {
	if tag == "" {
		var b [3]byte
		rand.Read(b[:])
		return "r" + hex.EncodeToString(b[:]), nil
	}
	if strings.ContainsAny(tag, " \t/?#&=\"<>%") {
		return "", fmt.Errorf("--run-tag %q: use letters, digits, - and _", tag)
	}
	return tag, nil
}

// parseOuts reads --out FORMAT=FILE values, FORMAT one of formats, and
// checks that each FILE can be written, so that the results of a long
// run are not lost at its end: it must not be a directory, and the
// nearest directory above it that exists must take files. Nothing is
// created here: makeOutDirs makes the missing directories when the run
// starts (a run refused before, a target that does not answer, leaves
// none behind).
func parseOuts(specs []string, formats ...string) ([]output, error) {
	var outs []output
	for _, s := range specs {
		format, path, ok := strings.Cut(s, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("--out %q: want FORMAT=FILE, for example json=results.json", s)
		}
		if !slices.Contains(formats, format) {
			return nil, fmt.Errorf("--out %q: unknown format %q (known: %s)", s, format, strings.Join(formats, ", "))
		}
		if err := checkOut(path); err != nil {
			return nil, fmt.Errorf("--out %s: %w", s, err)
		}
		outs = append(outs, output{format, path})
	}
	return outs, nil
}

// checkOut checks that a file can be written at path (see parseOuts).
func checkOut(path string) error {
	if fi, err := os.Stat(path); (err == nil && fi.IsDir()) || strings.HasSuffix(path, string(filepath.Separator)) {
		return fmt.Errorf("%s is a directory: give a file in it, such as %s", path, filepath.Join(path, "results.json"))
	}
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory, so %s cannot be made", dir, filepath.Dir(path))
			}
			break
		}
		// not there (or under a file): look above
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		dir = up
	}
	// Permissions alone do not say it (root, read-only mounts): try.
	probe, err := os.CreateTemp(dir, ".reprise-out-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, errors.Unwrap(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// makeOutDirs makes the directories the outputs go in.
func makeOutDirs(outs []output) error {
	for _, o := range outs {
		if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
			return fmt.Errorf("--out %s=%s: %w", o.format, o.path, err)
		}
	}
	return nil
}

func writeOutput(o output, snap *metrics.Snapshot, vs report.Verdicts) error {
	if err := makeOutDirs([]output{o}); err != nil {
		return err
	}
	write := report.WriteJSON
	if o.format == "html" {
		write = report.WriteHTML
	}
	// Results hold no secrets: readable like any report.
	err := writeAtomic(o.path, 0o644, func(w io.Writer) error { return write(w, snap, vs) })
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.path, err)
	}
	return nil
}

// The range of --speed: from a thousand times slower than recorded to a
// million times faster.
const (
	minSpeed = 0.001
	maxSpeed = 1e6
)

// parseSpeed reads --speed: a factor such as 10, 10x or 0.5.
func parseSpeed(s string) (float64, error) {
	raw := strings.TrimSpace(s)
	if strings.EqualFold(raw, "max") {
		return 0, fmt.Errorf("--speed max: a max-rate run is for replay run; give a factor from %g to %.0f here, such as 10", minSpeed, maxSpeed)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(raw, "x"), "X"), 64)
	if err != nil {
		return 0, fmt.Errorf("--speed %q: want a factor from %g to %.0f, such as 10 (ten times faster) or 0.5", s, minSpeed, maxSpeed)
	}
	if !(v >= minSpeed && v <= maxSpeed) { // NaN too
		return 0, fmt.Errorf("--speed %q: out of range: want a factor from %g to %.0f, such as 10 (ten times faster) or 0.5", s, minSpeed, maxSpeed)
	}
	return v, nil
}

// parseShard reads --shard i/N; "auto/N" takes i from the
// JOB_COMPLETION_INDEX that a Kubernetes Indexed Job gives each pod.
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	if strings.TrimSpace(a) == "auto" {
		idx, set := os.LookupEnv("JOB_COMPLETION_INDEX")
		if !set {
			return 0, 0, fmt.Errorf("--shard %q: JOB_COMPLETION_INDEX is not set (it is in a Kubernetes Indexed Job); give i/N instead", s)
		}
		a = idx
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/N with 0 <= i < N, for example 0/4", s)
	}
	return i, n, nil
}

// progressPrinter returns a live progress callback when w is a terminal.
func progressPrinter(w io.Writer, total time.Duration) func(metrics.Progress, time.Duration) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(p metrics.Progress, elapsed time.Duration) {
		fmt.Fprintf(w, "\r\033[K%s", report.ProgressLine(p, elapsed, total))
	}
}
