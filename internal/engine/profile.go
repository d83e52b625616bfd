package engine

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// Profile knows the conventions of one API's WebSocket messages that the
// engine cannot know in general: which server message answers which
// client call, and which server messages are pushes that an HTTP request
// caused. The engine measures round trips and push delivery through it.
// Implementations must be safe for concurrent use; they need not import
// this package (the methods take only basic types).
type Profile interface {
	// Name names the profile in notes ("generic", "happy").
	Name() string
	// SocketLabel labels a WebSocket endpoint from its upgrade URL (a
	// client type, say), "" for none: the report splits the endpoint by
	// label.
	SocketLabel(u *url.URL) string
	// CallID returns the id that pairs a client's message with the
	// server's reply to it: given a client message, the id of the reply it
	// expects; given a server message, the id of the call it answers; ""
	// when there is none.
	CallID(msg []byte) string
	// PushValues reports whether a server text message may be a push that
	// an HTTP request of the same user caused, and the string values that
	// tie it to that request (ids it carries).
	PushValues(msg []byte) ([]string, bool)
}

// Generic is the Profile of an API the engine knows nothing about: JSON-RPC
// 2.0 calls are paired with their replies by "id"; no message is taken for
// a push.
type Generic struct{}

var _ Profile = Generic{}

// Name implements Profile.
func (Generic) Name() string { return "generic" }

// SocketLabel implements Profile.
func (Generic) SocketLabel(*url.URL) string { return "" }

// CallID implements Profile: the "id" of a JSON-RPC 2.0 message.
func (Generic) CallID(msg []byte) string {
	if !bytes.Contains(msg, []byte(`"jsonrpc"`)) {
		return ""
	}
	var m struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
	}
	if json.Unmarshal(msg, &m) != nil || m.JSONRPC == "" || len(m.ID) == 0 || string(m.ID) == "null" {
		return ""
	}
	return string(m.ID)
}

// PushValues implements Profile.
func (Generic) PushValues([]byte) ([]string, bool) { return nil, false }
