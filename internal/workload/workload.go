package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config configures a workload run. The zero value (with BaseURL set) runs
// six users for 30 seconds with WebSocket clients.
type Config struct {
	// BaseURL is the server (or recording proxy) to drive, e.g.
	// http://127.0.0.1:8787. Required.
	BaseURL string
	// Users is the number of simulated users (default 6). Each logs in
	// with its own Ed25519 key.
	Users int
	// Duration bounds the run: no operation starts after it (operations
	// under way finish). Zero with MaxOps and OpsPerUser also zero means
	// 30 s.
	Duration time.Duration
	// MaxOps bounds the operations of the weighted mix, all users together
	// (0: no bound).
	MaxOps int
	// OpsPerUser makes every user run exactly this many mix operations
	// (0: no bound), which makes a run's sequence fully reproducible.
	OpsPerUser int
	// Seed fixes the users' keys, the operations they choose, their order,
	// the client-made ids and the think times.
	Seed uint64
	// ThinkMin and ThinkMax bound the think time before each operation
	// (default 100 ms and 600 ms, as in the k6 scripts).
	ThinkMin, ThinkMax time.Duration
	// NoWebSocket turns the WebSocket clients off.
	NoWebSocket bool
	// WSActionEvery is the mean pause between a user's WebSocket actions
	// (default 2.5 s).
	WSActionEvery time.Duration
	// AuthToken, when set, is used by every user instead of logging in
	// through POST /v1/auth (for servers that only know static tokens).
	AuthToken string
	// HTTPClient sends the requests (default: one keep-alive client per
	// user, so each user is its own connection flow).
	HTTPClient *http.Client
	// Dialer opens WebSocket connections (default: permessage-deflate
	// offered, 10 s handshake timeout).
	Dialer *websocket.Dialer
	// Trace records each user's operation sequence in Report.Trace.
	Trace bool
	// Logger receives per-user failures (default: discarded).
	Logger *slog.Logger
}

