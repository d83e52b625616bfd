package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

func simpleConvo() *convo {
	g := newConvo()
	c := g.conn(40000, true)
	c.send(true, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
	c.send(false, strings.Repeat("b", 5000))
	c.send(true, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c.close()
	return g
}

func readAll(t *testing.T, data []byte) ([]traffic.Record, Stats, error) {
	t.Helper()
	sink := &traffictest.Sink{}
	p := NewProcessor(sink, Config{})
	pr, err := NewFileReader(bytes.NewReader(data))
	if err != nil {
		return nil, Stats{}, err
	}
	done := make(chan error, 1)
	go func() { done <- ReadPackets(context.Background(), p, pr) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading the capture hangs")
	}
	if cerr := p.Close(context.Background()); cerr != nil {
		t.Fatal(cerr)
	}
	return sink.Records(), p.Stats(), err
}

func TestBadFiles(t *testing.T) {
	good := writePcap(t, simpleConvo().pkts)
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		check   func(t *testing.T, xs []traffic.Exchange, st Stats)
	}{
		{"empty", nil, ErrNotCapture, nil},
		{"text file", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), ErrNotCapture, nil},
		{"pcap header only", good[:24], nil, func(t *testing.T, xs []traffic.Exchange, st Stats) {
			if st.Packets != 0 || len(xs) != 0 {
				t.Errorf("got %d packets, %d exchanges from an empty capture", st.Packets, len(xs))
			}
		}},
		{"cut in a header", good[:20], ErrTruncated, nil},
		{"cut mid-capture", good[:len(good)*2/3], ErrTruncated, func(t *testing.T, xs []traffic.Exchange, st Stats) {
			if len(xs) == 0 {
				t.Fatal("records before the cut were lost")
			}
			if xs[0].Request.URL != "/a" || !xs[len(xs)-1].Has(traffic.FlagIncomplete) {
				t.Errorf("want /a first and the last exchange incomplete, got %v", xs)
			}
		}},
		{"corrupt record length", func() []byte {
			b := append([]byte(nil), good...)
			binary.LittleEndian.PutUint32(b[24+8:], 0x7fffffff)
			return b
		}(), nil, nil},
		{"bad pcap version", func() []byte {
			b := append([]byte(nil), good...)
			binary.LittleEndian.PutUint16(b[4:], 9)
			return b
		}(), ErrNotCapture, nil},
		{"pcapng garbage after magic", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, bytes.Repeat([]byte{0xff}, 100)...), ErrNotCapture, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, st, err := readAll(t, tc.data)
			if tc.name == "corrupt record length" {
				if err == nil || !strings.Contains(err.Error(), "corrupt record") {
					t.Fatalf("got %v, want a corrupt record error", err)
				}
				return
			}
			if tc.wantErr == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil && (strings.ContainsAny(err.Error()[:1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") || strings.HasSuffix(err.Error(), ".")) {
				t.Errorf("error %q is not lowercase without punctuation", err)
			}
			if tc.check != nil {
				tc.check(t, exchanges(recs), st)
			}
		})
	}
}

// TestSnaplenCut cuts every packet to 100 bytes, as tcpdump -s 100 does:
// headers fit, bodies are mostly missing.
func TestSnaplenCut(t *testing.T) {
	g := simpleConvo()
	for i, p := range g.pkts {
		if len(p.Data) > 100 {
			g.pkts[i].Data = p.Data[:100]
		}
	}
	recs, st, err := readAll(t, writePcap(t, g.pkts))
	if err != nil {
		t.Fatal(err)
	}
	xs := exchanges(recs)
	if len(xs) != 2 {
		t.Fatalf("got %d exchanges, want 2: %v", len(xs), xs)
	}
	if st.CutPackets == 0 {
		t.Error("cut packets not counted")
	}
	a := xs[0]
	if a.Request.URL != "/a" || a.Response == nil || a.Response.Status != 200 || !a.Has(traffic.FlagIncomplete) {
		t.Errorf("first exchange %s, want GET /a -> 200 incomplete", brief(a))
	}
	if b := a.Response.Body; b.Size != 5000 || !b.Truncated {
		t.Errorf("cut body: size %d truncated %v, want 5000 and truncated", b.Size, b.Truncated)
	}
	if xs[1].Request.URL != "/b" || xs[1].Response == nil || string(xs[1].Response.Body.Data) != "ok" {
		t.Errorf("second exchange %s, want GET /b -> 200 ok", brief(xs[1]))
	}
}

