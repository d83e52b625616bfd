package happyapi

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// RateLimit allows N requests per Per for one key. The zero value means the
// route's default; a negative N disables the limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// Config configures a Server. The zero value is a working server: no
// injected latency or faults, tokens only from POST /v1/auth, the documented
// rate limits, a random signing key.
type Config struct {
	// Tokens are bearer tokens accepted as they are (each one is its own
	// user), for example the k6 scripts' "test-auth-token" or the token a
	// replay substitutes for the recorded ones.
	Tokens []string
	// AnyToken is a permissive development mode: every non-empty bearer
	// token is accepted. A JWT-shaped token maps to its sub claim
	// (signature and expiry unchecked), any other token to a user of its
	// own; WebSocket tickets are taken at their word too. This lets a
	// server replay a corpus recorded against another server, with each
	// recorded user's requests and sockets still meeting in one account.
	AnyToken bool
	// SigningKey signs the tokens and WebSocket tickets the server issues.
	// Empty means a random key: tokens then die with the server. Give the
	// same key to a later server to make it accept recorded tokens.
	SigningKey []byte
	// TokenTTL is how long an issued token lives (default 30 days).
	TokenTTL time.Duration
	// TicketTTL is how long a WebSocket ticket lives (default 30 s).
	TicketTTL time.Duration

	// AuthLimit limits POST /v1/auth per public key (default 5 per minute).
	AuthLimit RateLimit
	// TicketLimit limits POST /v1/websocket/ticket per user (default 10 per
	// minute).
	TicketLimit RateLimit

	// Latency is injected before every HTTP request (including WebSocket
	// upgrades) is handled.
	Latency Latency
	// ErrorRate is the fraction (0..1) of HTTP requests answered with an
	// injected 500 or 503 instead of being handled.
	ErrorRate float64
	// Stall holds requests during periodic stalls.
	Stall Stall
	// Seed seeds the random source of latency samples and faults, so a run
	// with the same seed and arrival order injects the same delays.
	Seed uint64
	// TruthLimit bounds how many per-request truth records are kept
	// (default 1<<18); later requests are only counted. Negative keeps none.
	TruthLimit int

	// WSWriteBuffer is how many server messages may queue for one WebSocket
	// connection before the server drops it as too slow (default 256).
	WSWriteBuffer int
	// WSPingInterval is how often the server sends WebSocket ping frames
	// (default 30 s; negative disables).
	WSPingInterval time.Duration
	// RPCDelay is how long the server takes to answer a WebSocket
	// rpc-request (default 0).
	RPCDelay time.Duration

	// NoCompress turns response compression off. By default JSON and text
	// answers are compressed with the coding the request's Accept-Encoding
	// prefers (zstd, br, gzip or deflate; ties in that order), with Vary:
	// Accept-Encoding, as real servers do; WebSocket upgrades never are.
	NoCompress bool
	// CompressMinSize is the smallest body, in bytes, that is compressed
	// (default 0: every non-empty answer, as the Happy server on
	// Cloudflare Workers does).
	CompressMinSize int

	// MaxConcurrent is how many HTTP requests (WebSocket upgrades
	// included, until the upgrade is done) are handled at once; the rest
	// wait in the queue (default 0: no limit). Injected stalls and latency
	// happen while a request holds its place, as a busy worker would.
	MaxConcurrent int
	// MaxRate is how many requests per second may start, evenly spaced
	// (default 0: no limit); the rest wait in the queue for their turn.
	MaxRate float64
	// MaxQueue is how many requests may wait for a turn when MaxConcurrent
	// or MaxRate is set (default 1024; negative: none, every request over a
	// limit is refused). A request finding the queue full is answered at
	// once with 503 {"error":"Server overloaded","code":"OVERLOADED"} and
	// Retry-After: 1.
	MaxQueue int

	// Version is reported by /health (default "reprise-happyapi").
	Version string
	// Logger receives connection-level errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now). Injected delays always use real
	// timers; Now only stamps bodies, tokens and tickets.
	Now func() time.Time
}

const (
	defaultTokenTTL      = 30 * 24 * time.Hour
	defaultTicketTTL     = 30 * time.Second
	defaultTruthLimit    = 1 << 18
	defaultWSWriteBuffer = 256
	defaultWSPing        = 30 * time.Second
	defaultMaxQueue      = 1024
)

// withDefaults validates c and fills defaults.
func (c Config) withDefaults() (Config, error) {
	if err := c.Latency.Validate(); err != nil {
		return c, fmt.Errorf("latency: %w", err)
	}
	if err := c.Stall.Validate(); err != nil {
		return c, fmt.Errorf("stall: %w", err)
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 || math.IsNaN(c.ErrorRate) {
		return c, fmt.Errorf("error rate %v is outside 0..1", c.ErrorRate)
	}
	for i, t := range c.Tokens {
		if t == "" {
			return c, fmt.Errorf("token %d is empty", i+1)
		}
	}
	if c.CompressMinSize < 0 {
		return c, fmt.Errorf("compress min size %d is negative", c.CompressMinSize)
	}
	if c.MaxConcurrent < 0 {
		return c, fmt.Errorf("max concurrent %d is negative (0 means no limit)", c.MaxConcurrent)
	}
	if c.MaxRate < 0 || math.IsNaN(c.MaxRate) || math.IsInf(c.MaxRate, 0) {
		return c, fmt.Errorf("max rate %v is not a positive number of requests per second (0 means no limit)", c.MaxRate)
	}
	switch {
	case c.MaxQueue == 0:
		c.MaxQueue = defaultMaxQueue
	case c.MaxQueue < 0:
		c.MaxQueue = 0
	}
	if c.TokenTTL < 0 || c.TicketTTL < 0 || c.RPCDelay < 0 {
		return c, errors.New("token ttl, ticket ttl and rpc delay must not be negative")
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = defaultTokenTTL
	}
	if c.TicketTTL == 0 {
		c.TicketTTL = defaultTicketTTL
	}
	var err error
	if c.AuthLimit, err = c.AuthLimit.withDefault(5, time.Minute); err != nil {
		return c, fmt.Errorf("auth limit: %w", err)
	}
	if c.TicketLimit, err = c.TicketLimit.withDefault(10, time.Minute); err != nil {
		return c, fmt.Errorf("ticket limit: %w", err)
	}
	if c.TruthLimit == 0 {
		c.TruthLimit = defaultTruthLimit
	}
	if c.WSWriteBuffer <= 0 {
		c.WSWriteBuffer = defaultWSWriteBuffer
	}
	if c.WSPingInterval == 0 {
		c.WSPingInterval = defaultWSPing
	}
	if c.Version == "" {
		c.Version = "reprise-happyapi"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(c.SigningKey) == 0 {
		c.SigningKey = make([]byte, 32)
		if _, err := rand.Read(c.SigningKey); err != nil {
			return c, fmt.Errorf("signing key: %w", err)
		}
	}
	return c, nil
}

func (r RateLimit) withDefault(n int, per time.Duration) (RateLimit, error) {
	if r.N < 0 {
		return r, nil
	}
	if r.N == 0 {
		r.N = n
	}
	if r.Per == 0 {
		r.Per = per
	}
	if r.Per < 0 {
		return r, fmt.Errorf("window %s is negative", r.Per)
	}
	return r, nil
}
