package main

import (
	"container/heap"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Limits of the configuration, checked by config.validate.
const (
	maxUsers    = 1_000_000
	maxRequests = 1_000_000_000
	maxRate     = 10_000_000
	minBody     = 16
	maxBody     = 1 << 20
)

// Per-user bounds keep the generator's state proportional to the number of
// users, whatever the number of requests.
const (
	maxSessions = 8 // a user at the bound deletes its oldest session to create one
	maxKeys     = 6 // a user at the bound updates an existing key
	redraws     = 8 // draws of a user not waiting for an answer
)

// clockOrigin is the fixed wall-clock instant of offset zero: the corpus
// carries no time of its making, so a seed gives the same bytes every run.
var clockOrigin = time.Date(2025, 11, 24, 10, 0, 0, 0, time.UTC)

// config is what one corpus is made of.
type config struct {
	// Requests is the number of HTTP exchanges (WebSocket upgrades and
	// messages come on top).
	Requests int64
	// Users is the number of recorded users, each with a bearer token of
	// its own and so a flow of its own.
	Users int
	// Rate is the recorded HTTP requests per second over all users.
	Rate float64
	// Poisson spaces requests by exponential gaps (a Poisson process)
	// instead of evenly, as vegeta's constant pacer does.
	Poisson bool
	// Body is the mean size in bytes of the opaque payloads (session
	// metadata, message content, kv values), drawn from Body/2..3*Body/2.
	Body int
	// WSShare is the share (0..1) of users who keep a WebSocket connection
	// on /v1/updates, opened after their first request.
	WSShare float64
	// WSAlive makes a WebSocket user send a client message every WSAlive
	// requests (0: never): session-alive naming its latest session, or a
	// ping answered by a pong.
	WSAlive int
	// Seed seeds every random choice.
	Seed uint64
	// Origin is the recorded upstream ("http://localhost:8787").
	Origin string
}

// defaults are the flags' defaults.
var defaults = config{Requests: 100_000, Users: 100, Rate: 1000, Body: 200, WSShare: 0.2, WSAlive: 5, Seed: 1, Origin: "http://localhost:8787"}

func (c config) validate() error {
	switch {
	case c.Requests < 1 || c.Requests > maxRequests:
		return fmt.Errorf("-requests %d: want 1 to %d", c.Requests, maxRequests)
	case c.Users < 1 || c.Users > maxUsers:
		return fmt.Errorf("-users %d: want 1 to %d", c.Users, maxUsers)
	case !(c.Rate > 0 && c.Rate <= maxRate):
		return fmt.Errorf("-rate %g: want recorded requests per second above 0, at most %d", c.Rate, maxRate)
	case c.Body < minBody || c.Body > maxBody:
		return fmt.Errorf("-body %d: want a mean payload size from %d to %d bytes", c.Body, minBody, maxBody)
	case !(c.WSShare >= 0 && c.WSShare <= 1):
		return fmt.Errorf("-ws %g: want a share of users from 0 to 1", c.WSShare)
	case c.WSAlive < 0:
		return fmt.Errorf("-ws-alive %d: want a number of requests, 0 for none", c.WSAlive)
	}
	if u, err := url.Parse(c.Origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("-origin %q: want the recorded upstream as http://HOST:PORT or https://HOST", c.Origin)
	}
	return nil
}

// stats is what a generation wrote.
type stats struct {
	Requests   int64
	Users      int   // users who made at least one request
	Flows      int   // flow keys in the corpus (users, and the connections of unauthenticated health checks)
	WSConns    int64 // WebSocket connections opened
	WSMessages int64 // WebSocket messages, both directions
	Span       time.Duration
}

// session is what a user's session looks like to the server. Its metadata
// is regenerated from meta, never stored.
type session struct {
	id       string
	meta     uint64 // seed of the metadata payload
	metaLen  int
	seq      int64
	created  int64 // ms
	updated  int64 // ms
	messages int64
}

type kvItem struct {
	key     string
	version int64
	value   uint64 // seed of the value payload
	size    int
}

// user is one recorded user: a token, the connection its app keeps, and
// what it has made on the server so far.
type user struct {
	started    bool
	healthFlow bool // made an unauthenticated health check (a flow of its own)
	token      string
	flow       string
	conn       uint64
	ws         uint64        // open WebSocket's connection id, 0 when none
	wsUser     bool          // keeps a WebSocket connection
	wsOpenAt   time.Duration // when its WebSocket opened
	busyUntil  time.Duration // end of its latest response
	requests   int64
	updateSeq  int64
	sessionSeq int64
	sessions   []session // oldest first
	kv         []kvItem  // in key order
}

// generator makes the records. It holds the users' state and the few
// WebSocket records scheduled ahead of the current request (server
// pushes, the socket opening after the response), nothing per request
// once written.
type generator struct {
	cfg    config
	origin *url.URL
	src    *rand.PCG
	rng    *rand.Rand
	users  []user
	emit   func(traffic.Record) error
	ahead  recordHeap
	seq    uint64
	conns  uint64 // last connection id given
	last   time.Duration
	st     stats
}

// generate writes cfg's corpus to emit, record by record in start order.
// Memory is bounded by the number of users, not of requests.
func generate(ctx context.Context, cfg config, emit func(traffic.Record) error) (stats, error) {
	if err := cfg.validate(); err != nil {
		return stats{}, err
	}
	src := rand.NewPCG(cfg.Seed, 0x5eed_c0de_f00d_cafe)
	origin, _ := url.Parse(cfg.Origin) // checked by validate
	g := &generator{cfg: cfg, origin: origin, src: src, rng: rand.New(src), users: make([]user, cfg.Users), emit: emit}
	gap := float64(time.Second) / cfg.Rate
	var at float64
	for i := int64(0); i < cfg.Requests; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return g.st, err
			}
		}
		if cfg.Poisson {
			if i > 0 {
				at += g.rng.ExpFloat64() * gap
			}
		} else {
			at = float64(i) * gap
		}
		t := time.Duration(at)
		// A user's app waits for an answer before its next request: a
		// user still waiting is passed over for another, unless every
		// draw finds one waiting (more requests per second than the
		// users can make one after the other).
		u := &g.users[g.rng.IntN(cfg.Users)]
		for try := 0; try < redraws && u.busyUntil > t; try++ {
			u = &g.users[g.rng.IntN(cfg.Users)]
		}
		if err := g.request(t, u); err != nil {
			return g.st, err
		}
	}
	if err := g.flush(math.MaxInt64); err != nil {
		return g.st, err
	}
	// The sockets still open close last, by their clients.
	end := g.last + time.Millisecond
	for i := range g.users {
		if u := &g.users[i]; u.ws != 0 {
			if err := g.write(traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{
				Flow: u.flow, ConnID: u.ws, Start: end, FromClient: true, Code: traffic.CloseNormal,
			}}); err != nil {
				return g.st, err
			}
		}
	}
	for i := range g.users {
		if g.users[i].started {
			g.st.Users++
			g.st.Flows++
		}
		if g.users[i].healthFlow {
			g.st.Flows++
		}
	}
	g.st.Span = g.last
	return g.st, nil
}

