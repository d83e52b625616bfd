package faultproxy

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Fault names one misbehaviour the proxy can inject.
type Fault string

// HTTP faults. ResetRequest, Hang, Status and GarbageStatus also strike
// WebSocket upgrade requests (the handshake then fails); the others mangle
// a forwarded response and apply to plain requests only.
const (
	// ResetRequest reads the request head and half of its body, then
	// resets the connection (RST). The upstream never sees the request.
	ResetRequest Fault = "reset-request"
	// ResetResponse forwards the request, writes the upstream's response
	// head and the first half of its body (half the head when the body is
	// empty), then resets the connection.
	ResetResponse Fault = "reset-response"
	// Hang reads the request and never answers; the connection stays open
	// until the client gives up.
	Hang Fault = "hang"
	// Trickle forwards the request and writes the response Chunk bytes
	// every Interval: slower than the client's timeout, or just slow.
	Trickle Fault = "trickle"
	// Status answers with Rule.Status (default 503) without forwarding:
	// 5xx bursts, or a non-101 answer to a WebSocket upgrade.
	Status Fault = "status"
	// GarbageStatus answers with a line that is not an HTTP status line,
	// then closes the connection.
	GarbageStatus Fault = "garbage-status"
	// BadHeader forwards the request and inserts a header line without a
	// colon into the response head, then closes the connection.
	BadHeader Fault = "bad-header"
	// ShortBody forwards the request and declares a Content-Length larger
	// than the body it sends, then closes the connection.
	ShortBody Fault = "short-body"
	// LongBody forwards the request and sends more body bytes than its
	// Content-Length declares, then closes the connection (so the extra
	// bytes cannot poison the next exchange).
	LongBody Fault = "long-body"
)

// WebSocket faults: they strike upgrade requests only. The proxy then
// plays the server itself (an echo server) instead of relaying to the
// upstream. Session faults strike after Rule.After client messages.
const (
	// WSBadAccept answers the upgrade with 101 and a wrong
	// Sec-WebSocket-Accept.
	WSBadAccept Fault = "ws-bad-accept"
	// WSDrop resets the connection (RST) mid-session.
	WSDrop Fault = "ws-drop"
	// WSAbnormalClose closes the TCP connection without a close frame.
	WSAbnormalClose Fault = "ws-abnormal-close"
	// WSReservedOpcode sends a frame with the reserved opcode 0x3.
	WSReservedOpcode Fault = "ws-reserved-opcode"
	// WSBadLength sends a frame whose 64-bit length has its most
	// significant bit set.
	WSBadLength Fault = "ws-bad-length"
	// WSBigControl sends a ping frame with a 200-byte payload (control
	// frames carry at most 125).
	WSBigControl Fault = "ws-big-control"
	// WSBadUTF8 sends a text message that is not valid UTF-8.
	WSBadUTF8 Fault = "ws-bad-utf8"
)

// Faults lists every fault, HTTP ones first.
func Faults() []Fault {
	return []Fault{ResetRequest, ResetResponse, Hang, Trickle, Status, GarbageStatus, BadHeader, ShortBody, LongBody,
		WSBadAccept, WSDrop, WSAbnormalClose, WSReservedOpcode, WSBadLength, WSBigControl, WSBadUTF8}
}

// IsWebSocket reports whether f is a WebSocket fault.
func (f Fault) IsWebSocket() bool { return strings.HasPrefix(string(f), "ws-") }

// session reports whether f strikes an established WebSocket session.
func (f Fault) session() bool { return f.IsWebSocket() && f != WSBadAccept }

func (f Fault) known() bool {
	for _, k := range Faults() {
		if f == k {
			return true
		}
	}
	return false
}

// applies reports whether f can strike a request (upgrade tells whether it
// asks for a WebSocket).
func (f Fault) applies(upgrade bool) bool {
	switch {
	case f.IsWebSocket():
		return upgrade
	case f == ResetRequest, f == Hang, f == Status, f == GarbageStatus:
		return true
	}
	return !upgrade
}

// Rule gives a fault to the requests it matches. A request matches when
// its path starts with Path, it arrives inside the time window and the
// seeded draw falls within Fraction. The first matching rule of a plan
// wins.
type Rule struct {
	Fault Fault
	// Path limits the rule to request paths with this prefix ("" matches
	// every path).
	Path string
	// Fraction of the matching requests that get the fault, drawn from the
	// plan's seed and the request's arrival number (0 means all).
	Fraction float64
	// From and Until bound the window, as offsets from the proxy's start;
	// Until 0 means no end.
	From, Until time.Duration
	// Every repeats the window [From, Until) with this period, for bursts
	// (0: the window happens once). It needs Until.
	Every time.Duration
	// Status is the status code Status faults answer with (default 503).
	Status int
	// Interval and Chunk pace Trickle: Chunk bytes every Interval
	// (defaults 1 byte every 100ms).
	Interval time.Duration
	Chunk    int
	// After is how many client messages a WebSocket session fault lets
	// through (each echoed back) before it strikes; 0 strikes right after
	// the handshake.
	After int
}

