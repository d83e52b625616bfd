//go:build integration

package capture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// liveCapture sniffs the loopback interface into a Processor (and
// optionally a pcap file) until stop is called.
type liveCapture struct {
	sink    *traffictest.Sink
	async   *AsyncSink
	proc    *Parallel
	sniffer *Sniffer
	cancel  context.CancelFunc
	done    chan error
	pcap    *pcapgo.Writer
	file    *os.File
}

func startCapture(t *testing.T, port int, pcapPath string) *liveCapture {
	t.Helper()
	sn, err := OpenSniffer(SnifferConfig{Interface: "lo", Filter: fmt.Sprintf("tcp port %d", port), PayloadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	lc := &liveCapture{sink: &traffictest.Sink{}, sniffer: sn, done: make(chan error, 1)}
	lc.async = NewAsyncSink(func() (traffic.Sink, error) { return lc.sink, nil }, 1<<16)
	lc.proc = NewParallel(lc.async, Config{ServerPorts: []uint16{uint16(port)}}, 2)
	if pcapPath != "" {
		f, err := os.Create(pcapPath)
		if err != nil {
			t.Fatal(err)
		}
		lc.file = f
		lc.pcap = pcapgo.NewWriterNanos(f)
		if err := lc.pcap.WriteFileHeader(262144, layers.LinkTypeRaw); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	lc.cancel = cancel
	work := context.Background()
	go func() {
		lc.done <- sn.Run(ctx, func(p Packet) error {
			if lc.pcap != nil {
				ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: p.Length}
				if err := lc.pcap.WritePacket(ci, p.Data); err != nil {
					return err
				}
			}
			return lc.proc.Packet(work, p)
		}, func(now time.Time) error { return lc.proc.Tick(work, now) })
	}()
	time.Sleep(100 * time.Millisecond)
	return lc
}

// stop waits for the ring to hand over the last packets, then ends the
// capture and returns what it recorded.
func (lc *liveCapture) stop(t *testing.T) ([]traffic.Record, SnifferStats) {
	t.Helper()
	// Wait until the capture has caught up (a loaded CI machine may lag).
	for i := 0; i < 100; i++ {
		before := lc.sniffer.seen.Load()
		time.Sleep(300 * time.Millisecond)
		if lc.sniffer.seen.Load() == before {
			break
		}
	}
	lc.cancel()
	if err := <-lc.done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	st, err := lc.sniffer.Stats()
	if err != nil {
		t.Fatal(err)
	}
	lc.sniffer.Close()
	if err := lc.proc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := lc.async.Close(); err != nil {
		t.Fatal(err)
	}
	if lc.file != nil {
		lc.file.Close()
	}
	if d := lc.async.Dropped(); d != 0 {
		t.Errorf("writer queue dropped %d records", d)
	}
	return lc.sink.Records(), st
}

// startNginx runs nginx on 127.0.0.1:port with a temporary configuration
// and returns the path of its access log.
func startNginx(t *testing.T, port int) string {
	t.Helper()
	bin := requireTool(t, "nginx")
	dir := t.TempDir()
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:%[2]d;
    location / { return 200 "ok $uri\n"; }
  }
}
`, dir, port)
	cpath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cpath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cpath, "-p", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	for i := 0; i < 50; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return filepath.Join(dir, "access.log")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("nginx did not start")
	return ""
}

func countLines(t *testing.T, path, contains string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), contains) {
			n++
		}
	}
	return n
}

// TestLiveNginx sniffs loopback while curl and wrk load nginx: every
// request nginx logged is in the corpus exactly once.
func TestLiveNginx(t *testing.T) {
	requireRoot(t)
	curl := requireTool(t, "curl")
	port := freePort(t)
	access := startNginx(t, port)
	lc := startCapture(t, port, "")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	const perClient = 300
	var wg sync.WaitGroup
	want := map[string]bool{}
	for _, c := range []string{"a", "b", "c"} {
		for i := 1; i <= perClient; i++ {
			want[fmt.Sprintf("/k%s/%d", c, i)] = true
		}
		wg.Add(1)
		go func(c string) {
			defer wg.Done()
			// URL globbing: one keep-alive connection for 300 requests.
			out, err := exec.Command(curl, "-sS", "-o", "/dev/null", fmt.Sprintf("%s/k%s/[1-%d]", base, c, perClient)).CombinedOutput()
			if err != nil {
				t.Errorf("curl: %v %s", err, out)
			}
		}(c)
	}
	wg.Wait()
	for i := 0; i < 20; i++ {
		u := fmt.Sprintf("/one/%d", i)
		want[u] = true
		args := []string{"-sS", "-o", "/dev/null", "--http1.0", base + u}
		if i%2 == 0 {
			args = append(args, "-d", "field=value&n="+strconv.Itoa(i))
		}
		if out, err := exec.Command(curl, args...).CombinedOutput(); err != nil {
			t.Fatalf("curl: %v %s", err, out)
		}
	}
	wrkCount := 0
	if wrk, err := exec.LookPath("wrk"); err == nil {
		out, err := exec.Command(wrk, "-t1", "-c4", "-d1s", base+"/wrk").CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v %s", err, out)
		}
		t.Logf("wrk: %s", strings.TrimSpace(string(out)))
	}
	recs, st := lc.stop(t)
	t.Logf("kernel: %+v; processor: %+v", st, lc.proc.Stats())
	if st.Dropped != 0 {
		t.Errorf("kernel dropped %d packets", st.Dropped)
	}
	seen := map[string]int{}
	for _, x := range exchanges(recs) {
		if strings.HasPrefix(x.Request.URL, "/wrk") {
			// wrk may stop with requests in flight: nginx logs those too
			// (499), and they are recorded without a response.
			wrkCount++
			continue
		}
		if x.Response == nil || x.Has(traffic.FlagIncomplete) {
			t.Errorf("incomplete exchange %s", brief(x))
			continue
		}
		seen[x.Request.URL]++
		if want := "ok " + x.Request.URL + "\n"; string(x.Response.Body.Data) != want {
			t.Errorf("%s: body %q", x.Request.URL, x.Response.Body.Data)
		}
	}
	for u := range want {
		if seen[u] != 1 {
			t.Errorf("%s recorded %d times", u, seen[u])
		}
	}
	for u, n := range seen {
		if !want[u] {
			t.Errorf("unexpected %s recorded %d times", u, n)
		}
	}
	logged := countLines(t, access, "GET /wrk")
	if wrkCount != logged {
		t.Errorf("wrk: nginx logged %d requests, corpus has %d", logged, wrkCount)
	}
	t.Logf("%d curl requests and %d wrk requests recorded", len(seen), wrkCount)
}

// TestTsharkOnLiveCapture drives an HTTP and WebSocket session over
// loopback, writes what the sniffer captured to a pcap, and checks our
// decoding of that file against tshark's.
func TestTsharkOnLiveCapture(t *testing.T) {
	requireRoot(t)
	tshark := requireTool(t, "tshark")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	up := websocket.Upgrader{EnableCompression: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.EnableWriteCompression(len(msg) > 100)
			c.WriteMessage(mt, append([]byte("echo: "), msg...))
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		case "/stream":
			for i := 0; i < 5; i++ {
				fmt.Fprintf(w, "chunk %d %s\n", i, strings.Repeat("x", 3000))
				w.(http.Flusher).Flush()
			}
		default:
			fmt.Fprintf(w, "hello %s", r.URL.Path)
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()

	pcapPath := filepath.Join(dir, "live.pcap")
	lc := startCapture(t, port, pcapPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/a", ""}, {"GET", "/stream", ""}, {"HEAD", "/h", ""}, {"POST", "/form", strings.Repeat("p", 5000)},
		{"PUT", "/empty", "x"}, {"GET", "/cached", ""}, {"DELETE", "/d", ""},
	} {
		var body io.Reader
		if req.body != "" {
			body = strings.NewReader(req.body)
		}
		r, _ := http.NewRequest(req.method, base+req.path, body)
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	d := websocket.Dialer{EnableCompression: true}
	ws, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/ws", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []string{"hi", strings.Repeat("compress me ", 50), "bye"} {
		ws.EnableWriteCompression(i == 1)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	ws.ReadMessage()
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	ws.ReadMessage()
	ws.Close()
	client.CloseIdleConnections()
	lc.stop(t)

	if keep := os.Getenv("KEEP_PCAP"); keep != "" {
		data, _ := os.ReadFile(pcapPath)
		os.WriteFile(keep, data, 0o600)
	}
	o := tsharkOracle(t, tshark, pcapPath, port, false)
	dec := decodeFile(t, pcapPath, Config{ServerPorts: []uint16{uint16(port)}})
	t.Logf("tshark: %d requests, %d responses, %d ws frames", len(o.reqs), len(o.resps), len(o.ws))
	if len(o.reqs) < 8 || len(o.ws) < 8 {
		t.Fatalf("tshark saw too little (%d requests, %d ws frames): capture broken?", len(o.reqs), len(o.ws))
	}
	compareOracle(t, o, dec, o.counts, 0)
}

// tsharkOracle runs tshark on a capture and builds the oracle the shared
// test data was made with.
// With ooo, tshark reassembles out-of-order segments (the capture has
// reordering but no holes).
func tsharkOracle(t *testing.T, tshark, path string, port int, ooo bool) oracle {
	t.Helper()
	fields := []string{"frame.number", "frame.time_epoch", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
		"http.request.method", "http.request.uri", "http.host", "http.response.code",
		"websocket.fin", "websocket.opcode", "websocket.mask", "websocket.pmc",
		"websocket.payload_length", "websocket.payload_length_ext_16", "websocket.payload_length_ext_64"}
	args := []string{"-r", path, "-d", fmt.Sprintf("tcp.port==%d,http", port), "-Y", "http || websocket", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	if ooo {
		args = append(args, "-o", "tcp.reassemble_out_of_order:TRUE")
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	o := oracle{counts: map[string]int{}}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		c := strings.Split(line, "\t")
		if len(c) < len(fields) {
			continue
		}
		tm := parseEpoch(c[1])
		src := net.JoinHostPort(c[2], c[3])
		dst := net.JoinHostPort(c[4], c[5])
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		methods, uris, hosts := split(c[6]), split(c[7]), split(c[8])
		for i, m := range methods {
			o.reqs = append(o.reqs, oracleLine{tm, []string{"req", c[0], c[1], m, at(uris, i), at(hosts, i), "", src, dst}})
		}
		for _, code := range split(c[9]) {
			o.resps = append(o.resps, oracleLine{tm, []string{"resp", c[0], c[1], code, "", "", "", src, dst}})
		}
		fins, ops, masks, pmcs, lens, l16, l64 := split(c[10]), split(c[11]), split(c[12]), split(c[13]), split(c[14]), split(c[15]), split(c[16])
		i16, i64 := 0, 0
		for i, op := range ops {
			n := at(lens, i)
			switch n {
			case "126":
				n = at(l16, i16)
				i16++
			case "127":
				n = at(l64, i64)
				i64++
			}
			o.ws = append(o.ws, oracleLine{tm, []string{"ws", c[0], c[1], boolDigit(at(fins, i)), op, boolDigit(at(masks, i)), boolDigit(at(pmcs, i)), n, src, dst}})
		}
	}
	o.counts["http_requests"] = len(o.reqs)
	o.counts["http_responses"] = len(o.resps)
	o.counts["ws_frames"] = len(o.ws)
	return o
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func boolDigit(s string) string {
	switch s {
	case "True", "true", "1":
		return "1"
	}
	return "0"
}

// TestTsharkOnGenerated writes generated conversations (pipelining,
// chunked bodies, 100-continue, reordered and retransmitted segments, IP
// fragments, WebSocket fragments and permessage-deflate with context
// takeover) to a pcap and checks our decoding against tshark's. It needs
// no root.
func TestTsharkOnGenerated(t *testing.T) {
	tshark := requireTool(t, "tshark")
	g := newConvo()
	a := g.conn(41000, true)
	a.send(true, "GET /1 HTTP/1.1\r\nHost: gen\r\n\r\nGET /2 HTTP/1.1\r\nHost: gen\r\n\r\n")
	a.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	a.send(true, "PUT /up HTTP/1.1\r\nHost: gen\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	a.send(false, "HTTP/1.1 100 Continue\r\n\r\n")
	a.send(true, "data")
	a.send(false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	a.close()
	b := g.conn(41001, true)
	n := len(g.pkts)
	b.send(true, "POST /big HTTP/1.1\r\nHost: gen\r\nContent-Length: 3000\r\n\r\n"+strings.Repeat("z", 3000))
	// Reorder and retransmit the body segments.
	g.pkts[n+1], g.pkts[n+2] = g.pkts[n+2], g.pkts[n+1]
	g.pkts = append(g.pkts, g.pkts[n+1])
	b.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	b.close()
	// A request whose segment travelled as IPv4 fragments, last first.
	f := g.conn(41003, true)
	g.mss = 4000
	f.send(true, "POST /frag HTTP/1.1\r\nHost: gen\r\nContent-Length: 3500\r\n\r\n"+strings.Repeat("f", 3500))
	g.mss = 1000
	last := len(g.pkts) - 1
	frags := fragmentV4(g.pkts[last], 1480, 4242)
	g.pkts = append(g.pkts[:last], frags[2], frags[0], frags[1])
	f.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	f.close()
	w := g.conn(41002, true)
	wsUpgrade(w, "permessage-deflate")
	sd := &deflater{takeover: true}
	long := strings.Repeat("context takeover ", 30)
	w.send(false, wsFrame(true, true, traffic.OpText, false, sd.compress(long)))
	w.send(false, wsFrame(true, true, traffic.OpText, false, sd.compress(long)))
	w.send(true, wsFrame(false, false, traffic.OpText, true, []byte("frag"))+wsFrame(true, false, traffic.OpPing, true, nil)+wsFrame(true, false, traffic.OpContinuation, true, []byte("ment")))
	w.send(true, wsFrame(true, false, traffic.OpClose, true, []byte{3, 232}))
	w.send(false, wsFrame(true, false, traffic.OpClose, false, []byte{3, 232}))
	w.close()

	path := filepath.Join(t.TempDir(), "gen.pcap")
	if err := os.WriteFile(path, writePcap(t, g.pkts), 0o600); err != nil {
		t.Fatal(err)
	}
	o := tsharkOracle(t, tshark, path, 80, true)
	dec := decodeFile(t, path, Config{})
	t.Logf("tshark: %d requests, %d responses, %d ws frames", len(o.reqs), len(o.resps), len(o.ws))
	compareOracle(t, o, dec, o.counts, 0)
	// tshark inflates with context takeover too: both server messages decode.
	msgs := 0
	for _, r := range dec.records {
		if m := r.WSMessage; m != nil && !m.FromClient && m.Compressed {
			msgs++
			if string(m.Payload) != long {
				t.Errorf("inflated %q", m.Payload)
			}
		}
	}
	if msgs != 2 {
		t.Errorf("got %d compressed server messages, want 2", msgs)
	}
}
