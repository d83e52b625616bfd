package happyapi

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// routes registers every route of the Happy Server Workers API.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.handleRoot)
	m.HandleFunc("GET /health", s.handleHealth)
	m.HandleFunc("GET /ready", s.handleReady)
	m.HandleFunc("POST /v1/auth", s.handleAuth)
	m.HandleFunc("POST /v1/version", s.handleVersion)

	m.HandleFunc("GET /v1/sessions", s.authed(s.listSessions))
	m.HandleFunc("POST /v1/sessions", s.authed(s.createSession))
	m.HandleFunc("GET /v2/sessions", s.authed(s.listSessionsV2))
	m.HandleFunc("GET /v2/sessions/active", s.authed(s.activeSessions))
	m.HandleFunc("GET /v1/sessions/{id}", s.authed(s.getSession))
	m.HandleFunc("DELETE /v1/sessions/{id}", s.authed(s.deleteSession))
	m.HandleFunc("GET /v1/sessions/{id}/state", s.authed(s.sessionState))
	m.HandleFunc("POST /v1/sessions/{id}/archive", s.authed(s.archiveSession))
	m.HandleFunc("POST /v1/sessions/{id}/messages", s.authed(s.postMessage))
	m.HandleFunc("GET /v1/sessions/{id}/messages", s.authed(s.listMessages))

	m.HandleFunc("GET /v1/machines", s.authed(s.listMachines))
	m.HandleFunc("POST /v1/machines", s.authed(s.registerMachine))
	m.HandleFunc("GET /v1/machines/{id}", s.authed(s.getMachine))
	m.HandleFunc("PUT /v1/machines/{id}/status", s.authed(s.machineStatus))

	m.HandleFunc("GET /v1/artifacts", s.authed(s.listArtifacts))
	m.HandleFunc("POST /v1/artifacts", s.authed(s.createArtifact))
	m.HandleFunc("GET /v1/artifacts/{id}", s.authed(s.getArtifact))
	m.HandleFunc("POST /v1/artifacts/{id}", s.authed(s.updateArtifact))
	m.HandleFunc("DELETE /v1/artifacts/{id}", s.authed(s.deleteArtifact))

	m.HandleFunc("GET /v1/account", s.authed(s.getAccount))
	m.HandleFunc("PUT /v1/account", s.authed(s.updateAccount))
	m.HandleFunc("GET /v1/account/preferences", s.authed(s.getPreferences))
	m.HandleFunc("PUT /v1/account/preferences", s.authed(s.putPreferences))
	m.HandleFunc("GET /v1/account/settings", s.authed(s.getPreferences))
	m.HandleFunc("PUT /v1/account/settings", s.authed(s.putPreferences))
	m.HandleFunc("POST /v1/account/settings", s.authed(s.putPreferences))

	m.HandleFunc("GET /v1/kv", s.authed(s.listKV))
	m.HandleFunc("POST /v1/kv", s.authed(s.mutateKV))
	m.HandleFunc("POST /v1/kv/bulk", s.authed(s.bulkKV))
	m.HandleFunc("GET /v1/kv/{key}", s.authed(s.getKV))

	m.HandleFunc("GET /v1/feed", s.authed(s.getFeed))

	m.HandleFunc("POST /v1/websocket/ticket", s.authed(s.wsTicket))
	m.HandleFunc("GET /v1/websocket/stats", s.authed(s.wsStats))
	m.HandleFunc("POST /v1/websocket/broadcast", s.authed(s.wsBroadcast))
	m.HandleFunc("GET /v1/updates", s.handleWebSocket)
	m.HandleFunc("GET /v1/websocket", s.handleWebSocket)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorJSON(w, http.StatusNotFound, "Not found: "+r.URL.Path)
	})
}

// authed wraps a handler that needs the bearer token's user.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, problem := s.authenticate(r)
		if problem != "" {
			s.errorJSON(w, http.StatusUnauthorized, problem)
			return
		}
		h(w, r, s.user(id))
	}
}