func TestLinkTypes(t *testing.T) {
	// The same IPv4/TCP packets behind every supported link layer.
	base := simpleConvo().pkts
	wrap := map[string]func(ip []byte) ([]byte, uint32){
		"ethernet": func(ip []byte) ([]byte, uint32) {
			return append(make([]byte, 12), append([]byte{0x08, 0x00}, ip...)...), LinkEthernet
		},
		"qinq": func(ip []byte) ([]byte, uint32) {
			h := append(make([]byte, 12), 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00)
			return append(h, ip...), LinkEthernet
		},
		"sll": func(ip []byte) ([]byte, uint32) {
			h := make([]byte, 16)
			h[14], h[15] = 0x08, 0x00
			return append(h, ip...), LinkLinuxSLL
		},
		"sll2": func(ip []byte) ([]byte, uint32) {
			h := make([]byte, 20)
			h[0], h[1] = 0x08, 0x00
			return append(h, ip...), LinkSLL2
		},
		"null": func(ip []byte) ([]byte, uint32) { return append([]byte{2, 0, 0, 0}, ip...), LinkNull },
		"loop": func(ip []byte) ([]byte, uint32) { return append([]byte{0, 0, 0, 2}, ip...), LinkLoop },
		"raw":  func(ip []byte) ([]byte, uint32) { return ip, LinkRaw },
	}
	for name, f := range wrap {
		t.Run(name, func(t *testing.T) {
			var pkts []Packet
			for _, p := range base {
				d, lt := f(p.Data[14:])
				pkts = append(pkts, Packet{Data: d, Timestamp: p.Timestamp, Length: len(d), LinkType: lt})
			}
			recs, st := process(t, pkts, Config{})
			if xs := exchanges(recs); len(xs) != 2 || st.TCP != int64(len(pkts)) {
				t.Errorf("got %d exchanges from %d/%d TCP packets", len(xs), st.TCP, len(pkts))
			}
		})
	}
}

// TestPcapFormats reads a nanosecond pcap through the file path; pcapng
// and the other variants are covered by the oracle captures.
func TestPcapFormats(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.pcap")
	if err := os.WriteFile(path, writePcap(t, simpleConvo().pkts), 0o600); err != nil {
		t.Fatal(err)
	}
	d := decodeFile(t, path, Config{})
	if xs := exchanges(d.records); len(xs) != 2 || !d.origin.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("got %d exchanges, origin %v", len(xs), d.origin)
	}
}

func TestReadPacketsStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pr, err := NewFileReader(bytes.NewReader(writePcap(t, simpleConvo().pkts)))
	if err != nil {
		t.Fatal(err)
	}
	err = ReadPackets(ctx, NewProcessor(&traffictest.Sink{}, Config{}), pr)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestSinkErrorStops(t *testing.T) {
	sink := &traffictest.Sink{Err: io.ErrShortWrite}
	p := NewProcessor(sink, Config{})
	var err error
	for _, pkt := range simpleConvo().pkts {
		if err = p.Packet(context.Background(), pkt); err != nil {
			break
		}
	}
	if err == nil {
		err = p.Close(context.Background())
	}
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("got %v, want the sink's error", err)
	}
}

