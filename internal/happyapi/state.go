package happyapi

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// StatePath is the debug route that answers the server's State as JSON,
// to loopback clients only. It lies outside the Happy API's namespace, is
// not counted in Stats or Truth, and is neither limited, delayed nor
// compressed.
const StatePath = "/_reprise/state"

// State is what exists in the server now, and the peaks of its load: what
// a test checks to see that a replay left nothing behind and that its
// clients stayed within their connection bound.
type State struct {
	// Users is the number of accounts (made by a login or by a token's
	// first use).
	Users int `json:"users"`
	// Sessions counts sessions not deleted (archived ones included).
	Sessions int `json:"sessions"`
	// Messages counts the messages of those sessions.
	Messages int `json:"messages"`
	// Machines, Artifacts and KVKeys count what exists (kv keys with a
	// value; a deleted key is gone).
	Machines  int `json:"machines"`
	Artifacts int `json:"artifacts"`
	KVKeys    int `json:"kv_keys"`
	// WebSockets is the number of WebSocket connections open now.
	WebSockets int `json:"websockets"`
	// Conns is the number of TCP connections open now (WebSockets
	// included) and PeakConns the most open at once. They are counted on
	// the listener of Start or Serve, and stay 0 when the server is used
	// as a handler of another http.Server.
	Conns     int `json:"conns"`
	PeakConns int `json:"peak_conns"`
	// Active is the number of requests being handled now and PeakActive
	// the most at once (never over Config.MaxConcurrent when it is set).
	Active     int `json:"active"`
	PeakActive int `json:"peak_active"`
	// Queued is the number of requests waiting for a turn now and
	// PeakQueued the most at once.
	Queued     int `json:"queued"`
	PeakQueued int `json:"peak_queued"`
}

// String is a one-line account ("3 sessions, 0 machines, ...").
func (s State) String() string {
	return strconv.Itoa(s.Users) + " users, " +
		strconv.Itoa(s.Sessions) + " sessions (" + strconv.Itoa(s.Messages) + " messages), " +
		strconv.Itoa(s.Machines) + " machines, " +
		strconv.Itoa(s.Artifacts) + " artifacts, " +
		strconv.Itoa(s.KVKeys) + " kv keys, " +
		strconv.Itoa(s.WebSockets) + " WebSockets open, " +
		strconv.Itoa(s.Conns) + " TCP connections open (peak " + strconv.Itoa(s.PeakConns) + "), " +
		"peak " + strconv.Itoa(s.PeakActive) + " requests handled at once, " +
		"peak " + strconv.Itoa(s.PeakQueued) + " queued"
}

// State counts what exists in the server now.
func (s *Server) State() State {
	var st State
	s.usersMu.Lock()
	users := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		users = append(users, u)
	}
	s.usersMu.Unlock()
	st.Users = len(users)
	for _, u := range users {
		u.mu.Lock()
		st.Sessions += len(u.sessions)
		for _, ss := range u.sessions {
			st.Messages += len(ss.messages)
		}
		st.Machines += len(u.machines)
		st.Artifacts += len(u.artifacts)
		for _, it := range u.kv {
			if it.value != nil {
				st.KVKeys++
			}
		}
		u.mu.Unlock()
	}
	st.WebSockets = s.hub.counters().open
	st.Conns, st.PeakConns = s.conns.counts()
	a := s.admit.counters()
	st.Active, st.PeakActive, st.Queued, st.PeakQueued = a.active, a.peakActive, a.queued, a.peakQueued
	return st
}

// serveState answers StatePath: the State as JSON to loopback clients, a
// plain 404 to others.
func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || !ip.IsLoopback() {
		s.errorJSON(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.errorJSON(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	body, _ := json.Marshal(s.State()) // a struct of ints always marshals
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// connCounter counts the TCP connections of a listener: open now and the
// most at once. A connection counts until it is closed, hijacked ones
// (WebSockets) included.
type connCounter struct {
	mu         sync.Mutex
	open, peak int
}

func (c *connCounter) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.peak
}

// listener wraps ln so that its connections are counted.
func (c *connCounter) listener(ln net.Listener) net.Listener { return &countingListener{ln, c} }

type countingListener struct {
	net.Listener
	c *connCounter
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.mu.Lock()
	l.c.open++
	l.c.peak = max(l.c.peak, l.c.open)
	l.c.mu.Unlock()
	return &countedConn{Conn: conn, c: l.c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.c.mu.Lock()
		c.c.open--
		c.c.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection, as net/http does before it
// closes one after an error answer.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
