//go:build integration

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/faultproxy"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// wsConnRecords is one recorded WebSocket connection: opened at at, a
// client text message every msgGap (each echoed by the server), closed by
// the client msgGap after the last.
func wsConnRecords(id uint64, path string, at time.Duration, msgs int, msgGap time.Duration) []traffic.Record {
	flow := fmt.Sprintf("ws-%d", id)
	recs := []traffic.Record{{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{
		Flow: flow, ConnID: id, Start: at,
		Upgrade: traffic.Exchange{Flow: flow, ConnID: id, Start: at,
			Request: traffic.Request{Method: http.MethodGet, URL: path, Header: traffic.Fields{
				{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"},
				{Name: "Sec-WebSocket-Key", Value: "dGhlIHNhbXBsZSBub25jZQ=="}, {Name: "Sec-WebSocket-Version", Value: "13"}}},
			Response: &traffic.Response{Status: 101}, Flags: traffic.FlagUpgrade},
	}}}
	for i := 1; i <= msgs; i++ {
		payload := []byte(fmt.Sprintf(`{"conn":%d,"n":%d}`, id, i))
		t := at + time.Duration(i)*msgGap
		recs = append(recs,
			traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: flow, ConnID: id, Start: t, FromClient: true,
				Opcode: traffic.OpText, Payload: payload, Size: int64(len(payload)), Frames: 1}},
			traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: flow, ConnID: id, Start: t + time.Millisecond,
				Opcode: traffic.OpText, Payload: payload, Size: int64(len(payload)), Frames: 1}})
	}
	recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: flow, ConnID: id,
		Start: at + time.Duration(msgs+1)*msgGap, FromClient: true, Code: traffic.CloseNormal}})
	return recs
}

// outcomeOf returns the outcome of kind at endpoint.
func outcomeOf(s *metrics.Snapshot, endpoint, kind string) metrics.Outcome {
	st := s.Endpoint(endpoint)
	if st == nil || st.Outcomes[kind] == nil {
		return metrics.Outcome{}
	}
	return *st.Outcomes[kind]
}

// The WebSocket fault suite: connections to /ws/bad meet a fault while
// connections to /ws/ok (relayed to a healthy echo server) and plain HTTP
// requests run beside them. The failure shows on the right result with
// the right kind; client messages that can no longer go out are counted
// as not sent ("connection not open"), never lost; the other connections
// and the HTTP flows are untouched; the run ends on time and the
// accounting adds up.
func TestFaultSuiteWebSocket(t *testing.T) {
	const (
		bad     = "WS /ws/bad/{id}"
		good    = "WS /ws/ok/{id}"
		badN    = 3 // faulty connections
		goodN   = 2 // healthy connections
		msgs    = 4 // client messages per connection
		msgGap  = 100 * time.Millisecond
		after   = 2 // messages a session fault lets through
		timeout = 500 * time.Millisecond
	)
	tests := []struct {
		name string
		rule faultproxy.Rule
		// connect is the failure kind of the handshake ("" when it
		// succeeds); session that of the session.
		connect, session string
	}{
		{"upgrade never answered", faultproxy.Rule{Fault: faultproxy.Hang}, engine.ErrTimeout, ""},
		{"upgrade answered 403", faultproxy.Rule{Fault: faultproxy.Status, Status: 403}, engine.ErrHandshake, ""},
		{"upgrade answered 200", faultproxy.Rule{Fault: faultproxy.Status, Status: 200}, engine.ErrHandshake, ""},
		{"bad accept key", faultproxy.Rule{Fault: faultproxy.WSBadAccept}, engine.ErrHandshake, ""},
		{"upgrade answered garbage", faultproxy.Rule{Fault: faultproxy.GarbageStatus}, engine.ErrProtocol, ""},
		{"dropped mid-session", faultproxy.Rule{Fault: faultproxy.WSDrop, After: after}, "", engine.ErrAbnormal},
		{"closed without a close frame", faultproxy.Rule{Fault: faultproxy.WSAbnormalClose, After: after}, "", engine.ErrAbnormal},
		{"reserved opcode", faultproxy.Rule{Fault: faultproxy.WSReservedOpcode, After: after}, "", engine.ErrWSProto},
		{"impossible length", faultproxy.Rule{Fault: faultproxy.WSBadLength, After: after}, "", engine.ErrWSProto},
		{"control frame over 125 bytes", faultproxy.Rule{Fault: faultproxy.WSBigControl, After: after}, "", engine.ErrWSProto},
		{"text that is not UTF-8", faultproxy.Rule{Fault: faultproxy.WSBadUTF8, After: after}, "", engine.ErrWSProto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var recs []traffic.Record
			id := uint64(1)
			for i := 0; i < badN; i++ {
				recs = append(recs, wsConnRecords(id, fmt.Sprintf("/ws/bad/%d", id), time.Duration(i)*150*time.Millisecond, msgs, msgGap)...)
				id++
			}
			for i := 0; i < goodN; i++ {
				recs = append(recs, wsConnRecords(id, fmt.Sprintf("/ws/ok/%d", id), time.Duration(i)*150*time.Millisecond, msgs, msgGap)...)
				id++
			}
			var reqs []faultReq
			for at := time.Duration(0); at < 900*time.Millisecond; at += 30 * time.Millisecond {
				reqs = append(reqs, faultReq{at: at, method: http.MethodGet, path: fmt.Sprintf("/api/safe/%d", at/time.Millisecond)})
			}
			path := writeFaultCorpus(t, reqs, recs...)
			up := startFaultUpstream(t)
			tt.rule.Path = "/ws/bad"
			proxy := startFaultProxy(t, up.url, faultproxy.Plan{Seed: 1, Rules: []faultproxy.Rule{tt.rule}})
			span := time.Duration(badN-1)*150*time.Millisecond + time.Duration(msgs+1)*msgGap
			out := faultReplay(t, path, proxy.URL(), timeout, span)
			s := out.Snapshot
			st := proxy.Stats()
			t.Logf("proxy: %+v", st)
			checkClassified(t, s)

			wantScheduled := int64(len(reqs) + (badN+goodN)*(1+msgs))
			if s.Meta.Scheduled != wantScheduled {
				t.Errorf("scheduled %d, want %d", s.Meta.Scheduled, wantScheduled)
			}
			if st.Faults[tt.rule.Fault] != badN {
				t.Errorf("proxy injected %v, want %d %s", st.Faults, badN, tt.rule.Fault)
			}
			// The faulty connections.
			conn := outcomeOf(s, bad, "ws-connect")
			sends := outcomeOf(s, bad, "ws-send")
			session := outcomeOf(s, bad, "ws-session")
			if tt.connect != "" {
				if conn.Failed[tt.connect] != badN {
					t.Errorf("handshakes: %+v, want %d failed %q", conn, badN, tt.connect)
				}
				if sends.NotSent[traffic.NotSentNoConn] != badN*msgs {
					t.Errorf("messages: %+v, want all %d not sent", sends, badN*msgs)
				}
				if session.NotSent[traffic.NotSentNoConn] != badN {
					t.Errorf("sessions: %+v, want %d not opened", session, badN)
				}
			} else {
				if conn.Completed != badN {
					t.Errorf("handshakes: %+v, want %d completed", conn, badN)
				}
				if session.Failed[tt.session] != badN {
					t.Errorf("sessions: %+v, want %d failed %q", session, badN, tt.session)
				}
				// Messages go out before the fault; those after it are not
				// sent. On a loaded machine a late handshake can send the
				// first messages back to back, and one may beat the fault:
				// it went out before the connection broke, sent or failed
				// with a reset. The last one never can.
				raced := sends.Failed[engine.ErrReset]
				if sends.Completed < badN*after || sends.Completed+raced > badN*(after+1) ||
					sends.NotSent[traffic.NotSentNoConn] < badN*(msgs-after-1) || len(sends.Failed) > 1 && raced == 0 {
					t.Errorf("messages: %+v, want %d sent before the fault and the rest not sent after it", sends, badN*after)
				}
			}
			// The healthy connections, relayed to the upstream.
			if o := outcomeOf(s, good, "ws-connect"); o.Completed != goodN {
				t.Errorf("healthy handshakes: %+v", o)
			}
			if o := outcomeOf(s, good, "ws-send"); o.Completed != goodN*msgs {
				t.Errorf("healthy messages: %+v", o)
			}
			if o := outcomeOf(s, good, "ws-session"); o.Completed != goodN {
				t.Errorf("healthy sessions: %+v", o)
			}
			if ws := s.Endpoint(good).WS; ws == nil || ws.MsgsReceived != goodN*msgs || ws.MsgsSent != goodN*msgs {
				t.Errorf("healthy connections sent and received %+v, want %d each way", ws, goodN*msgs)
			}
			if st.Tunnels != goodN {
				t.Errorf("proxy relayed %d healthy connections, want %d", st.Tunnels, goodN)
			}
			// The HTTP flows beside them.
			if o := httpOutcome(s, "GET /api/safe/{id}"); o.Completed != int64(len(reqs)) {
				t.Errorf("HTTP requests: %+v, want all %d completed", o, len(reqs))
			}
		})
	}
}

