package happyapi

import (
	"encoding/json"
	"sync"
)

// Per-user state bounds, so a long replay cannot grow the server without
// limit.
const (
	maxMessagesPerSession = 10000
	maxFeedItems          = 1000
)

// user is one account's data. Its mutex guards everything below it.
type user struct {
	mu        sync.Mutex
	id        string
	createdAt int64

	sessions   map[string]*session
	sessionSeq int64             // creation counter, for v2 cursors
	tags       map[string]string // tag -> session id

	machines     map[string]*machine
	machineOrder []string

	artifacts     map[string]*artifact
	artifactOrder []string

	kv map[string]*kvItem

	firstName, lastName, username *string
	settings                      *string
	settingsVersion               int64

	feed    []feedItem
	feedSeq int64

	updateSeq int64
}

func newUser(id string, now int64) *user {
	return &user{
		id:        id,
		createdAt: now,
		sessions:  map[string]*session{},
		tags:      map[string]string{},
		machines:  map[string]*machine{},
		artifacts: map[string]*artifact{},
		kv:        map[string]*kvItem{},
	}
}

// user returns the account for id, creating it on first use.
func (s *Server) user(id string) *user {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	u := s.users[id]
	if u == nil {
		u = newUser(id, s.nowMs())
		s.users[id] = u
	}
	return u
}

// Session is the JSON shape of a session.
type sessionJSON struct {
	ID                string          `json:"id"`
	Seq               int64           `json:"seq"`
	CreatedAt         int64           `json:"createdAt"`
	UpdatedAt         int64           `json:"updatedAt"`
	Active            bool            `json:"active"`
	ActiveAt          int64           `json:"activeAt"`
	Metadata          string          `json:"metadata"`
	MetadataVersion   int64           `json:"metadataVersion"`
	AgentState        *string         `json:"agentState"`
	AgentStateVersion int64           `json:"agentStateVersion"`
	DataEncryptionKey *string         `json:"dataEncryptionKey"`
	LastMessage       json.RawMessage `json:"lastMessage"`
}

type session struct {
	sessionJSON
	tag           string
	order         int64
	archivedAt    int64
	stoppedReason *string
	msgSeq        int64
	messages      []*message
	byLocalID     map[string]*message
}

func (ss *session) view() sessionJSON {
	v := ss.sessionJSON
	if v.LastMessage == nil {
		v.LastMessage = json.RawMessage("null")
	}
	return v
}

type message struct {
	ID        string          `json:"id"`
	SessionID string          `json:"sessionId"`
	LocalID   *string         `json:"localId"`
	Seq       int64           `json:"seq"`
	Content   json.RawMessage `json:"content"`
	CreatedAt int64           `json:"createdAt"`
	UpdatedAt int64           `json:"updatedAt"`
}

// listed is the message as GET .../messages shows it: content as a JSON
// string, as the real server stores it.
func (m *message) listed() map[string]any {
	return map[string]any{
		"id":        m.ID,
		"sessionId": m.SessionID,
		"localId":   m.LocalID,
		"seq":       m.Seq,
		"content":   string(m.Content),
		"createdAt": m.CreatedAt,
		"updatedAt": m.UpdatedAt,
	}
}

type machine struct {
	ID                 string  `json:"id"`
	AccountID          string  `json:"accountId"`
	Metadata           string  `json:"metadata"`
	MetadataVersion    int64   `json:"metadataVersion"`
	DaemonState        *string `json:"daemonState"`
	DaemonStateVersion int64   `json:"daemonStateVersion"`
	DataEncryptionKey  *string `json:"dataEncryptionKey"`
	Seq                int64   `json:"seq"`
	Active             bool    `json:"active"`
	ActiveAt           int64   `json:"activeAt"`
	CreatedAt          int64   `json:"createdAt"`
	UpdatedAt          int64   `json:"updatedAt"`
}

type artifact struct {
	ID                string `json:"id"`
	Header            string `json:"header"`
	HeaderVersion     int64  `json:"headerVersion"`
	DataEncryptionKey string `json:"dataEncryptionKey"`
	Seq               int64  `json:"seq"`
	CreatedAt         int64  `json:"createdAt"`
	UpdatedAt         int64  `json:"updatedAt"`
	body              string
	bodyVersion       int64
}

func (a *artifact) full() map[string]any {
	return map[string]any{
		"id":                a.ID,
		"header":            a.Header,
		"headerVersion":     a.HeaderVersion,
		"body":              a.body,
		"bodyVersion":       a.bodyVersion,
		"dataEncryptionKey": a.DataEncryptionKey,
		"seq":               a.Seq,
		"createdAt":         a.CreatedAt,
		"updatedAt":         a.UpdatedAt,
	}
}

type kvItem struct {
	value   *string // base64; nil once deleted
	version int64
}

type feedItem struct {
	ID        string         `json:"id"`
	Body      map[string]any `json:"body"`
	RepeatKey *string        `json:"repeatKey"`
	Cursor    string         `json:"cursor"`
	CreatedAt int64          `json:"createdAt"`
	seq       int64
}

// addFeed appends a feed item; u.mu must be held.
func (u *user) addFeed(body map[string]any, now int64) {
	u.feedSeq++
	u.feed = append(u.feed, feedItem{
		ID:        randomHex(12),
		Body:      body,
		Cursor:    "0-" + itoa(u.feedSeq),
		CreatedAt: now,
		seq:       u.feedSeq,
	})
	if len(u.feed) > maxFeedItems {
		u.feed = u.feed[len(u.feed)-maxFeedItems:]
	}
}
