package happyapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/coding"
)

// Server is an in-memory Happy-compatible API server. It is an
// http.Handler (usable with httptest.NewServer) and can also listen by
// itself with Start.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	origin  time.Time // clock origin of stalls and truth offsets (monotonic)
	upgrade websocket.Upgrader

	authLimit   *limiter
	ticketLimit *limiter
	admit       *admission
	conns       connCounter

	rngMu sync.Mutex
	rng   *mrand.Rand

	usersMu sync.Mutex
	users   map[string]*user
	hub     *hub

	seq     atomic.Int64
	statsMu sync.Mutex
	stats   Stats
	truth   []RequestTruth
	dropped int64

	srvMu   sync.Mutex
	httpSrv *http.Server
	ln      net.Listener
	done    chan struct{}
}

// New validates cfg and returns a server with empty state.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("happyapi config: %w", err)
	}
	s := &Server{
		cfg:         c,
		mux:         http.NewServeMux(),
		origin:      time.Now(),
		authLimit:   newLimiter(c.AuthLimit),
		ticketLimit: newLimiter(c.TicketLimit),
		admit:       newAdmission(c.MaxConcurrent, c.MaxRate, c.MaxQueue),
		rng:         mrand.New(mrand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)),
		users:       make(map[string]*user),
		stats:       newStats(),
	}
	s.hub = newHub()
	s.upgrade = websocket.Upgrader{
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeJSON(w, status, map[string]any{"error": reason.Error()})
		},
	}
	s.routes()
	return s, nil
}

// Origin returns the server's clock origin: stalls start Stall.Every after
// it, and RequestTruth.Arrived is measured from it.
func (s *Server) Origin() time.Time { return s.origin }

// ServeHTTP answers one request: it stamps the tracing headers, sets up
// response compression, waits for a turn under the capacity limits,
// applies the injected stall, latency and fault, routes the request and
// records the truth about it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == StatePath {
		s.serveState(w, r)
		return
	}
	arrived := time.Now()
	seq := s.seq.Add(1) - 1
	rw := &responseWriter{ResponseWriter: w, start: arrived}
	rw.Header().Set("X-Request-ID", randomHex(16))
	var out http.ResponseWriter = rw
	var cw *compressWriter
	if !s.cfg.NoCompress && r.Method != http.MethodHead && !websocket.IsWebSocketUpgrade(r) {
		c, _ := coding.Negotiate(r.Header.Values("Accept-Encoding"), nil)
		cw = &compressWriter{ResponseWriter: rw, coding: c, minSize: s.cfg.CompressMinSize, s: s}
		out = cw
	}

	queued, outcome := s.admit.enter(r.Context())
	offset := arrived.Sub(s.origin)
	var hold, lat time.Duration
	fault := 0
	switch outcome {
	case admitted:
		hold = s.cfg.Stall.Hold(offset + queued)
		lat, fault = s.draw()
		if wait := hold + lat; wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		switch {
		case r.Context().Err() != nil:
			rw.status = StatusClientGone
		case fault != 0:
			s.writeJSON(out, fault, map[string]any{"error": http.StatusText(fault), "code": "INJECTED_FAULT"})
		default:
			// The mux sets r.Pattern to the route it chose.
			s.mux.ServeHTTP(out, r)
		}
	case refusedFull:
		out.Header().Set("Retry-After", "1")
		s.writeJSON(out, http.StatusServiceUnavailable, map[string]any{"error": "Server overloaded", "code": "OVERLOADED"})
	case clientGone:
		rw.status = StatusClientGone
	}
	if cw != nil {
		cw.finish()
	}
	if outcome == admitted {
		s.admit.leave()
	}
	route := r.Pattern
	if route == "" {
		// The mux did not run: ask it which route the request was for.
		_, route = s.mux.Handler(r)
	}
	if route == "" || route == "/" {
		route = RouteUnmatched
	}
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	s.record(RequestTruth{
		Seq:     seq,
		Route:   route,
		Method:  r.Method,
		Path:    r.URL.Path,
		Arrived: offset,
		Queued:  queued,
		Refused: outcome == refusedFull,
		Stall:   hold,
		Latency: lat,
		Fault:   fault,
		Status:  rw.status,
		Served:  time.Since(arrived),
	})
}