func (s *Server) isoNow() string { return s.cfg.Now().UTC().Format(time.RFC3339Nano) }

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]any{
		"message":     "Welcome to Happy Server on Cloudflare Workers!",
		"version":     s.cfg.Version,
		"environment": "development",
		"timestamp":   s.isoNow(),
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "timestamp": s.isoNow(), "version": s.cfg.Version})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]any{
		"ready":     true,
		"checks":    map[string]any{"database": true, "durableObjects": true, "kv": nil},
		"timestamp": s.isoNow(),
	})
}

// decodeB64 accepts standard or URL-safe base64, padded or not.
func decodeB64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func (s *Server) tooMany(w http.ResponseWriter, retry time.Duration) {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "Rate limit exceeded", "retryAfter": secs})
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PublicKey, Challenge, Signature *string
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.PublicKey == nil || req.Challenge == nil || req.Signature == nil {
		s.validation(w, "publicKey, challenge and signature are required")
		return
	}
	pub, ok1 := decodeB64(*req.PublicKey)
	challenge, ok2 := decodeB64(*req.Challenge)
	sig, ok3 := decodeB64(*req.Signature)
	switch {
	case !ok1 || !ok2 || !ok3:
		s.validation(w, "publicKey, challenge and signature must be base64")
		return
	case len(pub) != ed25519.PublicKeySize:
		s.validation(w, "publicKey must be a 32-byte Ed25519 key")
		return
	case len(sig) != ed25519.SignatureSize:
		s.validation(w, "signature must be a 64-byte Ed25519 signature")
		return
	case len(challenge) == 0:
		s.validation(w, "challenge must not be empty")
		return
	}
	if ok, retry := s.authLimit.allow(string(pub), time.Now()); !ok {
		s.tooMany(w, retry)
		return
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), challenge, sig) {
		s.errorJSON(w, http.StatusUnauthorized, "Invalid signature")
		return
	}
	u := s.user(userIDFrom("key", pub))
	s.writeJSON(w, http.StatusOK, map[string]any{"success": true, "token": s.issueToken(u.id)})
}