// Outage takes the whole target down: at At (from the proxy's start) the
// listener closes and every open connection is closed; after For the proxy
// listens again on the same address.
type Outage struct {
	At, For time.Duration
}

// Plan is the fault schedule of a proxy. The zero Plan injects nothing.
type Plan struct {
	// Seed makes the fraction draws reproducible: the same seed and the
	// same arrival order give the same faults.
	Seed uint64
	// StartOnFirstRequest starts the plan's clock (rule windows and
	// outages) at the first request the proxy reads instead of at Start:
	// a replay's first request is its time zero, so the windows line up
	// with the corpus whatever the replay does before it.
	StartOnFirstRequest bool
	Rules               []Rule
	Outages             []Outage
}

// Validate checks p and names the first problem.
func (p Plan) Validate() error {
	for i, r := range p.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rule %d (%s): %w", i+1, r.Fault, err)
		}
	}
	var end time.Duration
	for i, o := range p.Outages {
		switch {
		case o.At < 0 || o.For <= 0:
			return fmt.Errorf("outage %d: want At >= 0 and For > 0, got At %v For %v", i+1, o.At, o.For)
		case i > 0 && o.At < end:
			return fmt.Errorf("outage %d starts at %v, before outage %d ends at %v: give outages in order, without overlap", i+1, o.At, i, end)
		}
		end = o.At + o.For
	}
	return nil
}

func (r Rule) validate() error {
	switch {
	case !r.Fault.known():
		names := make([]string, 0, len(Faults()))
		for _, f := range Faults() {
			names = append(names, string(f))
		}
		return fmt.Errorf("unknown fault %q (known: %s)", r.Fault, strings.Join(names, ", "))
	case math.IsNaN(r.Fraction) || r.Fraction < 0 || r.Fraction > 1:
		return fmt.Errorf("fraction %v is outside 0..1", r.Fraction)
	case r.From < 0 || r.Until < 0:
		return errors.New("window bounds must not be negative")
	case r.Until != 0 && r.Until <= r.From:
		return fmt.Errorf("window ends (%v) before it starts (%v)", r.Until, r.From)
	case r.Every < 0:
		return errors.New("period must not be negative")
	case r.Every > 0 && r.Until == 0:
		return errors.New("a repeating window needs Until")
	case r.Every > 0 && r.Every <= r.Until-r.From:
		return fmt.Errorf("period %v is not longer than the window %v", r.Every, r.Until-r.From)
	case r.Status != 0 && (r.Status < 100 || r.Status > 999):
		return fmt.Errorf("status %d is not a three-digit code", r.Status)
	case r.Interval < 0 || r.Chunk < 0 || r.After < 0:
		return errors.New("interval, chunk and after must not be negative")
	}
	return nil
}

// active reports whether at (from the proxy's start) is inside r's window.
func (r Rule) active(at time.Duration) bool {
	if at < r.From {
		return false
	}
	if r.Until == 0 {
		return true
	}
	if r.Every > 0 {
		return (at-r.From)%r.Every < r.Until-r.From
	}
	return at < r.Until
}

// pick returns the index of the first rule striking the seq-th request
// (arrival number, from 1), or -1.
func (p *Plan) pick(at time.Duration, path string, upgrade bool, seq uint64) int {
	for i, r := range p.Rules {
		if !r.Fault.applies(upgrade) || !strings.HasPrefix(path, r.Path) || !r.active(at) {
			continue
		}
		if r.Fraction > 0 && r.Fraction < 1 && draw(p.Seed, uint64(i), seq) >= r.Fraction {
			continue
		}
		return i
	}
	return -1
}

// draw is a uniform number in [0, 1) determined by seed, rule and seq
// (splitmix64 finalizer).
func draw(seed, rule, seq uint64) float64 {
	z := seed ^ (rule+1)*0x9e3779b97f4a7c15 ^ seq*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func (r Rule) status() int {
	if r.Status == 0 {
		return 503
	}
	return r.Status
}

func (r Rule) pace() (time.Duration, int) {
	iv, n := r.Interval, r.Chunk
	if iv == 0 {
		iv = 100 * time.Millisecond
	}
	if n == 0 {
		n = 1
	}
	return iv, n
}
