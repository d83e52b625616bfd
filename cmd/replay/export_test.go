package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/har"
	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

func runReplay(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"replay"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeExportCorpus(t *testing.T, path string) []traffic.Record {
	t.Helper()
	origin := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	up := traffic.Exchange{Flow: "u", ConnID: 2, Start: time.Millisecond,
		Request:  traffic.Request{Method: "GET", URL: "/v1/updates", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1", Header: traffic.Fields{{Name: "Upgrade", Value: "websocket"}}},
		Response: &traffic.Response{Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1", Header: traffic.Fields{{Name: "Upgrade", Value: "websocket"}}}}
	recs := []traffic.Record{
		{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "u", ConnID: 1, Start: 0,
			Request:  traffic.Request{Method: "POST", URL: "/v1/sessions", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1", Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(`{"tag":"a"}`), Size: 11}},
			Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Body: traffic.Body{Data: []byte(`{"id":"s1"}`), Size: 11}},
			Timing:   traffic.Timing{Wait: 2 * time.Millisecond, Total: 3 * time.Millisecond}}},
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 2, Start: time.Millisecond, Upgrade: up}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 2, Start: 2 * time.Millisecond, FromClient: true, Opcode: traffic.OpText, Payload: []byte("hi"), Size: 2, Frames: 1}},
		{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: 2, Start: 3 * time.Millisecond, Code: 1000}},
	}
	w, err := corpus.Create(path, traffic.Header{Source: "proxy", ClockOrigin: origin, Origin: "http://localhost:8787"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestReplayExportHAR(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "c.rpz")
	recs := writeExportCorpus(t, in)
	out := filepath.Join(dir, "out.har")
	code, stdout, stderr := runReplay(t, "export", in, "--har", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "wrote 2 entries: 1 exchanges, 1 websocket connections (1 messages) -> " + out; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Log struct {
			Creator har.Creator `json:"creator"`
			Entries []json.RawMessage
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.Log.Creator.Name != "reprise" || len(doc.Log.Entries) != 2 {
		t.Errorf("creator %+v, %d entries", doc.Log.Creator, len(doc.Log.Entries))
	}
	sink := &traffictest.Sink{}
	if _, err := har.Import(context.Background(), []har.Input{har.FileInput(out)}, har.Options{}, func(traffic.Header) (traffic.Sink, error) { return sink, nil }); err != nil {
		t.Fatal(err)
	}
	got := sink.Records()
	if len(got) != len(recs) {
		t.Fatalf("re-import gave %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].Kind != recs[i].Kind || got[i].Start() != recs[i].Start() || got[i].Flow() != recs[i].Flow() {
			t.Errorf("record %d = %v at %v in %q, want %v at %v in %q", i, got[i].Kind, got[i].Start(), got[i].Flow(), recs[i].Kind, recs[i].Start(), recs[i].Flow())
		}
	}

	// To standard output.
	code, stdout, _ = runReplay(t, "export", in, "--har", "-")
	if code != 0 || !strings.HasPrefix(stdout, `{"log":{"version":"1.2"`) {
		t.Errorf("--har -: exit %d, output starts %.40q", code, stdout)
	}
}

func TestReplayExportErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "c.rpz")
	writeExportCorpus(t, in)
	exists := filepath.Join(dir, "exists.har")
	os.WriteFile(exists, []byte("{}"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no corpus", []string{"export", "--har", filepath.Join(dir, "a.har")}, 2, "name exactly one corpus"},
		{"no har flag", []string{"export", in}, 2, "--har OUT.har is required"},
		{"missing corpus", []string{"export", filepath.Join(dir, "nope.rpz"), "--har", filepath.Join(dir, "b.har")}, 1, "nope.rpz"},
		{"existing output", []string{"export", in, "--har", exists}, 1, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReplay(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d stderr %q, want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}