var versionRE = regexp.MustCompile(`^(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// minAppVersion is the oldest app version that needs no update.
const minAppVersion = 1_000_000 // 1.0.0 as major*1e6+minor*1e3+patch

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	var raw map[string]any
	if !s.decode(w, r, &raw) {
		return
	}
	str := func(k string) *string {
		if v, ok := raw[k].(string); ok {
			return &v
		}
		return nil
	}
	platform, version, appID := str("platform"), str("version"), str("app_id")
	if platform == nil || version == nil || appID == nil {
		s.validation(w, "platform, version and app_id are required strings")
		return
	}
	var update any
	if m := versionRE.FindStringSubmatch(*version); m != nil {
		n := 0
		for _, part := range m[1:] {
			v, _ := strconv.Atoi(part) // digits only, or empty
			n = n*1000 + v
		}
		if n < minAppVersion {
			update = "https://happy.engineering/update?platform=" + *platform
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"updateUrl": update})
}

// parseLimit reads ?limit within 1..max; def when absent.
func (s *Server) parseLimit(w http.ResponseWriter, r *http.Request, def, max int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		s.validation(w, "limit must be an integer between 1 and "+strconv.Itoa(max))
		return 0, false
	}
	return n, true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ---- sessions

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, u *user) {
	u.mu.Lock()
	list := sortedSessions(u)
	if len(list) > 150 {
		list = list[:150]
	}
	out := views(list)
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// sortedSessions returns u's sessions newest first; u.mu must be held.
func sortedSessions(u *user) []*session {
	list := make([]*session, 0, len(u.sessions))
	for _, ss := range u.sessions {
		list = append(list, ss)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].order > list[j].order })
	return list
}

func views(list []*session) []sessionJSON {
	out := make([]sessionJSON, len(list))
	for i, ss := range list {
		out[i] = ss.view()
	}
	return out
}

// cursorPrefix starts the opaque cursors of session and message lists.
const cursorPrefix = "cursor_v1_"

// cursor reads the query parameter name as prefix followed by a number:
// def when it is absent; false (after answering 400) when malformed.
func (s *Server) cursor(w http.ResponseWriter, r *http.Request, name, prefix string, def int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	digits, ok := strings.CutPrefix(v, prefix)
	n, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil {
		s.validation(w, "Invalid cursor format")
		return 0, false
	}
	return n, true
}

func (s *Server) listSessionsV2(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 50, 200)
	if !ok {
		return
	}
	before, ok := s.cursor(w, r, "cursor", cursorPrefix, -1)
	if !ok {
		return
	}
	u.mu.Lock()
	var page []*session
	more := false
	for _, ss := range sortedSessions(u) {
		if before >= 0 && ss.order >= before {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, ss)
	}
	var next any
	if more {
		next = cursorPrefix + itoa(page[len(page)-1].order)
	}
	out := views(page)
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"sessions": out, "nextCursor": next})
}

func (s *Server) activeSessions(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 150, 500)
	if !ok {
		return
	}
	cut := s.nowMs() - (15 * time.Minute).Milliseconds()
	u.mu.Lock()
	var page []*session
	for _, ss := range sortedSessions(u) {
		if ss.Active && ss.ActiveAt >= cut && len(page) < limit {
			page = append(page, ss)
		}
	}
	out := views(page)
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Tag               *string `json:"tag"`
		Metadata          *string `json:"metadata"`
		AgentState        *string `json:"agentState"`
		DataEncryptionKey *string `json:"dataEncryptionKey"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Tag == nil || *req.Tag == "" || req.Metadata == nil {
		s.validation(w, "tag (non-empty string) and metadata (string) are required")
		return
	}
	now := s.nowMs()
	u.mu.Lock()
	if id, ok := u.tags[*req.Tag]; ok {
		v := u.sessions[id].view()
		u.mu.Unlock()
		s.writeJSON(w, http.StatusOK, map[string]any{"session": v})
		return
	}
	u.sessionSeq++
	ss := &session{
		sessionJSON: sessionJSON{
			ID: randomHex(16), CreatedAt: now, UpdatedAt: now, Active: true, ActiveAt: now,
			Metadata: *req.Metadata, AgentState: req.AgentState, DataEncryptionKey: req.DataEncryptionKey,
		},
		tag:   *req.Tag,
		order: u.sessionSeq,
	}
	if req.AgentState != nil {
		ss.AgentStateVersion = 1
	}
	u.sessions[ss.ID] = ss
	u.tags[ss.tag] = ss.ID
	v := ss.view()
	u.addFeed(map[string]any{"type": "session-created", "sessionId": ss.ID}, now)
	s.publish(w, u, map[string]any{
		"t": "new-session", "sid": ss.ID, "seq": v.Seq, "metadata": v.Metadata, "metadataVersion": v.MetadataVersion,
		"agentState": v.AgentState, "agentStateVersion": v.AgentStateVersion, "dataEncryptionKey": v.DataEncryptionKey,
		"active": v.Active, "activeAt": v.ActiveAt, "createdAt": v.CreatedAt, "updatedAt": v.UpdatedAt,
	}, ss.ID, "", map[string]any{"session": v})
}

// lookup takes u.mu and returns items[id] with the lock held; when there
// is no such item it releases the lock, answers 404 with notFound and
// returns nil. (The item maps of a user are never replaced, so reading
// the map field before the lock is safe.)
func lookup[T any](s *Server, w http.ResponseWriter, u *user, items map[string]*T, id, notFound string) *T {
	u.mu.Lock()
	it := items[id]
	if it == nil {
		u.mu.Unlock()
		s.errorJSON(w, http.StatusNotFound, notFound)
	}
	return it
}

// withSession runs f with the path's session and u.mu held, or answers 404.
func (s *Server) withSession(w http.ResponseWriter, r *http.Request, u *user, f func(*session)) bool {
	ss := lookup(s, w, u, u.sessions, r.PathValue("id"), "Session not found")
	if ss == nil {
		return false
	}
	f(ss)
	u.mu.Unlock()
	return true
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, u *user) {
	var v sessionJSON
	if s.withSession(w, r, u, func(ss *session) { v = ss.view() }) {
		s.writeJSON(w, http.StatusOK, map[string]any{"session": v})
	}
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, u *user) {
	var upd []byte
	var sid string
	ok := s.withSession(w, r, u, func(ss *session) {
		sid = ss.ID
		delete(u.sessions, ss.ID)
		delete(u.tags, ss.tag)
		upd = s.newUpdate(u, map[string]any{"t": "delete-session", "sid": ss.ID})
	})
	if ok {
		s.hub.deliverUpdate(u.id, upd, sid, "")
		s.writeJSON(w, http.StatusOK, map[string]any{"success": true})
	}
}

