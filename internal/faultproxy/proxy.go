package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Proxy. Upstream is required.
type Config struct {
	// Upstream is the server healthy requests are forwarded to
	// ("http://127.0.0.1:8787"); a path in it is prefixed to every
	// request path.
	Upstream *url.URL
	// Plan says which faults to inject when.
	Plan Plan
	// Transport forwards requests to the upstream; nil uses a plain
	// HTTP/1.1 transport without environment proxies.
	Transport http.RoundTripper
	// Logger gets connection-level errors at debug level; nil discards.
	Logger *slog.Logger
}

// Stats counts what the proxy did.
type Stats struct {
	// Conns counts client connections accepted.
	Conns int64
	// Requests counts requests read, WebSocket upgrades included.
	Requests int64
	// Forwarded counts requests the upstream answered and the proxy passed
	// on unharmed.
	Forwarded int64
	// UpstreamErrors counts requests the upstream could not answer; the
	// proxy answered them 502.
	UpstreamErrors int64
	// Tunnels counts healthy WebSocket connections relayed to the
	// upstream.
	Tunnels int64
	// Faults counts the faults injected: requests struck by a rule, and
	// WebSocket sessions a session fault struck.
	Faults map[Fault]int64
	// Outages and Restarts count how often the listener went down and came
	// back.
	Outages, Restarts int64
}

// Proxy is a fault-injecting HTTP and WebSocket proxy. Create it with New,
// run it with Start, stop it with Close.
type Proxy struct {
	cfg    Config
	tr     http.RoundTripper
	ownTr  *http.Transport
	dialer net.Dialer
	log    *slog.Logger

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	down  bool
	conns map[net.Conn]struct{}

	epoch      time.Time // when the plan's clock started
	clockOnce  sync.Once
	clockReady chan struct{} // closed when the clock starts
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	seq            atomic.Uint64
	connsN         atomic.Int64
	forwarded      atomic.Int64
	upstreamErrors atomic.Int64
	tunnels        atomic.Int64
	outages        atomic.Int64
	restarts       atomic.Int64
	faultMu        sync.Mutex
	faults         map[Fault]int64
}

// New checks cfg and returns a proxy that is not yet listening.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") {
		return nil, errors.New("faultproxy: an upstream http:// or https:// URL is required")
	}
	if err := cfg.Plan.Validate(); err != nil {
		return nil, fmt.Errorf("faultproxy: plan: %w", err)
	}
	p := &Proxy{cfg: cfg, tr: cfg.Transport, log: cfg.Logger, conns: map[net.Conn]struct{}{}, faults: map[Fault]int64{},
		clockReady: make(chan struct{})}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.dialer = net.Dialer{Timeout: 10 * time.Second}
	if p.tr == nil {
		p.ownTr = &http.Transport{
			DialContext:         p.dialer.DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}
		p.tr = p.ownTr
	}
	return p, nil
}

// Start listens on addr ("127.0.0.1:0" picks a free port), serves in the
// background until ctx ends or Close, and starts the plan's clock: rule
// windows and outages count from now (or from the first request, with
// Plan.StartOnFirstRequest).
func (p *Proxy) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen on %s: %w", addr, err)
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.mu.Lock()
	p.addr = ln.Addr().String()
	p.ln = ln
	p.mu.Unlock()
	if !p.cfg.Plan.StartOnFirstRequest {
		p.startClock()
	}
	p.wg.Add(1)
	go p.accept(ln)
	context.AfterFunc(p.ctx, func() { p.takeDown(false) })
	if len(p.cfg.Plan.Outages) > 0 {
		p.wg.Add(1)
		go p.runOutages()
	}
	return nil
}

// Addr is the address the proxy listens on ("127.0.0.1:41234").
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// URL is the proxy's base URL ("http://127.0.0.1:41234").
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Since is the time on the plan's clock, which rule windows and outages
// use: from Start, or from the first request with
// Plan.StartOnFirstRequest (zero until then).
func (p *Proxy) Since() time.Duration {
	select {
	case <-p.clockReady:
	default:
		return 0
	}
	return time.Since(p.epoch)
}

func (p *Proxy) startClock() {
	p.clockOnce.Do(func() {
		p.epoch = time.Now()
		close(p.clockReady)
	})
}

// Down takes the target down: the listener closes (new connections are
// refused) and every open connection is closed. It does nothing when the
// proxy is already down.
func (p *Proxy) Down() { p.takeDown(true) }

func (p *Proxy) takeDown(outage bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.ln == nil {
		return
	}
	p.down = true
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	if outage {
		p.outages.Add(1)
	}
}

// Up brings the target back on the same address after Down. It retries
// for up to a second while the port is still held.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.down {
		return nil
	}
	if p.ctx.Err() != nil {
		return errors.New("faultproxy: closed")
	}
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		ln, err = net.Listen("tcp", p.addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.down = false
	p.restarts.Add(1)
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	p.takeDown(false)
	p.wg.Wait()
	if p.ownTr != nil {
		p.ownTr.CloseIdleConnections()
	}
	return nil
}

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Conns:          p.connsN.Load(),
		Requests:       int64(p.seq.Load()),
		Forwarded:      p.forwarded.Load(),
		UpstreamErrors: p.upstreamErrors.Load(),
		Tunnels:        p.tunnels.Load(),
		Outages:        p.outages.Load(),
		Restarts:       p.restarts.Load(),
		Faults:         map[Fault]int64{},
	}
	p.faultMu.Lock()
	for f, n := range p.faults {
		s.Faults[f] = n
	}
	p.faultMu.Unlock()
	return s
}

func (p *Proxy) count(f Fault) {
	p.faultMu.Lock()
	p.faults[f]++
	p.faultMu.Unlock()
}

func (p *Proxy) runOutages() {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	wait := func(at time.Duration) bool {
		t.Reset(max(at-p.Since(), 0))
		select {
		case <-t.C:
			return true
		case <-p.ctx.Done():
			return false
		}
	}
	select {
	case <-p.clockReady:
	case <-p.ctx.Done():
		return
	}
	for _, o := range p.cfg.Plan.Outages {
		if !wait(o.At) {
			return
		}
		p.Down()
		if !wait(o.At + o.For) {
			return
		}
		if err := p.Up(); err != nil {
			p.log.Warn("target did not come back", "err", err)
			return
		}
	}
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.connsN.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serveConn(c)
		}()
	}
}

// track registers c so Down can close it; false when the proxy is down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// reset closes c with an RST instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
