package happyapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Auth failure messages, as the real server words them.
const (
	msgMissingAuth  = "Missing Authorization header"
	msgInvalidToken = "Invalid or expired token"
)

// userIDFrom derives a stable, opaque user id (25 lowercase base32
// characters, like a cuid) from an identity: a public key or a static token.
func userIDFrom(kind string, identity []byte) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(identity)
	sum := h.Sum(nil)
	return "c" + strings.ToLower(b32.EncodeToString(sum[:15]))
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var b64url = base64.RawURLEncoding

type jwtClaims struct {
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Iss string `json:"iss"`
	Jti string `json:"jti,omitempty"`
}

const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

// issueToken makes an HS256 JWT for user.
func (s *Server) issueToken(user string) string {
	now := s.cfg.Now()
	c := jwtClaims{Sub: user, Iat: now.Unix(), Exp: now.Add(s.cfg.TokenTTL).Unix(), Iss: "happy-server", Jti: randomHex(8)}
	body, _ := json.Marshal(c) // plain struct: cannot fail
	unsigned := b64url.EncodeToString([]byte(jwtHeader)) + "." + b64url.EncodeToString(body)
	return unsigned + "." + b64url.EncodeToString(s.mac("jwt", unsigned))
}

func (s *Server) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, s.cfg.SigningKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verifyToken returns the user a JWT names if its signature and expiry hold.
func (s *Server) verifyToken(tok string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac("jwt", parts[0]+"."+parts[1])) {
		return "", false
	}
	body, err := b64url.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c jwtClaims
	if err := json.Unmarshal(body, &c); err != nil || c.Sub == "" {
		return "", false
	}
	if s.cfg.Now().Unix() >= c.Exp {
		return "", false
	}
	return c.Sub, true
}

// userForToken resolves a bearer token to a user id.
func (s *Server) userForToken(tok string) (string, bool) {
	if tok == "" {
		return "", false
	}
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			return userIDFrom("token", []byte(tok)), true
		}
	}
	if u, ok := s.verifyToken(tok); ok {
		return u, true
	}
	if s.cfg.AnyToken {
		// A JWT from another server (a recorded one) keeps its user, so
		// one user's requests and sockets stay together on replay.
		if sub := unverifiedSubject(tok); sub != "" {
			return sub, true
		}
		return userIDFrom("token", []byte(tok)), true
	}
	return "", false
}

// unverifiedSubject returns the sub claim of a JWT-shaped token without
// checking its signature or expiry ("" if it has none).
func unverifiedSubject(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	body, err := b64url.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c jwtClaims
	if json.Unmarshal(body, &c) != nil {
		return ""
	}
	return c.Sub
}

// bearer extracts the token of an Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// authenticate resolves the request's user from its Authorization header;
// on failure it returns the message for the 401 body.
func (s *Server) authenticate(r *http.Request) (user, problem string) {
	tok, present := bearer(r)
	if !present {
		return "", msgMissingAuth
	}
	u, ok := s.userForToken(tok)
	if !ok {
		return "", msgInvalidToken
	}
	return u, ""
}

type ticketClaims struct {
	U string `json:"u"`
	E int64  `json:"e"` // expiry, unix milliseconds
	N string `json:"n"`
}

// issueTicket makes a short-lived, signed WebSocket ticket for user.
func (s *Server) issueTicket(user string) string {
	c := ticketClaims{U: user, E: s.cfg.Now().Add(s.cfg.TicketTTL).UnixMilli(), N: randomHex(6)}
	body, _ := json.Marshal(c) // plain struct: cannot fail
	p := b64url.EncodeToString(body)
	return p + "." + b64url.EncodeToString(s.mac("ticket", p))
}

// verifyTicket returns the user of a valid, unexpired ticket. With
// AnyToken, a well-formed ticket's user is taken unverified (a recorded
// ticket replayed later keeps its user).
func (s *Server) verifyTicket(t string) (string, bool) {
	p, sigText, ok := strings.Cut(t, ".")
	if !ok {
		return "", false
	}
	body, err := b64url.DecodeString(p)
	if err != nil {
		return "", false
	}
	var c ticketClaims
	if err := json.Unmarshal(body, &c); err != nil || c.U == "" {
		return "", false
	}
	if s.cfg.AnyToken {
		return c.U, true
	}
	sig, err := b64url.DecodeString(sigText)
	if err != nil || !hmac.Equal(sig, s.mac("ticket", p)) {
		return "", false
	}
	if s.cfg.Now().UnixMilli() >= c.E {
		return "", false
	}
	return c.U, true
}

// limiter is a sliding-log rate limiter keyed by string.
type limiter struct {
	lim RateLimit
	mu  sync.Mutex
	log map[string][]time.Time
}

func newLimiter(l RateLimit) *limiter {
	return &limiter{lim: l, log: make(map[string][]time.Time)}
}

// allow records a hit for key at now and reports whether it is within the
// limit; when not, it returns how long until the next hit would be allowed.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.lim.N < 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := now.Add(-l.lim.Per)
	if len(l.log) > 10000 {
		for k, ts := range l.log {
			if len(ts) == 0 || !ts[len(ts)-1].After(cut) {
				delete(l.log, k)
			}
		}
	}
	ts := l.log[key]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.lim.N {
		l.log[key] = ts
		return false, ts[0].Sub(cut)
	}
	l.log[key] = append(ts, now)
	return true, 0
}