// write emits r now, after every record scheduled ahead that starts
// before it.
func (g *generator) write(r traffic.Record) error {
	if err := g.flush(r.Start()); err != nil {
		return err
	}
	return g.put(r)
}

func (g *generator) put(r traffic.Record) error {
	if s := r.Start(); s > g.last {
		g.last = s
	}
	switch r.Kind {
	case traffic.KindExchange:
		g.st.Requests++
	case traffic.KindWSOpen:
		g.st.WSConns++
	case traffic.KindWSMessage:
		g.st.WSMessages++
	}
	if err := g.emit(r); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// later schedules r for when the stream reaches its start.
func (g *generator) later(r traffic.Record) {
	g.seq++
	heap.Push(&g.ahead, aheadRec{rec: r, seq: g.seq})
}

// flush writes the records scheduled ahead that start at or before t.
func (g *generator) flush(t time.Duration) error {
	for len(g.ahead) > 0 && g.ahead[0].rec.Start() <= t {
		if err := g.put(heap.Pop(&g.ahead).(aheadRec).rec); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) start(u *user) {
	u.started = true
	// A JWT-shaped token whose sub claim names the user, as the Happy
	// server issues; the signature part is random.
	sub := "u" + g.hex(12)
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":%q,"iat":%d}`, sub, clockOrigin.Unix()-3600))
	u.token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + claims + "." + g.b64url(43)
	// The recording proxy keys a flow by a hash of the credential.
	h := sha256.Sum256([]byte(u.token))
	u.flow = "auth:" + hex.EncodeToString(h[:4])
	g.conns++
	u.conn = g.conns
	u.wsUser = g.rng.Float64() < g.cfg.WSShare
}

// The request mix, in percent: the Happy team's k6 full-API mix narrowed
// to health, sessions, messages and kv.
const (
	pHealth  = 20
	pList    = 15
	pCreate  = 10
	pGet     = 15
	pMessage = 20
	pDelete  = 5
	pKVGet   = 5
	pKVList  = 3
	// pKVSet takes the rest (7)
)

// request makes the next request of u at t, with what follows it on the
// user's WebSocket.
func (g *generator) request(t time.Duration, u *user) error {
	if !u.started {
		g.start(u)
	}
	u.requests++
	x := &traffic.Exchange{Flow: u.flow, ConnID: u.conn, Start: t}
	wait := 2*time.Millisecond + time.Duration(math.Min(g.rng.ExpFloat64(), 8)*float64(4*time.Millisecond))
	x.Timing = traffic.Timing{Send: 40 * time.Microsecond, Wait: wait, Receive: 120 * time.Microsecond}
	x.Timing.Total = x.Timing.Send + x.Timing.Wait + x.Timing.Receive
	u.busyUntil = t + x.Timing.Total
	now := ms(t + x.Timing.Send + wait/2) // the server's clock while handling it
	var push []byte                       // the update the request makes the server push
	p := g.rng.IntN(100)
	switch {
	case p < pHealth:
		x.Flow = "conn:" + strconv.FormatUint(u.conn, 10) // no credential: the proxy keys it by connection
		u.healthFlow = true
		g.req(x, u, "GET", "/health", nil)
		g.resp(x, fmt.Appendf(nil, `{"status":"healthy","timestamp":%q,"version":"happy-server-1.4.2"}`, time.UnixMilli(now).UTC().Format(time.RFC3339Nano)))
	case p < pHealth+pList:
		g.req(x, u, "GET", "/v1/sessions", nil)
		b := []byte(`{"sessions":[`)
		for i := len(u.sessions) - 1; i >= 0; i-- {
			b = g.appendSession(b, &u.sessions[i])
			if i > 0 {
				b = append(b, ',')
			}
		}
		g.resp(x, append(b, "]}"...))
	case p < pHealth+pList+pCreate || len(u.sessions) == 0 && p < pHealth+pList+pCreate+pGet+pMessage+pDelete:
		if len(u.sessions) == maxSessions {
			push = g.deleteSession(x, u, 0, now)
			break
		}
		push = g.createSession(x, u, now)
	case p < pHealth+pList+pCreate+pGet:
		s := &u.sessions[g.rng.IntN(len(u.sessions))]
		g.req(x, u, "GET", "/v1/sessions/"+s.id, nil)
		g.resp(x, append(g.appendSession([]byte(`{"session":`), s), '}'))
	case p < pHealth+pList+pCreate+pGet+pMessage:
		push = g.postMessage(x, u, &u.sessions[len(u.sessions)-1-g.rng.IntN(min(2, len(u.sessions)))], now)
	case p < pHealth+pList+pCreate+pGet+pMessage+pDelete:
		push = g.deleteSession(x, u, g.rng.IntN(len(u.sessions)), now)
	case p < pHealth+pList+pCreate+pGet+pMessage+pDelete+pKVGet && len(u.kv) > 0:
		it := &u.kv[g.rng.IntN(len(u.kv))]
		g.req(x, u, "GET", "/v1/kv/"+it.key, nil)
		g.resp(x, g.appendKV([]byte{}, it))
	case p < pHealth+pList+pCreate+pGet+pMessage+pDelete+pKVGet+pKVList:
		g.req(x, u, "GET", "/v1/kv?limit=100", nil)
		b := []byte(`{"items":[`)
		for i := range u.kv {
			if i > 0 {
				b = append(b, ',')
			}
			b = g.appendKV(b, &u.kv[i])
		}
		g.resp(x, append(b, "]}"...))
	default:
		push = g.setKV(x, u, now)
	}
	if err := g.write(traffic.Record{Kind: traffic.KindExchange, Exchange: x}); err != nil {
		return err
	}
	if !u.wsUser {
		return nil
	}
	if u.ws == 0 {
		g.openSocket(u, t+x.Timing.Total+time.Millisecond)
		return nil
	}
	// The server publishes a mutation to the user's sockets as it answers.
	if at := t + x.Timing.Send + wait - 200*time.Microsecond; push != nil && at > u.wsOpenAt {
		g.serverMessage(u, at, "update", push, "")
	}
	if at := t + x.Timing.Total + 500*time.Microsecond; g.cfg.WSAlive > 0 && u.requests%int64(g.cfg.WSAlive) == 0 && at > u.wsOpenAt+time.Millisecond {
		g.clientMessage(u, at)
	}
	return nil
}

// ms is a corpus offset as the server's millisecond timestamp.
func ms(t time.Duration) int64 { return clockOrigin.Add(t).UnixMilli() }

// req sets x's request as the Happy app sends it.
func (g *generator) req(x *traffic.Exchange, u *user, method, target string, body []byte) {
	host := g.host()
	h := traffic.Fields{{Name: "Host", Value: host}, {Name: "Accept", Value: "application/json"}}
	if x.Flow == u.flow {
		h = append(h, traffic.Field{Name: "Authorization", Value: "Bearer " + u.token})
	}
	if body != nil {
		h = append(h, traffic.Field{Name: "Content-Length", Value: strconv.Itoa(len(body))}, traffic.Field{Name: "Content-Type", Value: "application/json"})
	}
	h = append(h, traffic.Field{Name: "User-Agent", Value: "happy-app/1.4.2 (ios 18.1)"})
	x.Request = traffic.Request{Method: method, URL: target, Host: host, Scheme: g.scheme(), Proto: "HTTP/1.1", Header: h, Body: traffic.Body{Data: body, Size: int64(len(body))}}
}

// resp sets x's response: 200 with a JSON body.
func (g *generator) resp(x *traffic.Exchange, body []byte) {
	x.Response = &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
		Header: traffic.Fields{
			{Name: "Content-Length", Value: strconv.Itoa(len(body))},
			{Name: "Content-Type", Value: "application/json"},
			{Name: "X-Request-Id", Value: g.hex(16)},
			{Name: "X-Response-Time", Value: strconv.FormatInt(x.Timing.Wait.Milliseconds(), 10) + "ms"},
		},
		Body: traffic.Body{Data: body, Size: int64(len(body))}}
}

// scheme is the origin's scheme.
func (g *generator) scheme() string { return g.origin.Scheme }

// host is the origin's host, as the Host header carries it.
func (g *generator) host() string { return g.origin.Host }

func (g *generator) createSession(x *traffic.Exchange, u *user, now int64) []byte {
	u.sessionSeq++
	s := session{id: g.hex(16), meta: g.rng.Uint64(), metaLen: g.size(), created: now, updated: now}
	tag := g.uuid()
	body := fmt.Appendf(nil, `{"tag":%q,"metadata":"`, tag)
	body = appendPayload(body, s.meta, s.metaLen)
	body = append(body, `"}`...)
	g.req(x, u, "POST", "/v1/sessions", body)
	u.sessions = append(u.sessions, s)
	g.resp(x, append(g.appendSession([]byte(`{"session":`), &s), '}'))
	u.updateSeq++
	return g.appendUpdate(nil, u, now, func(b []byte) []byte {
		return append(fmt.Appendf(b, `{"t":"new-session","sid":%q,"seq":0,"metadata":"`, s.id), append(appendPayload(nil, s.meta, s.metaLen), `"}`...)...)
	})
}

func (g *generator) deleteSession(x *traffic.Exchange, u *user, i int, now int64) []byte {
	s := u.sessions[i]
	g.req(x, u, "DELETE", "/v1/sessions/"+s.id, nil)
	g.resp(x, []byte(`{"success":true}`))
	u.sessions = append(u.sessions[:i], u.sessions[i+1:]...)
	u.updateSeq++
	return g.appendUpdate(nil, u, now, func(b []byte) []byte {
		return fmt.Appendf(b, `{"t":"delete-session","sid":%q}`, s.id)
	})
}

func (g *generator) postMessage(x *traffic.Exchange, u *user, s *session, now int64) []byte {
	localID := g.uuid()
	content := append(appendPayload([]byte(`{"t":"encrypted","c":"`), g.rng.Uint64(), g.size()), `"}`...)
	g.req(x, u, "POST", "/v1/sessions/"+s.id+"/messages", fmt.Appendf(nil, `{"localId":%q,"content":%s}`, localID, content))
	s.messages++
	s.seq++
	s.updated = now
	msg := fmt.Appendf(nil, `{"id":%q,"sessionId":%q,"localId":%q,"seq":%d,"content":%s,"createdAt":%d,"updatedAt":%d}`,
		g.hex(12), s.id, localID, s.messages, content, now, now)
	g.resp(x, fmt.Appendf(nil, `{"message":%s}`, msg))
	u.updateSeq++
	return g.appendUpdate(nil, u, now, func(b []byte) []byte {
		return fmt.Appendf(b, `{"t":"new-message","sid":%q,"message":%s}`, s.id, msg)
	})
}

func (g *generator) setKV(x *traffic.Exchange, u *user, now int64) []byte {
	var it *kvItem
	created := len(u.kv) < maxKeys && (len(u.kv) == 0 || g.rng.IntN(3) == 0)
	if created {
		key := "settings." + g.hex(6)
		i := 0
		for i < len(u.kv) && u.kv[i].key < key {
			i++
		}
		u.kv = append(u.kv, kvItem{})
		copy(u.kv[i+1:], u.kv[i:])
		u.kv[i] = kvItem{key: key, version: -1}
		it = &u.kv[i]
	} else {
		it = &u.kv[g.rng.IntN(len(u.kv))]
	}
	sent := it.version
	it.value, it.size = g.rng.Uint64(), g.size()
	it.version = max(sent, 0) + 1
	value := appendPayload(nil, it.value, it.size)
	g.req(x, u, "POST", "/v1/kv", fmt.Appendf(nil, `{"mutations":[{"key":%q,"value":"%s","version":%d}]}`, it.key, value, sent))
	g.resp(x, fmt.Appendf(nil, `{"success":true,"results":[{"key":%q,"version":%d}]}`, it.key, it.version))
	u.updateSeq++
	return g.appendUpdate(nil, u, now, func(b []byte) []byte {
		return fmt.Appendf(b, `{"t":"kv-batch-update","changes":[{"key":%q,"value":"%s","version":%d}]}`, it.key, value, it.version)
	})
}

// appendSession writes s as the server shows it.
func (g *generator) appendSession(b []byte, s *session) []byte {
	b = fmt.Appendf(b, `{"id":%q,"seq":%d,"createdAt":%d,"updatedAt":%d,"active":true,"activeAt":%d,"metadata":"`, s.id, s.seq, s.created, s.updated, s.updated)
	b = appendPayload(b, s.meta, s.metaLen)
	return append(b, `","metadataVersion":0,"agentState":null,"agentStateVersion":0,"dataEncryptionKey":null,"lastMessage":null}`...)
}

func (g *generator) appendKV(b []byte, it *kvItem) []byte {
	b = fmt.Appendf(b, `{"key":%q,"value":"`, it.key)
	b = appendPayload(b, it.value, it.size)
	return fmt.Appendf(b, `","version":%d}`, it.version)
}

// appendUpdate writes the payload of an update event made at now; body
// writes its body.
func (g *generator) appendUpdate(b []byte, u *user, now int64, body func([]byte) []byte) []byte {
	b = fmt.Appendf(b, `{"id":%q,"seq":%d,"body":`, g.hex(12), u.updateSeq)
	b = body(b)
	return fmt.Appendf(b, `,"createdAt":%d}`, now)
}

// openSocket schedules u's WebSocket connection at t: the upgrade, then
// the server's connected event.
func (g *generator) openSocket(u *user, t time.Duration) {
	g.conns++
	u.ws, u.wsOpenAt = g.conns, t
	key := base64.StdEncoding.EncodeToString(g.bytes(16))
	host := g.host()
	up := traffic.Exchange{Flow: u.flow, ConnID: u.ws, Start: t,
		Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=" + u.token + "&clientType=user-scoped", Host: host, Scheme: g.scheme(), Proto: "HTTP/1.1",
			Header: traffic.Fields{{Name: "Host", Value: host}, {Name: "Connection", Value: "Upgrade"}, {Name: "Sec-Websocket-Key", Value: key},
				{Name: "Sec-Websocket-Version", Value: "13"}, {Name: "Upgrade", Value: "websocket"}, {Name: "User-Agent", Value: "happy-app/1.4.2 (ios 18.1)"}},
			Body: traffic.Body{Size: 0}},
		Response: &traffic.Response{Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1",
			Header: traffic.Fields{{Name: "Connection", Value: "Upgrade"}, {Name: "Sec-Websocket-Accept", Value: acceptKey(key)}, {Name: "Upgrade", Value: "websocket"}},
			Body:   traffic.Body{Size: 0}},
		Timing: traffic.Timing{Send: 40 * time.Microsecond, Wait: 900 * time.Microsecond, Total: 940 * time.Microsecond},
	}
	g.later(traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: u.flow, ConnID: u.ws, Start: t, Upgrade: up}})
	at := t + time.Millisecond
	g.later(g.message(u, at, false, fmt.Appendf(nil, `{"event":"connected","data":{"connectionId":%q,"userId":"%s","clientType":"user-scoped","timestamp":%d}}`,
		g.hex(8), u.flow[len("auth:"):], ms(at))))
}

