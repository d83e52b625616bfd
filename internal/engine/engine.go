package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/correlate"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// Events yields scheduled events in order; *schedule.Schedule is one.
type Events interface {
	Next(ctx context.Context) (schedule.Event, error)
}

// Config configures a run. Target is required; the rest has working
// defaults.
type Config struct {
	// Target is the base URL requests go to ("http://127.0.0.1:8787").
	// A path in it is prefixed to every recorded path.
	Target *url.URL
	// Transport sends HTTP requests; nil builds one from the options below.
	Transport http.RoundTripper
	// HTTP1 disables HTTP/2 (otherwise used on https:// when the server
	// offers it).
	HTTP1 bool
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
	// MaxLag is how late an event may go out before it is counted as not
	// sent (default 5s).
	MaxLag time.Duration
	// WaitForAnswers makes a request of a flow wait for the previous
	// request's answer when the recording had that answer before it
	// started (a client that sends one request after another), instead of
	// only for the previous request to be sent (the open model, default).
	// Waiting shows in latency, which still runs from the intended time.
	WaitForAnswers bool
	// Duration stops dispatching events intended after it (zero: no cap).
	Duration time.Duration
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
	// WebSocket upgrade) and recorded request target, for example
	// "GET /v1/sessions/{id}"; nil uses the method and path.
	Endpoint func(method, path string) string
	// NoShapes turns off the JSON shape of responses (Result.Shape), which
	// costs a decode of every JSON body up to 64 KiB.
	NoShapes bool
	// Results receives every result; it is called from many goroutines.
	Results func(traffic.Result)
	// Correlator adapts requests to values the live run returned; nil
	// replays recorded values as they are.
	Correlator correlate.Planner
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
	if c.Timeout < 0 || c.MaxInFlight < 0 || c.MaxLag < 0 || c.Duration < 0 {
		return errors.New("timeout, max in flight, max lag and duration must be positive")
	}
	if c.Endpoint == nil {
		c.Endpoint = func(method, target string) string {
			if i := strings.IndexAny(target, "?#"); i >= 0 {
				target = target[:i]
			}
			return method + " " + target
		}
	}
	if c.Results == nil {
		c.Results = func(traffic.Result) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats summarises a run.
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
	if err := cfg.validate(); err != nil {
		return Stats{}, err
	}
	r := newRunner(cfg)
	defer r.client.CloseIdleConnections()
	return r.run(ctx, events)
}

type runner struct {
	cfg    Config
	client *http.Client
	dialer *net.Dialer
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsCfg *tls.Config
	start  time.Time
	slots  chan struct{}

	scheduled   atomic.Int64
	skipMu      sync.Mutex
	skipped     map[string]int64
	byKind      [8]atomic.Int64 // by traffic.ResultKind
	results     atomic.Int64
	ignored     atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	wg          sync.WaitGroup

	// flowLast is the last dispatched exchange of each flow.
	flowLast map[string]*flowStep

	ws *wsState
}

func newRunner(cfg Config) *runner {
	r := &runner{
		cfg:      cfg,
		slots:    make(chan struct{}, cfg.MaxInFlight),
		flowLast: map[string]*flowStep{},
		skipped:  map[string]int64{},
		dialer:   &net.Dialer{Timeout: min(cfg.Timeout, 10*time.Second), KeepAlive: 30 * time.Second},
		tlsCfg:   &tls.Config{InsecureSkipVerify: cfg.Insecure},
	}
	r.dial = r.dialer.DialContext
	if cfg.DialContext != nil {
		r.dial = cfg.DialContext
	}
	if cfg.TLSConfig != nil {
		r.tlsCfg = cfg.TLSConfig.Clone()
		r.tlsCfg.InsecureSkipVerify = r.tlsCfg.InsecureSkipVerify || cfg.Insecure
	}
	tr := cfg.Transport
	if tr == nil {
		t := &http.Transport{
			Proxy:               cfg.Proxy,
			DialContext:         r.dial,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: cfg.MaxInFlight,
			IdleConnTimeout:     90 * time.Second,
			TLSClientConfig:     r.tlsCfg.Clone(),
			TLSHandshakeTimeout: min(cfg.Timeout, 10*time.Second),
			ForceAttemptHTTP2:   !cfg.HTTP1,
			DisableCompression:  true,
		}
		if cfg.HTTP1 {
			t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		tr = t
	}
	r.client = &http.Client{Transport: tr, CheckRedirect: r.checkRedirect}
	r.ws = newWSState(r)
	return r
}

func (r *runner) checkRedirect(req *http.Request, via []*http.Request) error {
	if !r.cfg.FollowRedirects || req.URL.Host != r.cfg.Target.Host || len(via) >= 10 {
		return http.ErrUseLastResponse
	}
	return nil
}

// now is the offset from the run's start on the monotonic clock.
func (r *runner) now() time.Duration { return time.Since(r.start) }

// schedule counts one actionable event that will yield a result of kind.
func (r *runner) schedule(kind traffic.ResultKind) {
	r.scheduled.Add(1)
	r.byKind[kind].Add(1)
}

func (r *runner) emit(res traffic.Result) {
	r.results.Add(1)
	r.cfg.Results(res)
}

// tick is how close to its deadline the dispatcher wakes: everything due
// within it goes out together.
const tick = 500 * time.Microsecond

func (r *runner) run(ctx context.Context, events Events) (Stats, error) {
	var st Stats
	r.start = time.Now()
	st.Start = r.start
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	// In-flight work ends when the caller's context ends, or after the
	// run's grace period.
	stopOnCtx := context.AfterFunc(ctx, cancelRun)
	defer stopOnCtx()

	var readErr error
dispatch:
	for {
		ev, err := events.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				st.Interrupted = true
				break
			}
			readErr = fmt.Errorf("read schedule: %w", err)
			break
		}
		if r.cfg.Duration > 0 && ev.At > r.cfg.Duration {
			break
		}
		if wait := ev.At - r.now(); wait > tick {
			timer.Reset(wait - tick/2)
			select {
			case <-ctx.Done():
				st.Interrupted = true
				break dispatch
			case <-timer.C:
			}
		}
		if lag := r.now() - ev.At; lag > st.MaxLag {
			st.MaxLag = lag
		}
		st.LastIntended = ev.At
		r.dispatch(runCtx, ev)
	}
	if ctx.Err() != nil {
		st.Interrupted = true
	}
	// Close what the corpus left open, then wait for everything in flight.
	r.ws.finish(runCtx, st.LastIntended)
	r.wg.Wait()
	st.Scheduled = r.scheduled.Load()
	st.ScheduledByKind = map[string]int64{}
	for k := range r.byKind {
		if n := r.byKind[k].Load(); n > 0 {
			st.ScheduledByKind[traffic.ResultKind(k).String()] = n
		}
	}
	st.Results = r.results.Load()
	st.Ignored = r.ignored.Load()
	st.Skipped = r.skipped
	st.MaxInFlight = r.maxInFlight.Load()
	st.Elapsed = r.now()
	return st, readErr
}