func (s *Server) sessionState(w http.ResponseWriter, r *http.Request, u *user) {
	var out map[string]any
	ok := s.withSession(w, r, u, func(ss *session) {
		state := "active"
		var stoppedAt any
		switch {
		case ss.archivedAt != 0:
			state = "archived"
			stoppedAt = msISO(ss.archivedAt)
		case !ss.Active:
			state = "stopped"
			stoppedAt = msISO(ss.UpdatedAt)
		}
		out = map[string]any{
			"sessionId":     ss.ID,
			"state":         state,
			"stoppedAt":     stoppedAt,
			"stoppedReason": ss.stoppedReason,
			"lastActivity":  msISO(ss.ActiveAt),
		}
	})
	if ok {
		s.writeJSON(w, http.StatusOK, out)
	}
}

func msISO(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

var archiveReasons = []string{"revival_failed", "manual", "timeout", "expired"}

func (s *Server) archiveSession(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Reason        *string `json:"reason"`
		OriginalError *string `json:"originalError"`
	}
	if r.ContentLength != 0 && !s.decode(w, r, &req) {
		return
	}
	if req.Reason != nil && !slices.Contains(archiveReasons, *req.Reason) {
		s.validation(w, "reason must be one of "+strings.Join(archiveReasons, ", "))
		return
	}
	now := s.nowMs()
	var upd []byte
	var sid string
	var at int64
	ok := s.withSession(w, r, u, func(ss *session) {
		sid = ss.ID
		if ss.archivedAt == 0 {
			ss.archivedAt = now
			ss.Active = false
			ss.UpdatedAt = now
			ss.Seq++
			reason := "manual"
			if req.Reason != nil {
				reason = *req.Reason
			}
			ss.stoppedReason = &reason
			upd = s.newUpdate(u, map[string]any{"t": "update-session", "sid": ss.ID, "active": false, "activeAt": ss.ActiveAt, "archivedAt": now})
		}
		at = ss.archivedAt
	})
	if !ok {
		return
	}
	if upd != nil {
		s.hub.deliverUpdate(u.id, upd, sid, "")
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"success": true, "sessionId": sid, "archivedAt": msISO(at)})
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		LocalID *string         `json:"localId"`
		Content json.RawMessage `json:"content"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if len(req.Content) == 0 || string(req.Content) == "null" {
		s.validation(w, "content is required")
		return
	}
	now := s.nowMs()
	var m *message
	var upd []byte
	ok := s.withSession(w, r, u, func(ss *session) {
		if req.LocalID != nil {
			if old := ss.byLocalID[*req.LocalID]; old != nil {
				m = old // a retried send: the same message, no new update
				return
			}
		}
		ss.msgSeq++
		ss.Seq++
		ss.UpdatedAt, ss.ActiveAt = now, now
		m = &message{ID: randomHex(12), SessionID: ss.ID, LocalID: req.LocalID, Seq: ss.msgSeq, Content: req.Content, CreatedAt: now, UpdatedAt: now}
		ss.messages = append(ss.messages, m)
		if m.LocalID != nil {
			if ss.byLocalID == nil {
				ss.byLocalID = map[string]*message{}
			}
			ss.byLocalID[*m.LocalID] = m
		}
		if len(ss.messages) > maxMessagesPerSession {
			if gone := ss.messages[0]; gone.LocalID != nil {
				delete(ss.byLocalID, *gone.LocalID)
			}
			ss.messages = ss.messages[1:]
		}
		upd = s.newUpdate(u, map[string]any{"t": "new-message", "sid": ss.ID, "message": m})
	})
	if !ok {
		return
	}
	if upd != nil {
		s.hub.deliverUpdate(u.id, upd, m.SessionID, "")
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"message": m})
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 50, 200)
	if !ok {
		return
	}
	after, ok := s.cursor(w, r, "cursor", cursorPrefix, 0)
	if !ok {
		return
	}
	var out []map[string]any
	var next any
	s.withSession(w, r, u, func(ss *session) {
		out = []map[string]any{}
		for _, m := range ss.messages {
			if m.Seq <= after {
				continue
			}
			if len(out) == limit {
				next = cursorPrefix + itoa(out[len(out)-1]["seq"].(int64))
				break
			}
			out = append(out, m.listed())
		}
	})
	if out != nil {
		s.writeJSON(w, http.StatusOK, map[string]any{"messages": out, "nextCursor": next})
	}
}

// ---- machines

func (s *Server) listMachines(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 50, 200)
	if !ok {
		return
	}
	activeOnly := r.URL.Query().Get("activeOnly") == "true"
	u.mu.Lock()
	out := []machine{}
	for i := len(u.machineOrder) - 1; i >= 0 && len(out) < limit; i-- {
		m := u.machines[u.machineOrder[i]]
		if !activeOnly || m.Active {
			out = append(out, *m)
		}
	}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"machines": out})
}

func (s *Server) registerMachine(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		ID                *string `json:"id"`
		Metadata          *string `json:"metadata"`
		DaemonState       *string `json:"daemonState"`
		DataEncryptionKey *string `json:"dataEncryptionKey"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.ID == nil || *req.ID == "" || req.Metadata == nil {
		s.validation(w, "id (non-empty string) and metadata (string) are required")
		return
	}
	now := s.nowMs()
	u.mu.Lock()
	m := u.machines[*req.ID]
	t := "update-machine"
	if m == nil {
		t = "new-machine"
		m = &machine{ID: *req.ID, AccountID: u.id, Metadata: *req.Metadata, MetadataVersion: 1, DataEncryptionKey: req.DataEncryptionKey, Active: true, ActiveAt: now, CreatedAt: now, UpdatedAt: now}
		u.machines[m.ID] = m
		u.machineOrder = append(u.machineOrder, m.ID)
		u.addFeed(map[string]any{"type": "machine-registered", "machineId": m.ID}, now)
	} else if m.Metadata != *req.Metadata {
		m.Metadata = *req.Metadata
		m.MetadataVersion++
	}
	if req.DaemonState != nil {
		m.DaemonState = req.DaemonState
		m.DaemonStateVersion++
	}
	m.Seq++
	m.UpdatedAt = now
	v := *m
	s.publish(w, u, map[string]any{"t": t, "machineId": m.ID, "machine": v}, "", v.ID, map[string]any{"machine": v})
}

