//go:build integration

package har

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/replay"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// browserPage is served at "/": three fetch() calls, then a WebSocket
// that sends a text and a binary message, reads both echoes and closes.
const browserPage = `<!doctype html>
<html><head><title>reprise har test</title></head><body>
<script>
window.__errors = [];
async function main() {
  const a = await fetch('/api/items?limit=2', {headers: {'X-Test': 'one'}});
  if ((await a.json()).items.length !== 2) throw new Error('bad items');
  const b = await fetch('/api/items', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'widget', n: 3})});
  if (b.status !== 201) throw new Error('post status ' + b.status);
  const c = await fetch('/api/blob');
  if ((await c.arrayBuffer()).byteLength !== 4) throw new Error('bad blob');
  await new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://' + location.host + '/ws');
    ws.binaryType = 'arraybuffer';
    let got = 0;
    ws.onopen = () => {
      ws.send('hello reprise');
      ws.send(new Uint8Array([0, 1, 254, 255]));
    };
    ws.onmessage = () => { if (++got === 2) ws.close(1000, 'done'); };
    ws.onclose = () => resolve();
    ws.onerror = () => reject(new Error('websocket error'));
  });
}
main().catch(e => window.__errors.push(String(e))).finally(() => { window.__done = true; });
</script></body></html>`

func browserServer(t *testing.T) (string, func()) {
	t.Helper()
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, browserPage)
	})
	mux.HandleFunc("/api/items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"created":%s}`, body)
			return
		}
		io.WriteString(w, `{"items":[{"id":1},{"id":2}]}`)
	})
	mux.HandleFunc("/api/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte{0xde, 0xad, 0xbe, 0xef})
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// recordBrowserHAR serves the test page, loads it in Chromium through
// Playwright's recordHar and returns the HAR file's path.
func recordBrowserHAR(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir, err := filepath.Abs("testdata/browser")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm not installed")
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	base, stop := browserServer(t)
	defer stop()
	out := filepath.Join(t.TempDir(), "browser.har")
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "record.mjs"), base+"/", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("record.mjs: %v\n%s", err, o)
	}
	return out
}

func TestBrowserHARImport(t *testing.T) {
	path := recordBrowserHAR(t)
	if keep := os.Getenv("REPRISE_KEEP_HAR"); keep != "" {
		data, _ := os.ReadFile(path)
		os.WriteFile(keep, data, 0o644)
	}
	rep, recs := importInputs(t, Options{}, FileInput(path))
	if len(rep.Skipped) > 0 {
		t.Errorf("skipped: %v", rep.Skipped)
	}
	c := traffic.Collect(recs)
	byTarget := map[string]*traffic.Exchange{}
	for i := range c.Exchanges {
		x := &c.Exchanges[i]
		byTarget[x.Request.Method+" "+x.Request.URL] = x
	}
	get := byTarget["GET /api/items?limit=2"]
	post := byTarget["POST /api/items"]
	blob := byTarget["GET /api/blob"]
	page := byTarget["GET /"]
	if get == nil || post == nil || blob == nil || page == nil {
		t.Fatalf("missing exchanges; have %v", keys(byTarget))
	}
	if get.Request.Header.Get("X-Test") != "one" || get.Response.Status != 200 || string(get.Response.Body.Data) != `{"items":[{"id":1},{"id":2}]}` {
		t.Errorf("GET: header %v status %d body %q", get.Request.Header, get.Response.Status, get.Response.Body.Data)
	}
	if string(post.Request.Body.Data) != `{"name":"widget","n":3}` || post.Response.Status != 201 || post.Request.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST: body %q status %d headers %v", post.Request.Body.Data, post.Response.Status, post.Request.Header)
	}
	if !bytes.Equal(blob.Response.Body.Data, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("blob body %x", blob.Response.Body.Data)
	}
	if !(page.Start <= get.Start && get.Start <= post.Start && post.Start <= blob.Start) {
		t.Errorf("starts out of order: page %v get %v post %v blob %v", page.Start, get.Start, post.Start, blob.Start)
	}
	if get.Timing.Total <= 0 {
		t.Errorf("GET timing %+v", get.Timing)
	}
	if len(c.WS) != 1 {
		t.Fatalf("%d websocket connections, want 1", len(c.WS))
	}
	ws := c.WS[0]
	if ws.Open.Upgrade.Request.URL != "/ws" || ws.Open.Upgrade.Response == nil || ws.Open.Upgrade.Response.Status != 101 {
		t.Errorf("upgrade %+v", ws.Open.Upgrade)
	}
	if ws.Open.Start < blob.Start {
		t.Errorf("websocket opened at %v, before the last fetch at %v", ws.Open.Start, blob.Start)
	}
	type m struct {
		client bool
		op     traffic.Opcode
		data   string
	}
	var got []m
	for _, msg := range ws.Messages {
		got = append(got, m{msg.FromClient, msg.Opcode, string(msg.Payload)})
		if msg.Start < ws.Open.Start || msg.Start > ws.Open.Start+time.Minute {
			t.Errorf("message at %v, connection opened at %v", msg.Start, ws.Open.Start)
		}
	}
	sends, recvs := 0, 0
	for _, g := range got {
		want := m{g.client, traffic.OpText, "hello reprise"}
		if g.op == traffic.OpBinary {
			want.op, want.data = traffic.OpBinary, "\x00\x01\xfe\xff"
		}
		if g != want {
			t.Errorf("message %+v, want %+v", g, want)
		}
		if g.client {
			sends++
		} else {
			recvs++
		}
	}
	if sends != 2 || recvs != 2 {
		t.Errorf("messages %+v: want 2 sent and 2 echoed", got)
	}
	if ws.Close == nil || ws.Close.Start < ws.Messages[len(ws.Messages)-1].Start {
		t.Errorf("close %+v", ws.Close)
	}
	t.Logf("%s", rep.Summary())

	// The browser's HAR re-exports to a valid HAR that re-imports the same.
	var buf bytes.Buffer
	if _, err := Export(context.Background(), traffic.SliceSource(recs), rep.Header, &buf, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	validate(t, compileSchema(t), buf.Bytes())
	_, again := importInputs(t, Options{}, BytesInput("again.har", buf.Bytes()))
	if len(again) != len(recs) {
		t.Errorf("re-import of the export: %d records, want %d", len(again), len(recs))
	}

	// And the browser's session replays against a fresh server: every
	// exchange answers as recorded, the WebSocket echoes both messages.
	corpusPath := filepath.Join(t.TempDir(), "browser.rpz")
	w, err := corpus.Create(corpusPath, rep.Header)
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
	base, stop := browserServer(t)
	defer stop()
	target, _ := url.Parse(base)
	out, err := replay.Run(context.Background(), replay.Options{Corpus: corpusPath, Schedule: schedule.Options{Speed: 10}, Engine: engine.Config{Target: target}})
	if err != nil {
		t.Fatal(err)
	}
	o := out.Snapshot.Overall
	if o.Requests != int64(len(c.Exchanges)) || o.ChecksFailed != 0 || o.Failed != 0 {
		t.Errorf("replay: %d requests of %d, %d checks failed, %d failed", o.Requests, len(c.Exchanges), o.ChecksFailed, o.Failed)
	}
	if ws := o.WS; ws == nil || ws.MsgsSent != 2 || ws.MsgsReceived != 2 {
		t.Errorf("replayed websocket: %+v; outcomes %+v; statuses %v", o.WS, o.Outcomes["ws-connect"], o.Statuses)
	}
}

func keys(m map[string]*traffic.Exchange) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
