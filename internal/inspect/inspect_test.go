package inspect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func records() []traffic.Record {
	ms := time.Millisecond
	up := traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?clientType=user-scoped"}, Response: &traffic.Response{Status: 101}}
	return []traffic.Record{
		{Kind: traffic.KindHeader, Header: &traffic.Header{Source: "proxy", Origin: "http://localhost:8787", Redactions: []string{"header:authorization"}}},
		{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "a", Start: 0, Request: traffic.Request{Method: "GET", URL: "/v1/sessions"}, Response: &traffic.Response{Status: 200, Body: traffic.Body{Data: []byte(`{"sessions":[]}`)}}}},
		{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "b", Start: 500 * ms, Request: traffic.Request{Method: "GET", URL: "/v1/sessions/x"}, Response: &traffic.Response{Status: 404}}},
		{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "b", Start: 600 * ms, Request: traffic.Request{Method: "POST", URL: "/v1/sessions", Body: traffic.Body{Data: []byte{0xff, 0xfe}}}, Error: "upstream: connection refused", Flags: traffic.FlagNoResponse}},
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "a", ConnID: 7, Start: 100 * ms, Upgrade: up, Extensions: "permessage-deflate"}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "a", ConnID: 7, Start: 110 * ms, Opcode: traffic.OpText, Payload: []byte(`{"event":"connected"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "a", ConnID: 7, Start: 200 * ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(`{"event":"ping"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "a", ConnID: 7, Start: 300 * ms, FromClient: true, Opcode: traffic.OpPing}},
		{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "a", ConnID: 7, Start: 900 * ms, FromClient: true, Code: 1000}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "z", ConnID: 99, Start: 950 * ms, Opcode: traffic.OpText}},
	}
}

func TestSummarize(t *testing.T) {
	recs := records()
	s, err := Summarize(context.Background(), traffic.SliceSource(recs), *recs[0].Header, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"source        proxy",
		"redactions    header:authorization",
		"records       9 over 950ms, 3 users (3 flows)",
		"statuses      200×1 404×1",
		"error         upstream: connection refused ×1",
		"websocket     1 connections, 2 client messages, 1 server messages",
		"client 1 ping, 1 text; server 1 text; closed 1000 by client after 800ms; permessage-deflate",
		"1 WebSocket records belong to connections not opened in this corpus",
		// the socket opened at 100ms comes after the exchange of 600ms
		"order         up to 500ms out of start order (a recorder writes an exchange when it ends); a replay re-sorts within 1s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// In start order, nothing is said.
	slices.SortStableFunc(recs[1:], func(a, b traffic.Record) int { return cmp.Compare(a.Start(), b.Start()) })
	s, err = Summarize(context.Background(), traffic.SliceSource(recs), *recs[0].Header, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := s.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "order ") {
		t.Errorf("a corpus in start order is said to be out of it:\n%s", b.String())
	}
}

func TestWriteJSONL(t *testing.T) {
	var b bytes.Buffer
	if _, err := WriteJSONL(context.Background(), traffic.SliceSource(records()), &b, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	// A body that is not UTF-8 is base64.
	if !strings.Contains(lines[3], `"body_b64":"//4="`) {
		t.Fatalf("binary body not base64: %s", lines[3])
	}
}

// WebSocket connections are summed up (by endpoint, messages by direction
// and type, how they ended); the list of connections stops at
// DefaultConnections unless all are asked for.
func TestSummarizeWebSocketSummary(t *testing.T) {
	var recs []traffic.Record
	n := DefaultConnections + 2
	for i := 0; i < n; i++ {
		id := uint64(100 + i)
		path := "/v1/updates?clientType=user-scoped"
		if i%4 == 3 {
			path = "/v1/websocket"
		}
		up := traffic.Exchange{Request: traffic.Request{Method: "GET", URL: path}, Response: &traffic.Response{Status: 101}}
		at := time.Duration(i) * time.Millisecond
		recs = append(recs,
			traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: id, Start: at, Upgrade: up}},
			traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: id, Start: at + 1, Opcode: traffic.OpText}},
			traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: id, Start: at + 2, Opcode: traffic.OpText}},
			traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: id, Start: at + 3, FromClient: true, Opcode: traffic.OpPong}},
		)
		if i != 0 {
			recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: id, Start: at + 4, FromClient: i%2 == 0, Code: 1000}})
		}
	}
	s, err := Summarize(context.Background(), traffic.SliceSource(recs), traffic.Header{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"websocket     12 connections, 12 client messages, 24 server messages",
		"messages    client 12 pong; server 24 text",
		"ended       5 closed by the client, 6 by the server, 1 open at the corpus's end",
		"WS /v1/updates            9            9           18",
		"WS /v1/websocket          3            3            6",
		"connections: the first 10 of 12 (--ws-connections lists them all)",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "  #1"); got != DefaultConnections {
		t.Errorf("%d connections listed, want %d", got, DefaultConnections)
	}
	b.Reset()
	s.WriteText(&b, TextOptions{AllConnections: true})
	if got := strings.Count(b.String(), "  #1"); got != n {
		t.Errorf("%d connections listed with AllConnections, want %d", got, n)
	}
}