func (s *Server) getMachine(w http.ResponseWriter, r *http.Request, u *user) {
	m := lookup(s, w, u, u.machines, r.PathValue("id"), "Machine not found")
	if m == nil {
		return
	}
	v := *m
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"machine": v})
}

func (s *Server) machineStatus(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Active      *bool   `json:"active"`
		Metadata    *string `json:"metadata"`
		DaemonState *string `json:"daemonState"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Active == nil && req.Metadata == nil && req.DaemonState == nil {
		s.validation(w, "one of active, metadata or daemonState is required")
		return
	}
	now := s.nowMs()
	m := lookup(s, w, u, u.machines, r.PathValue("id"), "Machine not found")
	if m == nil {
		return
	}
	if req.Active != nil {
		m.Active = *req.Active
		m.ActiveAt = now
	}
	if req.Metadata != nil {
		m.Metadata = *req.Metadata
		m.MetadataVersion++
	}
	if req.DaemonState != nil {
		m.DaemonState = req.DaemonState
		m.DaemonStateVersion++
	}
	m.Seq++
	m.UpdatedAt = now
	v := *m
	s.publish(w, u, map[string]any{"t": "update-machine", "machineId": v.ID, "active": v.Active, "activeAt": v.ActiveAt, "seq": v.Seq}, "", v.ID, map[string]any{"machine": v})
}

// ---- artifacts

func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request, u *user) {
	u.mu.Lock()
	out := []artifact{}
	for i := len(u.artifactOrder) - 1; i >= 0; i-- {
		out = append(out, *u.artifacts[u.artifactOrder[i]])
	}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"artifacts": out})
}

func (s *Server) createArtifact(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		ID, Header, Body  string
		DataEncryptionKey string `json:"dataEncryptionKey"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.ID == "" || req.Header == "" || req.Body == "" || req.DataEncryptionKey == "" {
		s.validation(w, "id, header, body and dataEncryptionKey are required")
		return
	}
	for _, v := range []string{req.Header, req.Body, req.DataEncryptionKey} {
		if _, ok := decodeB64(v); !ok {
			s.validation(w, "header, body and dataEncryptionKey must be base64")
			return
		}
	}
	now := s.nowMs()
	u.mu.Lock()
	if _, dup := u.artifacts[req.ID]; dup {
		u.mu.Unlock()
		s.errorJSON(w, http.StatusConflict, "Artifact with this ID already exists")
		return
	}
	a := &artifact{ID: req.ID, Header: req.Header, HeaderVersion: 1, DataEncryptionKey: req.DataEncryptionKey, Seq: 0, CreatedAt: now, UpdatedAt: now, body: req.Body, bodyVersion: 1}
	u.artifacts[a.ID] = a
	u.artifactOrder = append(u.artifactOrder, a.ID)
	full := a.full()
	s.publish(w, u, map[string]any{"t": "new-artifact", "artifactId": a.ID, "header": a.Header, "headerVersion": 1, "body": a.body, "bodyVersion": 1, "dataEncryptionKey": a.DataEncryptionKey, "seq": a.Seq, "createdAt": now, "updatedAt": now}, "", "", map[string]any{"artifact": full})
}