func (r *runner) dispatch(ctx context.Context, ev schedule.Event) {
	switch ev.Record.Kind {
	case traffic.KindExchange:
		var plan correlate.Plan
		if r.cfg.Correlator != nil {
			plan = r.cfg.Correlator.Plan(ev)
		}
		if plan != nil {
			if reason := plan.Skip(); reason != "" {
				plan.Done(0, nil, nil, errSkipped)
				r.skipMu.Lock()
				r.skipped[reason]++
				r.skipMu.Unlock()
				return
			}
		}
		r.schedule(traffic.ResultHTTP)
		x := ev.Record.Exchange
		mine := &flowStep{written: make(chan struct{}), done: make(chan struct{})}
		if x.Timing.Total > 0 {
			mine.recordedEnd = x.Start + x.Timing.Total
		}
		// Keep the recorded order of the flow: a request goes on the wire
		// after the previous one of its flow (open model). With
		// WaitForAnswers it also waits for the previous answer when the
		// recording had that answer before this request started.
		var prev <-chan struct{}
		if p := r.flowLast[x.Flow]; p != nil {
			prev = p.written
			if r.cfg.WaitForAnswers && p.recordedEnd > 0 && p.recordedEnd <= x.Start {
				prev = p.done
			}
		}
		r.flowLast[x.Flow] = mine
		r.wg.Add(1)
		go r.doHTTP(ctx, ev, prev, mine, plan)
	case traffic.KindWSOpen, traffic.KindWSMessage, traffic.KindWSClose:
		r.ws.dispatch(ctx, ev)
	default:
		r.ignored.Add(1)
	}
}

// flowStep tracks one exchange for the order of its flow.
type flowStep struct {
	written     chan struct{} // closed once the request is on the wire
	done        chan struct{} // closed once the response ended
	recordedEnd time.Duration // recorded end of the exchange, 0 if unknown
}

// acquire takes an in-flight slot, giving up at the event's deadline.
func (r *runner) acquire(ctx context.Context, deadline time.Duration) bool {
	select {
	case r.slots <- struct{}{}:
	default:
		t := time.NewTimer(max(deadline-r.now(), 0))
		defer t.Stop()
		select {
		case r.slots <- struct{}{}:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	n := r.inFlight.Add(1)
	for {
		m := r.maxInFlight.Load()
		if n <= m || r.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return true
}

func (r *runner) release() {
	r.inFlight.Add(-1)
	<-r.slots
}

// waitFor waits for ch (nil is ready) until the deadline.
func (r *runner) waitFor(ctx context.Context, ch <-chan struct{}, deadline time.Duration) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
	}
	t := time.NewTimer(max(deadline-r.now(), 0))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// targetURL joins the target with a recorded request target.
func (r *runner) targetURL(recorded string, scheme string) (*url.URL, error) {
	u, err := url.Parse(recorded)
	if err != nil {
		return nil, fmt.Errorf("recorded URL %q: %w", recorded, err)
	}
	t := *r.cfg.Target
	t.Scheme = scheme
	path := u.Path
	raw := u.RawPath
	if base := strings.TrimSuffix(t.Path, "/"); base != "" {
		path = base + path
		if raw != "" {
			raw = strings.TrimSuffix(t.RawPath, "/") + raw
		}
	}
	t.Path, t.RawPath = path, raw
	t.RawQuery = u.RawQuery
	t.Fragment = ""
	return &t, nil
}