// Through the CLI: the results document of a replay whose server drops
// sessions carries the session failures by kind, beside HTTP flows that
// all completed.
func TestFaultReportWebSocket(t *testing.T) {
	var recs []traffic.Record
	for id := uint64(1); id <= 4; id++ {
		p := fmt.Sprintf("/ws/ok/%d", id)
		if id <= 2 {
			p = fmt.Sprintf("/ws/bad/%d", id)
		}
		recs = append(recs, wsConnRecords(id, p, time.Duration(id)*50*time.Millisecond, 4, 100*time.Millisecond)...)
	}
	var reqs []faultReq
	for at := time.Duration(0); at < 600*time.Millisecond; at += 50 * time.Millisecond {
		reqs = append(reqs, faultReq{at: at, method: http.MethodGet, path: fmt.Sprintf("/api/safe/%d", at/time.Millisecond)})
	}
	path := writeFaultCorpus(t, reqs, recs...)
	up := startFaultUpstream(t)
	proxy := startFaultProxy(t, up.url, faultproxy.Plan{Rules: []faultproxy.Rule{{Fault: faultproxy.WSDrop, Path: "/ws/bad", After: 2}}})
	results := filepath.Join(t.TempDir(), "results.json")
	stdout, stderr, code := command(t, time.Minute, "replay", "run", path, "--target", proxy.URL(), "--timeout", "500ms", "--quiet", "--out", "json="+results)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap, err := metrics.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := snap.Accounting(); err != nil {
		t.Errorf("accounting: %v", err)
	} else if a.NotSent[traffic.NotSentNoConn] < 2 {
		t.Errorf("accounting %s: want the messages after the drops not sent", a)
	}
	if o := outcomeOf(snap, "WS /ws/bad/{id}", "ws-session"); o.Failed[engine.ErrAbnormal] != 2 {
		t.Errorf("dropped sessions in the results document: %+v", o)
	}
	if o := outcomeOf(snap, "WS /ws/ok/{id}", "ws-session"); o.Completed != 2 {
		t.Errorf("healthy sessions in the results document: %+v", o)
	}
	if o := httpOutcome(snap, "GET /api/safe/{id}"); o.Completed != int64(len(reqs)) {
		t.Errorf("HTTP flows: %+v", o)
	}
}