func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request, u *user) {
	a := lookup(s, w, u, u.artifacts, r.PathValue("id"), "Artifact not found")
	if a == nil {
		return
	}
	full := a.full()
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"artifact": full})
}

func (s *Server) updateArtifact(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Header                *string `json:"header"`
		ExpectedHeaderVersion *int64  `json:"expectedHeaderVersion"`
		Body                  *string `json:"body"`
		ExpectedBodyVersion   *int64  `json:"expectedBodyVersion"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Header == nil && req.Body == nil {
		s.validation(w, "header or body is required")
		return
	}
	if (req.Header != nil && req.ExpectedHeaderVersion == nil) || (req.Body != nil && req.ExpectedBodyVersion == nil) {
		s.validation(w, "expectedHeaderVersion / expectedBodyVersion must accompany header / body")
		return
	}
	for _, v := range []*string{req.Header, req.Body} {
		if v != nil {
			if _, ok := decodeB64(*v); !ok {
				s.validation(w, "header and body must be base64")
				return
			}
		}
	}
	now := s.nowMs()
	a := lookup(s, w, u, u.artifacts, r.PathValue("id"), "Artifact not found")
	if a == nil {
		return
	}
	headerBad := req.Header != nil && *req.ExpectedHeaderVersion != a.HeaderVersion
	bodyBad := req.Body != nil && *req.ExpectedBodyVersion != a.bodyVersion
	if headerBad || bodyBad {
		out := map[string]any{"success": false, "error": "version-mismatch"}
		if headerBad {
			out["currentHeaderVersion"], out["currentHeader"] = a.HeaderVersion, a.Header
		}
		if bodyBad {
			out["currentBodyVersion"], out["currentBody"] = a.bodyVersion, a.body
		}
		u.mu.Unlock()
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	out := map[string]any{"success": true}
	body := map[string]any{"t": "update-artifact", "artifactId": a.ID}
	if req.Header != nil {
		a.Header = *req.Header
		a.HeaderVersion++
		out["headerVersion"] = a.HeaderVersion
		body["header"] = map[string]any{"value": a.Header, "version": a.HeaderVersion}
	}
	if req.Body != nil {
		a.body = *req.Body
		a.bodyVersion++
		out["bodyVersion"] = a.bodyVersion
		body["body"] = map[string]any{"value": a.body, "version": a.bodyVersion}
	}
	a.Seq++
	a.UpdatedAt = now
	s.publish(w, u, body, "", "", out)
}

func (s *Server) deleteArtifact(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	if lookup(s, w, u, u.artifacts, id, "Artifact not found") == nil {
		return
	}
	delete(u.artifacts, id)
	u.artifactOrder = slices.DeleteFunc(u.artifactOrder, func(x string) bool { return x == id })
	s.publish(w, u, map[string]any{"t": "delete-artifact", "artifactId": id}, "", "", map[string]any{"success": true})
}

// ---- account

func (s *Server) profile(u *user) map[string]any {
	return map[string]any{
		"id":                u.id,
		"timestamp":         u.createdAt,
		"firstName":         u.firstName,
		"lastName":          u.lastName,
		"username":          u.username,
		"github":            nil,
		"connectedServices": []string{},
	}
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, u *user) {
	u.mu.Lock()
	p := s.profile(u)
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, p)
}

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{3,50}$`)

