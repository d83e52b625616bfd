package happyapi

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// Profile is the replay engine's knowledge of the Happy API's WebSocket
// conventions (it implements engine.Profile): a client message with an
// "ackId" expects a reply carrying the same "ackId"; a server message of
// type "update" (or with neither a "type" nor an "event") is a push that an
// HTTP request of the same user caused, tied to it by the ids it carries;
// a connection's "clientType" query parameter (user-scoped,
// session-scoped, machine-scoped) labels its endpoint.
type Profile struct{}

// Name names the profile.
func (Profile) Name() string { return "happy" }

// SocketLabel labels /v1/updates connections by their clientType.
func (Profile) SocketLabel(u *url.URL) string { return u.Query().Get("clientType") }

// CallID finds an "ackId" at the top level of a JSON object or one level
// down (inside data or payload).
func (Profile) CallID(msg []byte) string {
	if !bytes.Contains(msg, []byte(`"ackId"`)) {
		return ""
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(msg, &top) != nil {
		return ""
	}
	if id := rawString(top["ackId"]); id != "" {
		return id
	}
	for _, k := range []string{"data", "payload"} {
		var inner map[string]json.RawMessage
		if json.Unmarshal(top[k], &inner) == nil {
			if id := rawString(inner["ackId"]); id != "" {
				return id
			}
		}
	}
	return ""
}

func rawString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// PushValues decodes a server message once: it may be the push of an
// HTTP mutation when it is a JSON object whose "type" is "update", or that
// has neither a "type" nor an "event" (replies, pongs, acknowledgements,
// broadcasts, presence and connection events name kinds of their own).
// Its string values are what ties it to its mutation.
func (Profile) PushValues(msg []byte) ([]string, bool) {
	var top map[string]any
	if json.Unmarshal(msg, &top) != nil {
		return nil, false
	}
	if t, has := top["type"]; has {
		if t != "update" {
			return nil, false
		}
	} else if _, has := top["event"]; has {
		return nil, false
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(top)
	return out, true
}

// IsHappy reports whether a corpus whose route templates are endpoints
// was recorded from the Happy API: it has the /v1/updates socket or the
// /v1/auth login.
func IsHappy(endpoints []string) bool {
	for _, e := range endpoints {
		if e == "WS /v1/updates" || e == "POST /v1/auth" {
			return true
		}
	}
	return false
}