// Captures compressed with gzip or zstd (tcpdump -z gzip, logrotate)
// import like the plain file; one cut short keeps what came before the
// cut and says which stream broke.
func TestCompressedCaptures(t *testing.T) {
	plain := writePcap(t, simpleConvo().pkts)
	want, _, err := readAll(t, plain)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	// Flushed every KiB, as a capture written as it goes: a cut leaves
	// whole blocks before it.
	var zst bytes.Buffer
	zs, err := zstd.NewWriter(&zst)
	if err != nil {
		t.Fatal(err)
	}
	for b := plain; len(b) > 0; b = b[min(len(b), 1024):] {
		zs.Write(b[:min(len(b), 1024)])
		zs.Flush()
	}
	zs.Close()
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{{"gzip", "gzip", gz.Bytes()}, {"zstd", "zstd", zst.Bytes()}} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := readAll(t, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(exchanges(got)) != 2 || len(got) != len(want) {
				t.Fatalf("got %d records (%d exchanges), want %d as from the plain file", len(got), len(exchanges(got)), len(want))
			}
			gx, wx := exchanges(got), exchanges(want)
			for i := range gx {
				if a, b := brief(gx[i]), brief(wx[i]); a != b || string(gx[i].Response.Body.Data) != string(wx[i].Response.Body.Data) {
					t.Fatalf("exchange %d: %s, plain file gives %s", i, a, b)
				}
			}
			cut, _, err := readAll(t, tc.data[:len(tc.data)*2/3])
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), tc.format+" stream") {
				t.Fatalf("cut %s capture: error %v, want it truncated naming the %s stream", tc.name, err, tc.format)
			}
			if xs := exchanges(cut); len(xs) == 0 || xs[0].Request.URL != "/a" {
				t.Fatalf("cut %s capture lost the exchanges before the cut: %v", tc.name, xs)
			}
		})
	}
	if _, _, err := readAll(t, zst.Bytes()[:10]); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "zstd stream") {
		t.Fatalf("zstd capture cut in its first block: %v", err)
	}
	// Rotated compressed files given out of order import in time order.
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "b.pcap.gz"), filepath.Join(dir, "a.pcap")}
	later := simpleConvo()
	for i := range later.pkts {
		later.pkts[i].Timestamp = later.pkts[i].Timestamp.Add(time.Hour)
	}
	var gzLater bytes.Buffer
	zw = gzip.NewWriter(&gzLater)
	zw.Write(writePcap(t, later.pkts))
	zw.Close()
	os.WriteFile(paths[0], gzLater.Bytes(), 0o600)
	os.WriteFile(paths[1], plain, 0o600)
	files, err := OpenCaptureFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if files[0].Path != paths[1] || !files[1].First.After(files[0].First) {
		t.Fatalf("files ordered %s, %s", files[0].Path, files[1].Path)
	}
}

// pcapng's if_tsresol and if_tsoffset: decimal and power-of-two
// resolutions, the offset added to every one of them.
func TestPcapngTimestampResolution(t *testing.T) {
	le := binary.LittleEndian
	opt := func(code uint16, v []byte) []byte {
		b := make([]byte, 4, 4+len(v)+3)
		le.PutUint16(b, code)
		le.PutUint16(b[2:], uint16(len(v)))
		b = append(b, v...)
		return append(b, make([]byte, (4-len(v)%4)%4)...)
	}
	offset := make([]byte, 8)
	le.PutUint64(offset, 100)
	for _, tc := range []struct {
		resol byte
		ticks uint64
		want  time.Time
	}{
		{6, 5_000_001, time.Unix(105, 1000)},                 // microseconds (the default)
		{9, 5_000_000_001, time.Unix(105, 1)},                // nanoseconds
		{0x80, 5, time.Unix(105, 0)},                         // 2^0: whole seconds
		{0x8a, 5*1024 + 512, time.Unix(105, 5e8)},            // 2^10 per second
		{12, 5_000_000_000_123, time.Unix(105, 0)},           // picoseconds: below a ns
		{19, 5_000_000_000_000_000_000, time.Unix(100, 5e8)}, // 10^19 per second
	} {
		g := &ngReader{order: le}
		ifc := ngInterface{perSec: 1e6}
		g.parseIfaceOptions(&ifc, append(opt(9, []byte{tc.resol}), opt(14, offset)...))
		if got := ifc.time(tc.ticks); !got.Equal(tc.want) {
			t.Errorf("if_tsresol %#x, %d ticks: %v, want %v", tc.resol, tc.ticks, got.UTC(), tc.want.UTC())
		}
	}
}