const (
	defaultUsers    = 6
	defaultDuration = 30 * time.Second
	defaultThinkMin = 100 * time.Millisecond
	defaultThinkMax = 600 * time.Millisecond
	defaultWSEvery  = 2500 * time.Millisecond
	maxUsers        = 10000
)

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("base URL %q: want http://host:port or https://host:port", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	switch {
	case c.Users < 0 || c.Users > maxUsers:
		return c, fmt.Errorf("users %d: want 1..%d", c.Users, maxUsers)
	case c.Users == 0:
		c.Users = defaultUsers
	}
	if c.Duration < 0 || c.MaxOps < 0 || c.OpsPerUser < 0 {
		return c, errors.New("duration, max ops and ops per user must not be negative")
	}
	if c.Duration == 0 && c.MaxOps == 0 && c.OpsPerUser == 0 {
		c.Duration = defaultDuration
	}
	if c.ThinkMin == 0 && c.ThinkMax == 0 {
		c.ThinkMin, c.ThinkMax = defaultThinkMin, defaultThinkMax
	}
	if c.ThinkMin < 0 || c.ThinkMax < c.ThinkMin {
		return c, fmt.Errorf("think time %s..%s: want 0 <= min <= max", c.ThinkMin, c.ThinkMax)
	}
	if c.WSActionEvery < 0 {
		return c, errors.New("WebSocket action interval must not be negative")
	}
	if c.WSActionEvery == 0 {
		c.WSActionEvery = defaultWSEvery
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Report counts what a run did.
type Report struct {
	// Users is how many users ran; Elapsed how long the run took.
	Users   int
	Elapsed time.Duration
	// Ops counts mix operations by category (health, sessions, machines,
	// artifacts, account, kv, feed, version).
	Ops map[string]int
	// Requests counts HTTP requests by route template
	// ("GET /v1/sessions/{id}"), the mix's and the WebSocket helpers'.
	Requests map[string]int
	// Statuses counts HTTP responses by status.
	Statuses map[int]int
	// Errors counts requests that got no response; Unexpected those whose
	// status the workload did not expect (for example 429 or 500).
	Errors, Unexpected int
	// WSConnections counts WebSocket connections opened, by client type;
	// WSFailed the handshakes that failed.
	WSConnections map[string]int
	WSFailed      int
	// WSSent and WSReceived count WebSocket messages; WSReceivedByType
	// breaks the received ones down by their type (or event).
	WSSent, WSReceived int
	WSReceivedByType   map[string]int
	// WSAcked counts client messages whose ackId came back in a reply.
	WSAcked int
	// Trace holds each user's operation names in order (Config.Trace).
	Trace [][]string
}

// TotalRequests is the number of HTTP requests sent.
func (r Report) TotalRequests() int {
	n := 0
	for _, v := range r.Requests {
		n += v
	}
	return n
}

// TotalOps is the number of mix operations run.
func (r Report) TotalOps() int {
	n := 0
	for _, v := range r.Ops {
		n += v
	}
	return n
}

// String renders the report as a few lines for a terminal.
func (r Report) String() string {
	var b strings.Builder
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1
	}
	fmt.Fprintf(&b, "workload: %d users, %s, %d operations, %d HTTP requests (%.1f/s), %d errors, %d unexpected statuses\n",
		r.Users, r.Elapsed.Round(time.Millisecond), r.TotalOps(), r.TotalRequests(), float64(r.TotalRequests())/secs, r.Errors, r.Unexpected)
	fmt.Fprintf(&b, "operations:")
	for _, k := range slices.Sorted(maps.Keys(r.Ops)) {
		fmt.Fprintf(&b, " %s=%d", k, r.Ops[k])
	}
	fmt.Fprintf(&b, "\nstatuses:")
	for _, k := range slices.Sorted(maps.Keys(r.Statuses)) {
		fmt.Fprintf(&b, " %d=%d", k, r.Statuses[k])
	}
	b.WriteString("\nrequests by route:\n")
	for _, k := range slices.Sorted(maps.Keys(r.Requests)) {
		fmt.Fprintf(&b, "  %-40s %d\n", k, r.Requests[k])
	}
	conns := 0
	var ct []string
	for _, k := range slices.Sorted(maps.Keys(r.WSConnections)) {
		conns += r.WSConnections[k]
		ct = append(ct, fmt.Sprintf("%s=%d", k, r.WSConnections[k]))
	}
	fmt.Fprintf(&b, "websocket: %d connections (%s), %d failed, %d messages sent, %d received, %d acked\n",
		conns, strings.Join(ct, " "), r.WSFailed, r.WSSent, r.WSReceived, r.WSAcked)
	if len(r.WSReceivedByType) > 0 {
		b.WriteString("websocket received by type:")
		for _, k := range slices.Sorted(maps.Keys(r.WSReceivedByType)) {
			fmt.Fprintf(&b, " %s=%d", k, r.WSReceivedByType[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func newReport() Report {
	return Report{Ops: map[string]int{}, Requests: map[string]int{}, Statuses: map[int]int{}, WSConnections: map[string]int{}, WSReceivedByType: map[string]int{}}
}

// merge adds o into r.
func (r *Report) merge(o Report) {
	for k, v := range o.Ops {
		r.Ops[k] += v
	}
	for k, v := range o.Requests {
		r.Requests[k] += v
	}
	for k, v := range o.Statuses {
		r.Statuses[k] += v
	}
	for k, v := range o.WSConnections {
		r.WSConnections[k] += v
	}
	for k, v := range o.WSReceivedByType {
		r.WSReceivedByType[k] += v
	}
	r.Errors += o.Errors
	r.Unexpected += o.Unexpected
	r.WSFailed += o.WSFailed
	r.WSSent += o.WSSent
	r.WSReceived += o.WSReceived
	r.WSAcked += o.WSAcked
}

// Run drives cfg.BaseURL until the duration or operation bound is reached
// or ctx is cancelled, and reports what it did. Per-request failures are
// counted in the report; Run fails only for a bad config or when a user
// cannot log in or set up its session and machine.
func Run(ctx context.Context, cfg Config) (Report, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Report{}, fmt.Errorf("workload config: %w", err)
	}
	start := time.Now()
	runCtx := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	var budget *atomic.Int64
	if c.MaxOps > 0 {
		budget = new(atomic.Int64)
		budget.Store(int64(c.MaxOps))
	}
	users := make([]*user, c.Users)
	for i := range users {
		users[i] = newUser(c, i, budget)
	}
	// Log in and set up every user first: a server that refuses logins
	// fails the run at once, with the reason.
	var setupErr error
	failed, first := 0, -1
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := u.setup(ctx); err != nil {
				mu.Lock()
				if first < 0 || u.index < first {
					first, setupErr = u.index, fmt.Errorf("user %d: %w", u.index, err)
				}
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if setupErr != nil {
		if failed > 1 {
			return Report{}, fmt.Errorf("%w (and %d more users failed)", setupErr, failed-1)
		}
		return Report{}, setupErr
	}
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.run(ctx, runCtx)
		}()
	}
	wg.Wait()
	rep := newReport()
	rep.Users = c.Users
	for _, u := range users {
		rep.merge(u.report())
		if c.Trace {
			rep.Trace = append(rep.Trace, u.trace)
		}
	}
	rep.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("workload: %w", err)
	}
	return rep, nil
}