// serverMessage schedules a server message of the Happy framing at t.
func (g *generator) serverMessage(u *user, t time.Duration, typ string, payload []byte, ackID string) {
	b := fmt.Appendf(nil, `{"type":%q,"payload":%s,"timestamp":%d,"messageId":%q`, typ, payload, ms(t), g.hex(8))
	if ackID != "" {
		b = fmt.Appendf(b, `,"ackId":%q`, ackID)
	}
	g.later(g.message(u, t, false, append(b, '}')))
}

// clientMessage schedules u's keep-alive at t: session-alive for its
// latest session (a server-made id, so correlation carries it), or a ping
// that the server answers with a pong.
func (g *generator) clientMessage(u *user, t time.Duration) {
	if n := len(u.sessions); n > 0 {
		g.later(g.message(u, t, true, fmt.Appendf(nil, `{"event":"session-alive","data":{"sid":%q,"time":%d,"thinking":false}}`, u.sessions[n-1].id, ms(t))))
		return
	}
	ack := g.hex(8)
	g.later(g.message(u, t, true, fmt.Appendf(nil, `{"event":"ping","data":{"timestamp":%d},"ackId":%q}`, ms(t), ack)))
	at := t + 600*time.Microsecond
	g.serverMessage(u, at, "pong", fmt.Appendf(nil, `{"timestamp":%d,"serverTime":%d}`, ms(t), ms(at)), ack)
}

