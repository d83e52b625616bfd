package engine

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise/reprise/internal/netconf"
)

// Connections to the target are bounded the way real clients bound them:
// each recorded user (of each copy) has a pool of its own holding at most
// as many connections as the user opened in the recording, and every
// connection of the lane (HTTP and WebSocket) counts against MaxConns. A
// target that slows down then sees requests queue at the clients, as it
// would from real users, instead of a storm of new sockets.

// DefaultMaxConns is the default bound on a lane's open connections.
const DefaultMaxConns = 512

// poolIdle is how long an unused pool keeps its connections.
const poolIdle = 30 * time.Second

// connLimiter bounds the lane's open connections: a dial waits for a slot
// (until its context ends), and closing a connection frees its slot.
type connLimiter struct {
	slots chan struct{}
	open  atomic.Int64
	peak  atomic.Int64
	// waited counts dials that had to wait for a slot.
	waited atomic.Int64
	// reclaim, when set, closes idle connections so their slots free up:
	// called while a dial waits.
	reclaim func()
}

// reclaimEvery is how often a waiting dial asks for idle connections to
// be closed.
const reclaimEvery = 5 * time.Millisecond

func newConnLimiter(n int) *connLimiter { return &connLimiter{slots: make(chan struct{}, n)} }

// wrap returns dial bounded by the limiter.
func (cl *connLimiter) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case cl.slots <- struct{}{}:
		default:
			// Every slot is taken: connections other clients keep idle
			// are closed (as a server's or client's idle timeout would)
			// until one frees.
			cl.waited.Add(1)
			tick := time.NewTicker(reclaimEvery)
			defer tick.Stop()
			if cl.reclaim != nil {
				cl.reclaim()
			}
		wait:
			for {
				select {
				case cl.slots <- struct{}{}:
					break wait
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-tick.C:
					if cl.reclaim != nil {
						cl.reclaim()
					}
				}
			}
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			<-cl.slots
			return nil, err
		}
		n := cl.open.Add(1)
		for {
			p := cl.peak.Load()
			if n <= p || cl.peak.CompareAndSwap(p, n) {
				break
			}
		}
		return &limitedConn{Conn: c, cl: cl}, nil
	}
}

// limitedConn frees its limiter slot when closed.
type limitedConn struct {
	net.Conn
	cl   *connLimiter
	once sync.Once
}

// Unwrap returns the connection dialed.
func (c *limitedConn) Unwrap() net.Conn { return c.Conn }

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.cl.open.Add(-1)
		<-c.cl.slots
	})
	return err
}

// poolKey names a client: a recorded user in one copy of the traffic.
type poolKey struct {
	user string
	copy int
}

// pool is one client's connections.
type pool struct {
	client    *http.Client
	lastUse   atomic.Int64 // run clock, ns
	reclaimed atomic.Int64 // when its idle connections were last closed
}

// touched is when the pool was last used or reclaimed.
func (p *pool) touched() int64 { return max(p.lastUse.Load(), p.reclaimed.Load()) }

// pools holds the lane's clients. The dispatcher goroutine creates and
// sweeps them, a dial waiting for a connection slot closes their idle
// connections; mu guards m. Exchanges use the client they were handed.
type pools struct {
	l     *lane
	mu    sync.Mutex
	m     map[poolKey]*pool
	uses  int // owned by the dispatcher
	build func(conns int) *http.Client
}

// client returns the HTTP client of a recorded user in one copy, creating
// its pool (of at most conns connections; 0 means unknown, and the pool
// is bounded only by the lane's MaxConns) when needed.
func (ps *pools) client(user string, copy, conns int) *http.Client {
	k := poolKey{user, copy}
	ps.mu.Lock()
	p := ps.m[k]
	if p == nil {
		p = &pool{client: ps.build(max(conns, 0))}
		ps.m[k] = p
	}
	ps.mu.Unlock()
	now := ps.l.now()
	p.lastUse.Store(int64(now))
	if ps.uses++; ps.uses%sweepEvery == 0 {
		ps.sweep(now)
	}
	return p.client
}

// sweep closes the pools nobody used for poolIdle.
func (ps *pools) sweep(now time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, p := range ps.m {
		if now-time.Duration(p.lastUse.Load()) > poolIdle {
			p.client.CloseIdleConnections()
			delete(ps.m, k)
		}
	}
}

// reclaim closes the idle connections of the pool used least recently:
// one client at a time gives up its idle connections, as an idle timeout
// would end them, until a waiting dial finds a slot.
func (ps *pools) reclaim() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var lru *pool
	for _, p := range ps.m {
		if lru == nil || p.touched() < lru.touched() {
			lru = p
		}
	}
	if lru != nil {
		lru.client.CloseIdleConnections()
		// the next reclaim takes the next pool
		lru.reclaimed.Store(int64(ps.l.now()))
	}
}

// closeIdle closes every pool's idle connections.
func (ps *pools) closeIdle() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.m {
		p.client.CloseIdleConnections()
	}
}

// newTransport builds an HTTP transport of the lane holding at most conns
// connections to the target (0: no bound of its own): the lane's own
// HTTP/1.1 client for a plain-HTTP target reached without a proxy,
// net/http's for the rest (and for anything else a request names).
func (l *lane) newTransport(conns int) http.RoundTripper {
	t := l.netTransport(conns)
	u := l.cfg.Target
	if u.Scheme != "http" || l.cfg.NetHTTP || l.proxied() {
		return t
	}
	idle := max(conns, 1)
	if conns == 0 {
		idle = l.cfg.MaxInFlight
	}
	return newH1Transport(netconf.HostPort(u), u.Host, conns, idle, poolIdle, l.dial, t)
}

// proxied reports whether requests to the target go through a proxy.
func (l *lane) proxied() bool {
	if l.cfg.Proxy == nil {
		return false
	}
	p, err := l.cfg.Proxy(&http.Request{URL: l.cfg.Target, Header: http.Header{}})
	return err != nil || p != nil
}

// netTransport builds net/http's transport of the lane.
func (l *lane) netTransport(conns int) *http.Transport {
	t := &http.Transport{
		Proxy:               l.cfg.Proxy,
		DialContext:         l.dial,
		MaxIdleConns:        0,
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: max(conns, 1),
		IdleConnTimeout:     poolIdle,
		TLSClientConfig:     l.tlsCfg.Clone(),
		TLSHandshakeTimeout: min(l.cfg.Timeout, 10*time.Second),
		ForceAttemptHTTP2:   !l.cfg.HTTP1,
		// Bodies go and come as recorded: the recorded Accept-Encoding
		// asks for the coding, and the lane reads through it.
		DisableCompression: true,
	}
	if conns == 0 {
		t.MaxIdleConnsPerHost = l.cfg.MaxInFlight
	}
	if l.cfg.HTTP1 {
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return t
}