func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		FirstName *string `json:"firstName"`
		LastName  *string `json:"lastName"`
		Username  *string `json:"username"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	switch {
	case req.FirstName != nil && (len(*req.FirstName) < 1 || len(*req.FirstName) > 100):
		s.validation(w, "firstName must be 1 to 100 characters")
		return
	case req.LastName != nil && len(*req.LastName) > 100:
		s.validation(w, "lastName must be at most 100 characters")
		return
	case req.Username != nil && !usernameRE.MatchString(*req.Username):
		s.validation(w, "username must be 3 to 50 letters, digits, _ or -")
		return
	}
	if req.Username != nil {
		taken := false
		s.usersMu.Lock()
		for id, other := range s.users {
			if id == u.id {
				continue
			}
			other.mu.Lock()
			taken = taken || (other.username != nil && strings.EqualFold(*other.username, *req.Username))
			other.mu.Unlock()
		}
		s.usersMu.Unlock()
		if taken {
			s.writeJSON(w, http.StatusConflict, map[string]any{"success": false, "error": "username-taken"})
			return
		}
	}
	u.mu.Lock()
	if req.FirstName != nil {
		u.firstName = req.FirstName
	}
	if req.LastName != nil {
		u.lastName = req.LastName
	}
	if req.Username != nil {
		u.username = req.Username
	}
	p := s.profile(u)
	s.publish(w, u, map[string]any{"t": "update-account", "id": u.id, "firstName": u.firstName, "lastName": u.lastName, "username": u.username}, "", "", map[string]any{"success": true, "profile": p})
}

func (s *Server) getPreferences(w http.ResponseWriter, r *http.Request, u *user) {
	u.mu.Lock()
	out := map[string]any{"settings": u.settings, "settingsVersion": u.settingsVersion}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) putPreferences(w http.ResponseWriter, r *http.Request, u *user) {
	var raw map[string]json.RawMessage
	if !s.decode(w, r, &raw) {
		return
	}
	var settings *string
	var expected int64
	sv, hasSettings := raw["settings"]
	ev, hasExpected := raw["expectedVersion"]
	if !hasSettings || !hasExpected || json.Unmarshal(sv, &settings) != nil || json.Unmarshal(ev, &expected) != nil || expected < 0 {
		s.validation(w, "settings (string or null) and expectedVersion (integer >= 0) are required")
		return
	}
	u.mu.Lock()
	if u.settingsVersion != expected {
		out := map[string]any{"success": false, "error": "version-mismatch", "currentVersion": u.settingsVersion, "currentSettings": u.settings}
		u.mu.Unlock()
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	u.settings = settings
	u.settingsVersion = expected + 1
	v := u.settingsVersion
	s.publish(w, u, map[string]any{"t": "update-account", "id": u.id, "settings": map[string]any{"value": settings, "version": v}}, "", "", map[string]any{"success": true, "version": v})
}

// ---- kv

func kvView(key string, it *kvItem) map[string]any {
	return map[string]any{"key": key, "value": *it.value, "version": it.version}
}

func (s *Server) listKV(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 100, 1000)
	if !ok {
		return
	}
	prefix := r.URL.Query().Get("prefix")
	u.mu.Lock()
	keys := make([]string, 0, len(u.kv))
	for k, it := range u.kv {
		if it.value != nil && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	items := make([]map[string]any, len(keys))
	for i, k := range keys {
		items[i] = kvView(k, u.kv[k])
	}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getKV(w http.ResponseWriter, r *http.Request, u *user) {
	key := r.PathValue("key")
	u.mu.Lock()
	it := u.kv[key]
	var out map[string]any
	if it != nil && it.value != nil {
		out = kvView(key, it)
	}
	u.mu.Unlock()
	if out == nil {
		s.errorJSON(w, http.StatusNotFound, "Key not found")
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) bulkKV(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Keys []string `json:"keys"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if len(req.Keys) == 0 || len(req.Keys) > 100 {
		s.validation(w, "keys must list 1 to 100 keys")
		return
	}
	u.mu.Lock()
	values := []map[string]any{}
	for _, k := range req.Keys {
		if it := u.kv[k]; it != nil && it.value != nil {
			values = append(values, kvView(k, it))
		}
	}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"values": values})
}