func (g *generator) message(u *user, t time.Duration, fromClient bool, payload []byte) traffic.Record {
	return traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{
		Flow: u.flow, ConnID: u.ws, Start: t, FromClient: fromClient, Opcode: traffic.OpText,
		Payload: payload, Size: int64(len(payload)), Frames: 1,
	}}
}

// acceptKey is the Sec-WebSocket-Accept answering key (RFC 6455 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// size draws a payload size around the configured mean, a multiple of 4
// (whole base64 quanta).
func (g *generator) size() int {
	n := g.cfg.Body/2 + g.rng.IntN(g.cfg.Body+1)
	return max(4, n&^3)
}

func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for j := i; j < n && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

// hex is a random id of n bytes in lowercase hex, as the server makes.
func (g *generator) hex(n int) string { return hex.EncodeToString(g.bytes(n)) }

// b64url is n random base64url characters.
func (g *generator) b64url(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	var v uint64
	for i := range b {
		if i%10 == 0 {
			v = g.rng.Uint64()
		}
		b[i] = alphabet[v&63]
		v >>= 6
	}
	return string(b)
}

// uuid is a random version 4 UUID, as the app makes its tags and localIds.
func (g *generator) uuid() string {
	b := g.bytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// appendPayload appends n characters of standard base64 (an encrypted
// blob, as the app stores) made from seed: the same seed gives the same
// payload, so a payload shown again is regenerated rather than kept.
func appendPayload(b []byte, seed uint64, n int) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	var v uint64
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			v = src.Uint64()
		}
		b = append(b, alphabet[v&63])
		v >>= 6
	}
	return b
}

type aheadRec struct {
	rec traffic.Record
	seq uint64
}

// recordHeap orders records scheduled ahead by start, then by when they
// were scheduled.
type recordHeap []aheadRec

func (h recordHeap) Len() int { return len(h) }
func (h recordHeap) Less(i, j int) bool {
	a, b := h[i].rec.Start(), h[j].rec.Start()
	if a != b {
		return a < b
	}
	return h[i].seq < h[j].seq
}
func (h recordHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recordHeap) Push(x any)   { *h = append(*h, x.(aheadRec)) }
func (h *recordHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