// draw samples the injected latency and decides on a fault.
func (s *Server) draw() (time.Duration, int) {
	if s.cfg.Latency.Dist == DistNone && s.cfg.ErrorRate == 0 {
		return 0, 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	lat := s.cfg.Latency.Sample(s.rng)
	fault := 0
	if s.cfg.ErrorRate > 0 && s.rng.Float64() < s.cfg.ErrorRate {
		fault = http.StatusInternalServerError
		if s.rng.IntN(2) == 1 {
			fault = http.StatusServiceUnavailable
		}
	}
	return lat, fault
}

// responseWriter stamps X-Response-Time and Server-Timing when the header
// is written and remembers the status. It passes Hijack through for
// WebSocket upgrades.
type responseWriter struct {
	http.ResponseWriter
	start  time.Time
	status int
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	el := time.Since(w.start)
	ms := float64(el) / float64(time.Millisecond)
	w.Header().Set("X-Response-Time", strconv.FormatFloat(ms, 'f', 2, 64)+"ms")
	w.Header().Set("Server-Timing", "total;dur="+strconv.FormatFloat(ms, 'f', 3, 64))
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	w.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Start listens on addr (host:port; port 0 picks a free one) and serves in
// the background until ctx is cancelled (then shuts down gracefully) or
// Close is called. It returns once the listener is bound; URL then tells
// where.
func (s *Server) Start(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Start with a listener the caller made; it takes ownership of ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.srvMu.Lock()
	if s.httpSrv != nil {
		s.srvMu.Unlock()
		ln.Close()
		return errors.New("server already started")
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	ln = s.conns.listener(ln)
	s.httpSrv, s.ln, s.done = hs, ln, make(chan struct{})
	s.srvMu.Unlock()

	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.Shutdown(sctx)
			cancel()
		case <-served:
		}
		<-served
		close(s.done)
	}()
	return nil
}

// URL returns the base URL of a started server ("http://127.0.0.1:PORT"),
// or "" before Start.
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Done is closed when a started server has stopped serving.
func (s *Server) Done() <-chan struct{} {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.done
}

// Shutdown stops accepting, closes WebSocket connections with 1001 (going
// away) and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.closeAll(websocket.CloseGoingAway, "server shutting down")
	s.srvMu.Lock()
	hs := s.httpSrv
	s.srvMu.Unlock()
	if hs == nil {
		return nil
	}
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops the server at once, dropping connections.
func (s *Server) Close() error {
	s.hub.closeAll(websocket.CloseGoingAway, "server closing")
	s.srvMu.Lock()
	hs := s.httpSrv
	s.srvMu.Unlock()
	if hs == nil {
		return nil
	}
	if err := hs.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// writeJSON writes v as the JSON response body with status.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// validation answers 400 VALIDATION_FAILED.
func (s *Server) validation(w http.ResponseWriter, msg string) {
	s.writeJSON(w, http.StatusBadRequest, map[string]any{
		"error":     msg,
		"code":      "VALIDATION_FAILED",
		"requestId": w.Header().Get("X-Request-ID"),
		"timestamp": s.nowMs(),
	})
}

func (s *Server) errorJSON(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, map[string]any{"error": msg})
}

// decode reads a JSON body into v, answering 400 itself when it cannot.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.validation(w, "Could not read request body")
		return false
	}
	if len(body) > maxBody {
		s.writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "Request body too large"})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.validation(w, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

const maxBody = 1 << 20

func (s *Server) nowMs() int64 { return s.cfg.Now().UnixMilli() }

// randomHex returns n random bytes in hex (2n characters).
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand aborts the program instead
	return hex.EncodeToString(b)
}
