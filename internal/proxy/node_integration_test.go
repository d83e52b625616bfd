//go:build integration

package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// nodeModules installs testdata/node (the ws package from npm, pinned by
// package-lock.json) into a temporary directory.
func nodeModules(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "client.js", "server.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--silent")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return dir
}

// TestNodeWebSocketClient records Node's ws client talking through the
// proxy to a Go (gorilla) upstream and to a Node ws upstream that
// compresses with context takeover.
func TestNodeWebSocketClient(t *testing.T) {
	dir := nodeModules(t)
	nodeServer := func(t *testing.T) string {
		cmd := exec.Command("node", "server.js")
		cmd.Dir = dir
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		port, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return "http://127.0.0.1:" + strings.TrimSpace(port)
	}
	tests := []struct {
		name     string
		upstream func(t *testing.T) string
		wantExt  string
	}{
		{"go upstream", func(t *testing.T) string { return wsUpstream(t, true).URL }, "server_no_context_takeover"},
		{"node upstream with context takeover", nodeServer, "permessage-deflate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, tt.upstream(t))
			cmd := exec.Command("node", "client.js", wsURL(tp.URL, "/v1/updates?clientType=user-scoped"))
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node client: %v\n%s", err, out)
			}
			var res struct {
				Code   int
				Reason string
			}
			json.Unmarshal(out, &res)
			if res.Code != 4000 {
				t.Fatalf("node client saw %s", out)
			}
			time.Sleep(100 * time.Millisecond)
			tp.stop()
			col := traffic.Collect(tp.Sink.Records())
			if len(col.WS) != 1 {
				t.Fatalf("%d ws connections", len(col.WS))
			}
			ws := col.WS[0]
			if ws.Open.Upgrade.Response.Status != http.StatusSwitchingProtocols || !strings.Contains(ws.Open.Extensions, tt.wantExt) {
				t.Errorf("open: status %d extensions %q", ws.Open.Upgrade.Response.Status, ws.Open.Extensions)
			}
			var fromClient, fromServer []string
			compressed := 0
			for _, m := range ws.Messages {
				if m.Opcode != traffic.OpText && m.Opcode != traffic.OpBinary {
					continue
				}
				if m.Compressed {
					compressed++
				}
				if m.FromClient {
					fromClient = append(fromClient, string(m.Payload))
				} else {
					fromServer = append(fromServer, string(m.Payload))
				}
			}
			want := []string{`{"event":"hello","n":1}`, strings.Repeat("node text ", 40), `{"event":"hello","n":2}`, "\x00\x01\x02\x03\xfe\xff"}
			if strings.Join(fromClient, "|") != strings.Join(want, "|") || strings.Join(fromServer, "|") != strings.Join(want, "|") {
				t.Errorf("messages\nclient %q\nserver %q\nwant   %q", fromClient, fromServer, want)
			}
			if compressed != 2*len(want) {
				t.Errorf("%d of %d messages recorded as compressed", compressed, 2*len(want))
			}
			var ping, pong bool
			for _, m := range ws.Messages {
				ping = ping || (m.Opcode == traffic.OpPing && m.FromClient && string(m.Payload) == "node-ping")
				pong = pong || (m.Opcode == traffic.OpPong && !m.FromClient && string(m.Payload) == "node-ping")
			}
			if !ping || !pong {
				t.Errorf("ping recorded %v, pong recorded %v", ping, pong)
			}
			if ws.Close == nil || !ws.Close.FromClient || ws.Close.Code != 4000 || ws.Close.Reason != "node done" {
				t.Errorf("close %+v", ws.Close)
			}
		})
	}
}