type kvMutation struct {
	Key     string  `json:"key"`
	Value   *string `json:"value"`
	Version *int64  `json:"version"`
}

// mutateKV applies a batch atomically with optimistic versions: version -1
// creates a key that must not exist, any other version must equal the
// key's current version (0 for a key never written). A mismatch anywhere
// answers 409 with every conflict and changes nothing.
func (s *Server) mutateKV(w http.ResponseWriter, r *http.Request, u *user) {
	var req struct {
		Mutations []kvMutation `json:"mutations"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if len(req.Mutations) == 0 || len(req.Mutations) > 100 {
		s.validation(w, "mutations must list 1 to 100 changes")
		return
	}
	seen := map[string]bool{}
	for _, m := range req.Mutations {
		if m.Key == "" || len(m.Key) > 255 || m.Version == nil || *m.Version < -1 || seen[m.Key] {
			s.validation(w, "every mutation needs a unique key (1-255 characters) and a version (-1 to create)")
			return
		}
		seen[m.Key] = true
		if m.Value != nil {
			if _, ok := decodeB64(*m.Value); !ok {
				s.validation(w, "value must be base64 or null")
				return
			}
		}
	}
	u.mu.Lock()
	conflicts := []map[string]any{}
	for _, m := range req.Mutations {
		it := u.kv[m.Key]
		cur := int64(0)
		var val *string
		if it != nil {
			cur, val = it.version, it.value
		}
		if (*m.Version == -1 && val != nil) || (*m.Version != -1 && *m.Version != cur) {
			conflicts = append(conflicts, map[string]any{"key": m.Key, "error": "version-mismatch", "version": cur, "value": val})
		}
	}
	if len(conflicts) > 0 {
		u.mu.Unlock()
		s.writeJSON(w, http.StatusConflict, map[string]any{"success": false, "errors": conflicts})
		return
	}
	results := make([]map[string]any, 0, len(req.Mutations))
	changes := make([]map[string]any, 0, len(req.Mutations))
	for _, m := range req.Mutations {
		it := u.kv[m.Key]
		if it == nil {
			it = &kvItem{}
			u.kv[m.Key] = it
		}
		if *m.Version == -1 {
			it.version++
		} else {
			it.version = *m.Version + 1
		}
		it.value = m.Value
		results = append(results, map[string]any{"key": m.Key, "version": it.version})
		changes = append(changes, map[string]any{"key": m.Key, "value": m.Value, "version": it.version})
	}
	s.publish(w, u, map[string]any{"t": "kv-batch-update", "changes": changes}, "", "", map[string]any{"success": true, "results": results})
}

// ---- feed

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request, u *user) {
	limit, ok := s.parseLimit(w, r, 50, 200)
	if !ok {
		return
	}
	before, ok := s.cursor(w, r, "before", "0-", -1)
	if !ok {
		return
	}
	after, ok := s.cursor(w, r, "after", "0-", -1)
	if !ok {
		return
	}
	u.mu.Lock()
	items := []feedItem{}
	more := false
	for i := len(u.feed) - 1; i >= 0; i-- {
		f := u.feed[i]
		if (before >= 0 && f.seq >= before) || (after >= 0 && f.seq <= after) {
			continue
		}
		if len(items) == limit {
			more = true
			break
		}
		items = append(items, f)
	}
	u.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{"items": items, "hasMore": more})
}

// publish ends a mutation made under u.mu: it makes the update of body,
// releases the lock, pushes the update to the user's connections that sid
// and machineID reach, and answers out.
func (s *Server) publish(w http.ResponseWriter, u *user, body map[string]any, sid, machineID string, out any) {
	upd := s.newUpdate(u, body)
	u.mu.Unlock()
	s.hub.deliverUpdate(u.id, upd, sid, machineID)
	s.writeJSON(w, http.StatusOK, out)
}
