package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/proxy"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// proxyReorderWindow is how long the corpus writer holds records so that
// exchanges, which finish out of order, are written in start order.
const proxyReorderWindow = 500 * time.Millisecond

func proxyCommand() *cli.Command {
	return &cli.Command{
		Name:  "proxy",
		Usage: "record HTTP and WebSocket traffic through a reverse proxy",
		Description: `Listens on --listen, forwards every request to --upstream and records each
exchange (request, response, timings, upstream errors) and every WebSocket
message in both directions into the corpus --out. Secrets are redacted
before anything reaches disk (see --redact). Stop with Ctrl-C (SIGINT) or
SIGTERM: the corpus is closed and a one-line summary printed. The file is
written as OUT.partial and renamed on a clean stop; a killed recorder
leaves OUT.partial, readable up to its last flush.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "`ADDR` to accept clients on", Value: "127.0.0.1:8080"},
			&cli.StringFlag{Name: "upstream", Usage: "server to forward to (`URL`, for example http://localhost:8787); required"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "corpus to write (`FILE`.rpz); required"},
			&cli.Int64Flag{Name: "max-body", Usage: "`BYTES` kept per body or WebSocket message (the rest is forwarded, counted and marked truncated)", Value: proxy.DefaultMaxBody},
			&cli.DurationFlag{Name: "flush-interval", Usage: "write buffered records to disk at least this often (a crash loses at most this much)", Value: time.Second},
			&cli.BoolFlag{Name: "overwrite", Aliases: []string{"force"}, Usage: "replace an existing corpus at --out"},
			&cli.StringFlag{Name: "tls-cert", Usage: "accept HTTPS (and wss://) clients with this certificate `FILE` (PEM, with --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key `FILE` (PEM) of --tls-cert"},
		}, redactFlags()...),
		Action: runProxy,
	}
}

// redactFlags are the redaction flags every recorder shares.
func redactFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "redact", Usage: "add a redaction `RULE` (header:NAME, query:NAME, json:PATH, '*' wildcards; !RULE removes a default); repeatable"},
		&cli.BoolFlag{Name: "no-redact", Usage: "record secrets as they are (no redaction at all)"},
	}
}

// outputOptions refuses an existing corpus at out unless --overwrite (or
// its alias --force) was given, before anything is started; with it, it
// returns the writer option that replaces the file.
func outputOptions(c *cli.Context, out string) ([]corpus.WriterOption, error) {
	if c.Bool("overwrite") {
		return []corpus.WriterOption{corpus.WithOverwrite()}, nil
	}
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("%s already exists: choose another --out, remove the file, or pass --overwrite", out)
	}
	return nil, nil
}

// redactorFromFlags builds the redactor the flags ask for; nil with
// --no-redact.
func redactorFromFlags(c *cli.Context) (*redact.Redactor, error) {
	specs := c.StringSlice("redact")
	if c.Bool("no-redact") {
		if len(specs) > 0 {
			return nil, usageError{errors.New("--no-redact and --redact contradict each other: give one")}
		}
		return nil, nil
	}
	rules, err := redact.Compose(redact.DefaultRules(), specs)
	if err != nil {
		return nil, usageError{fmt.Errorf("--redact: %w", err)}
	}
	r, err := redact.New(rules)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// parseUpstream checks --upstream.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, usageError{fmt.Errorf("--upstream %q: want an absolute http:// or https:// URL such as http://localhost:8787", s)}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError{fmt.Errorf("--upstream %q: a query or fragment cannot be forwarded to; give scheme, host and optional path", s)}
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return nil, usageError{fmt.Errorf("--upstream %q: empty port", s)}
	}
	return u, nil
}

func runProxy(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("record proxy: unexpected argument %q", c.Args().First())}
	}
	if c.String("upstream") == "" {
		return usageError{errors.New("record proxy: --upstream URL is required (the server to forward to, for example http://localhost:8787)")}
	}
	upstream, err := parseUpstream(c.String("upstream"))
	if err != nil {
		return err
	}
	maxBody := c.Int64("max-body")
	if maxBody < 0 {
		return usageError{fmt.Errorf("--max-body %d: must not be negative", maxBody)}
	}
	if maxBody == 0 {
		maxBody = -1 // keep sizes only
	}
	flush := c.Duration("flush-interval")
	if flush <= 0 {
		return usageError{fmt.Errorf("--flush-interval %v: must be positive", flush)}
	}
	out := c.String("out")
	if out == "" {
		return usageError{errors.New("--out: give the corpus file to write")}
	}
	red, err := redactorFromFlags(c)
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	switch cert, key := c.String("tls-cert"), c.String("tls-key"); {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return usageError{fmt.Errorf("--tls-cert %s --tls-key %s: %v", cert, key, err)}
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{pair}}
	case cert != "" || key != "":
		return usageError{errors.New("--tls-cert and --tls-key go together: give both to accept HTTPS clients")}
	}
	opts, err := outputOptions(c, out)
	if err != nil {
		return err
	}
	stderr := c.App.ErrWriter
	stdout := c.App.Writer

	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.String("listen"), err)
	}
	defer ln.Close()

	origin := time.Now()
	clock := func() time.Duration { return time.Since(origin) }
	h := traffic.Header{
		Source:      "proxy",
		Origin:      upstream.String(),
		Created:     origin.UTC(),
		ClockOrigin: origin.UTC(),
		Meta: map[string]string{
			"listen":   ln.Addr().String(),
			"max-body": fmt.Sprint(c.Int64("max-body")),
		},
	}
	redactionHeader(&h, red)
	opts = append(opts,
		corpus.WithFlushInterval(flush),
		corpus.WithReorderWindow(proxyReorderWindow),
		corpus.WithClock(clock),
	)
	w, err := corpus.Create(out, h, opts...)
	if err != nil {
		return err
	}
	sink := redacting(w, red)
	var hash func([]byte) string
	if red != nil {
		hash = red.Hash
	}
	p, err := proxy.New(proxy.Config{
		Upstream:     upstream,
		Sink:         sink,
		MaxBody:      maxBody,
		Clock:        clock,
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		HashIdentity: hash,
		TLS:          tlsCfg,
	})
	if err != nil {
		w.Close()
		return err
	}
	redaction := fmt.Sprintf("%d redaction rules", len(h.Redactions))
	if red == nil {
		redaction = "redaction OFF"
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "record proxy: listening on %s://%s, forwarding to %s, recording to %s (%s)\n", scheme, ln.Addr(), upstream, out, redaction)

	serveErr := p.Serve(c.Context, ln)
	p.Close()
	closeErr := sink.Close()
	st := p.Stats()
	line := summary(st, time.Since(origin), out)
	if ws := w.Stats(); ws.Lost > 0 {
		line += fmt.Sprintf("; %d of %d records reached the disk, %d were in blocks that could not be written", ws.OnDisk, ws.Records, ws.Lost)
	}
	fmt.Fprintln(stdout, line)
	switch {
	case serveErr != nil:
		return fmt.Errorf("serve: %w", serveErr)
	case closeErr != nil:
		return fmt.Errorf("close corpus %s: %w (it still reads to its last whole block)", out, closeErr)
	case st.Lost > 0:
		return fmt.Errorf("%d records were not recorded: %v", st.Lost, st.SinkErr)
	}
	return nil
}

// summary is the one line printed when recording stops.
func summary(st proxy.Stats, d time.Duration, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "record proxy: %d exchanges, %d websocket connections / %d messages, %s in / %s out, %d errors, %s, recorded to %s",
		st.Exchanges, st.WSConns, st.WSMessages, byteSize(st.BytesIn), byteSize(st.BytesOut), st.Errors, d.Round(time.Millisecond), out)
	if st.Lost > 0 {
		fmt.Fprintf(&b, "; %d records LOST (%v)", st.Lost, st.SinkErr)
	}
	return b.String()
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
