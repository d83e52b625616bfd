package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// Events yields scheduled events in order; *schedule.Schedule is one.
type Events interface {
	Next(ctx context.Context) (schedule.Event, error)
}

// Config configures one lane of a run: one target and everything that
// talks to it. Target is required; the rest has working defaults. Duration
// is a property of the run: RunLanes takes it from the first lane.
type Config struct {
	// Target is the base URL requests go to ("http://127.0.0.1:8787").
	// A path in it is prefixed to every recorded path.
	Target *url.URL
	// Transport sends HTTP requests; nil builds one from the options below.
	Transport http.RoundTripper
	// HTTP1 disables HTTP/2 (otherwise used on https:// when the server
	// offers it).
	HTTP1 bool
	// NetHTTP sends plain-HTTP requests through net/http's transport
	// instead of the lane's own HTTP/1.1 client (h1Transport).
	NetHTTP bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// TLSConfig is the client TLS configuration of HTTP and WebSocket
	// connections (roots, client certificate; see package netconf); it is
	// cloned, and Insecure still applies. Nil: the system's roots.
	TLSConfig *tls.Config
	// DialContext opens the TCP connections of HTTP and WebSocket
	// (netconf's applies --resolve overrides); nil dials directly.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy picks the proxy of a request, HTTP and WebSocket handshake
	// alike (http.ProxyFromEnvironment semantics in netconf); nil: none.
	Proxy func(*http.Request) (*url.URL, error)
	// Timeout bounds one request from send to the end of its body, and
	// one WebSocket handshake (default 30s).
	Timeout time.Duration
	// MaxInFlight bounds requests in flight (default 10000).
	MaxInFlight int
	// MaxConns bounds the connections open to the target at once, HTTP
	// and WebSocket (default DefaultMaxConns); within it, each recorded
	// user of each copy holds at most as many connections as it opened
	// in the recording (analysis.Facts.UserConns). Requests beyond queue
	// for a connection, as they would at real clients.
	MaxConns int
	// MaxLag is how late an event may go out before it is counted as not
	// sent (default 5s).
	MaxLag time.Duration
	// WaitForAnswers makes a request of a flow wait for the previous
	// request's answer when the recording had that answer before it
	// started (a client that sends one request after another), instead of
	// only for the previous request to be sent (the open model, default).
	// Waiting shows in latency, which still runs from the intended time.
	WaitForAnswers bool
	// MaxRate paces the run as fast as it can go instead of at the
	// recorded times (--speed max): each event goes out as soon as a
	// request slot under MaxInFlight is free and its flow's order and
	// dependencies allow, a closed loop like vegeta -rate=0 or wrk, for
	// capacity tests. Latency then runs from when the event was
	// dispatched. RunLanes takes it from the first lane.
	MaxRate bool
	// Duration stops dispatching events intended after it (zero: no cap);
	// what is still in flight Grace after it is cut (counted as failed,
	// ErrCut), so the run ends on time.
	Duration time.Duration
	// Grace is how long past Duration in-flight work may finish (default
	// 5s; negative cuts at once).
	Grace time.Duration
	// AuthToken replaces recorded bearer tokens and token query
	// parameters.
	AuthToken string
	// SetHeaders are set on every request (replacing recorded values);
	// DropHeaders are removed.
	SetHeaders  traffic.Fields
	DropHeaders []string
	// FollowRedirects follows redirects to the target's own host; other
	// hosts are never followed.
	FollowRedirects bool
	// Endpoint names the route of a request from its method ("WS" for a
	// WebSocket upgrade) and recorded request target, for events that
	// come without analysis.Facts; nil uses the method and path.
	Endpoint func(method, path string) string
	// NoShapes turns off the JSON shape of responses (Result.Shape), which
	// costs a decode of every JSON body up to 64 KiB.
	NoShapes bool
	// Results receives every result; it is called from many goroutines.
	Results func(traffic.Result)
	// Observe, when set, receives what the target answered: every HTTP
	// response (its body read through its content coding, up to 1 MiB) and
	// every server WebSocket message, for comparisons of content. It is
	// called from many goroutines, before the event's result.
	Observe func(Observation)
	// Correlator adapts requests to values the live run returned; nil
	// replays recorded values as they are. A lane owns its Correlator:
	// two lanes never share one.
	Correlator correlate.Planner
	// Identities gives each copy and round of the traffic values of its
	// own (and pool tokens); nil sends the recorded values. Owned by the
	// lane, like the Correlator.
	Identities *correlate.Identities
	// Profile knows the conventions of the API's WebSocket messages
	// (replies to calls, pushes caused by HTTP requests); nil is Generic.
	Profile Profile
	// Logger gets warnings; nil discards.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Target == nil || c.Target.Host == "" {
		return errors.New("a target URL is required (--target http://host:port)")
	}
	switch c.Target.Scheme {
	case "http", "https":
	default:
		return fmt.Errorf("target scheme %q not supported: use http:// or https://", c.Target.Scheme)
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 10000
	}
	if c.MaxLag == 0 {
		c.MaxLag = 5 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConns < 0 {
		return errors.New("max conns must be positive")
	}
	if c.Grace == 0 {
		c.Grace = 5 * time.Second
	}
	c.Grace = max(c.Grace, 0)
	if c.Timeout < 0 || c.MaxInFlight < 0 || c.MaxLag < 0 || c.Duration < 0 {
		return errors.New("timeout, max in flight, max lag and duration must be positive")
	}
	if c.Endpoint == nil {
		c.Endpoint = analysis.DefaultRoute
	}
	if c.Results == nil {
		c.Results = func(traffic.Result) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Profile == nil {
		c.Profile = Generic{}
	}
	return nil
}

// Observation is one answer of the target (Config.Observe).
type Observation struct {
	// Seq is the schedule sequence number of the event: the exchange, or
	// the WebSocket connection's open.
	Seq uint64
	// Kind is ResultHTTP for a response, ResultWSSession for a server
	// message of a connection.
	Kind     traffic.ResultKind
	Endpoint string
	Label    string
	// Status and Header of an HTTP response (Status 0: no response).
	Status int
	Header http.Header
	// Body is the response body or message payload (nil when none, not
	// read, or not decodable).
	Body []byte
	// Index numbers a connection's server messages from 0; Text says a
	// message was text.
	Index int
	Text  bool
}

// Stats summarises one lane of a run.
type Stats struct {
	// Scheduled counts actionable events: each yields one result.
	Scheduled int64
	// ScheduledByKind splits Scheduled by the kind of result the events
	// yield ("http", "ws-connect", "ws-send", "ws-session").
	ScheduledByKind map[string]int64
	// Results counts results emitted (equal to Scheduled after Run).
	Results int64
	// Skipped counts exchanges the correlator said not to send, by reason;
	// they are not scheduled.
	Skipped map[string]int64
	// Ignored counts events that need no action (recorded server messages,
	// client pongs that the WebSocket library sends itself).
	Ignored int64
	// Start is when the run started; Elapsed how long it took, from the
	// first intended time to the last result.
	Start   time.Time
	Elapsed time.Duration
	// LastIntended is the intended time of the last event dispatched.
	LastIntended time.Duration
	// MaxInFlight is the most requests in flight at once.
	MaxInFlight int64
	// PeakConns is the most connections open to the target at once;
	// ConnWaits counts connections that waited for a slot under MaxConns.
	PeakConns, ConnWaits int64
	// Undecoded counts live response bodies whose content coding could
	// not be read (correlation, shapes and push matching skipped them), by
	// cause ("br: corrupt stream").
	Undecoded map[string]int64
	// MaxLag is the largest dispatch lag (the dispatcher's own lateness).
	MaxLag time.Duration
	// Interrupted is set when the context ended the run early.
	Interrupted bool
}

// Run replays events against cfg.Target until the schedule ends, Duration
// passes or ctx is done, then waits for what is in flight (bounded by
// Timeout). Per-event failures are results, not errors: Run fails only on
// bad configuration or an unreadable schedule.
func Run(ctx context.Context, cfg Config, events Events) (Stats, error) {
	st, err := RunLanes(ctx, []Config{cfg}, events)
	if len(st) == 0 {
		return Stats{}, err
	}
	return st[0], err
}

// RunLanes replays events against every lane's target at once: one
// dispatcher owns the clock and hands each event, at its intended time,
// to every lane, which sends it to its own target with its own
// connections, identities, correlation and results. The stats are in the
// order of cfgs.
func RunLanes(ctx context.Context, cfgs []Config, events Events) ([]Stats, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("no target to replay against")
	}
	d := &dispatcher{duration: cfgs[0].Duration, maxRate: cfgs[0].MaxRate}
	for i := range cfgs {
		cfg := cfgs[i]
		if err := cfg.validate(); err != nil {
			return nil, err
		}
		d.grace = cfg.Grace
		d.lanes = append(d.lanes, newLane(cfg, &d.clock))
	}
	defer func() {
		for _, l := range d.lanes {
			l.closeIdle()
		}
	}()
	return d.run(ctx, events)
}

// clock is the run's time: offsets from one monotonic start, set by the
// dispatcher before the first event and read-only afterwards.
type clock struct{ start time.Time }

// now is the offset from the run's start on the monotonic clock.
func (c *clock) now() time.Duration { return time.Since(c.start) }
