package engine

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// testProfile pairs calls and replies by "ackId" and takes messages of
// type "update" for pushes, as the Happy API does (the real profile lives
// beside the Happy server; the engine's tests use their own).
type testProfile struct{}

func (testProfile) Name() string                  { return "test" }
func (testProfile) SocketLabel(u *url.URL) string { return u.Query().Get("clientType") }

func (testProfile) CallID(msg []byte) string {
	if !bytes.Contains(msg, []byte(`"ackId"`)) {
		return ""
	}
	var m struct{ AckID string }
	json.Unmarshal(msg, &m)
	return m.AckID
}

func (testProfile) PushValues(msg []byte) ([]string, bool) {
	var top map[string]any
	if json.Unmarshal(msg, &top) != nil || top["type"] != "update" {
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
		}
	}
	walk(top)
	return out, true
}
