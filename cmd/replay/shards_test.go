package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/metrics"
	"github.com/reprise/reprise/internal/traffic"
)

// ticketCorpus records six users of a server that checks who owns what:
// each lists its sessions and fetches a WebSocket ticket with its token,
// then opens /v1/updates with the ticket on a connection of its own (a
// flow apart: the recorder saw no credential on it) and sends two
// messages.
func ticketCorpus(t *testing.T, dir string, tokens []string) string {
	t.Helper()
	path := filepath.Join(dir, "tickets.rpz")
	w, err := corpus.Create(path, traffic.Header{Source: "test", Origin: "http://recorded.example:8787"})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	json200 := func(body string) *traffic.Response {
		return &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body: traffic.Body{Data: []byte(body), Size: int64(len(body))}}
	}
	var recs []traffic.Record
	for u, tok := range tokens {
		flow, sock := fmt.Sprintf("auth:%08x", u+1), fmt.Sprintf("conn:%d", 100+u)
		auth := traffic.Fields{{Name: "Authorization", Value: "Bearer " + tok}}
		base := time.Duration(u) * 7 * ms
		ticket := fmt.Sprintf("eyJ1IjoidXNlci0%dIiwiZSI6MTc5NTcxNzc3OTE2Nn0.recorded-signature-%d", u, u)
		recs = append(recs,
			traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: flow, ConnID: uint64(u + 1), Start: base,
				Request:  traffic.Request{Method: "GET", URL: "/v1/sessions", Header: auth},
				Response: json200(`{"sessions":[]}`), Timing: traffic.Timing{Total: 2 * ms}}},
			traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: flow, ConnID: uint64(u + 1), Start: base + 10*ms,
				Request:  traffic.Request{Method: "POST", URL: "/v1/websocket/ticket", Header: auth},
				Response: json200(`{"ticket":"` + ticket + `"}`), Timing: traffic.Timing{Total: 2 * ms}}},
			traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: sock, ConnID: uint64(100 + u), Start: base + 20*ms,
				Upgrade: traffic.Exchange{Flow: sock, ConnID: uint64(100 + u), Request: traffic.Request{Method: "GET", URL: "/v1/updates?ticket=" + ticket + "&clientType=user-scoped"},
					Response: &traffic.Response{Status: 101}}}},
		)
		for i := 0; i < 2; i++ {
			recs = append(recs, traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: sock, ConnID: uint64(100 + u),
				Start: base + time.Duration(40+20*i)*ms, FromClient: true, Opcode: traffic.OpText, Payload: []byte(`{"event":"ping","data":{}}`)}})
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: sock, ConnID: uint64(100 + u), Start: base + 120*ms, FromClient: true, Code: 1000}})
	}
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Three shards of a recording whose sockets are authenticated by tickets,
// run side by side, open every socket (each socket goes with the user
// whose request fetched its ticket), and their merge counts what the
// unsharded run counts.
func TestShardsKeepUsersWhole(t *testing.T) {
	dir := t.TempDir()
	var tokens []string
	for u := 0; u < 6; u++ {
		tokens = append(tokens, fmt.Sprintf("user-token-%02d", u))
	}
	srv, err := happyapi.New(happyapi.Config{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := ticketCorpus(t, dir, tokens)
	replay := func(out string, extra ...string) string {
		args := append([]string{"run", c, "--target", srv.URL(), "--speed", "2", "-q", "--out", "json=" + out}, extra...)
		code, stdout, stderr := runReplay(t, args...)
		if code != exitOK {
			t.Errorf("replay %v: exit %d\n%s%s", extra, code, stdout, stderr)
		}
		return stdout
	}
	whole := filepath.Join(dir, "whole.json")
	replay(whole)
	var shards []string
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		shards = append(shards, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			replay(p, "--shard", fmt.Sprintf("%d/3", i))
		}()
	}
	wg.Wait()
	merged := filepath.Join(dir, "merged.json")
	if code, stdout, stderr := runReplay(t, append([]string{"merge"}, append(shards, "--out", "json="+merged)...)...); code != exitOK {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, stderr)
	}
	w, m := readResultsT(t, whole), readResultsT(t, merged)
	for name, s := range map[string]*metrics.Snapshot{"whole": w, "merged": m} {
		ws := wsTotals(s)
		if ws.Connects != 6 || ws.Sessions != 6 || ws.MsgsSent != 12 {
			t.Errorf("%s run: %d connects, %d sessions, %d messages sent; want 6, 6, 12 (every socket open)", name, ws.Connects, ws.Sessions, ws.MsgsSent)
		}
		a, err := s.Accounting()
		if err != nil || a.Scheduled != 30 || a.Completed != 30 {
			t.Errorf("%s run: accounting %+v (%v)", name, a, err)
		}
	}
	wa, _ := w.Accounting()
	ma, _ := m.Accounting()
	if wa.String() != ma.String() || w.Overall.Requests != m.Overall.Requests || w.Overall.ChecksPassed != m.Overall.ChecksPassed {
		t.Errorf("merged run differs from the whole run:\nwhole  %s, %d requests, %d checks\nmerged %s, %d requests, %d checks",
			wa, w.Overall.Requests, w.Overall.ChecksPassed, ma, m.Overall.Requests, m.Overall.ChecksPassed)
	}
	// Every shard has work: users are spread, not piled on one shard.
	for _, p := range shards {
		if a, _ := readResultsT(t, p).Accounting(); a.Scheduled == 0 || !strings.Contains(a.String(), "completed") {
			t.Errorf("shard %s: %s", p, a)
		}
	}
}

// wsTotals sums the WebSocket metrics of every endpoint.
func wsTotals(s *metrics.Snapshot) metrics.WS {
	var out metrics.WS
	for _, e := range s.Endpoints {
		if e.WS != nil {
			out.Connects += e.WS.Connects
			out.Sessions += e.WS.Sessions
			out.MsgsSent += e.WS.MsgsSent
		}
	}
	return out
}
