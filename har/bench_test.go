package har

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// synthReader generates a HAR of n entries on the fly, without holding it:
// JSON API calls with ~1 KiB bodies and, every 100th entry, a WebSocket
// with 10 messages.
type synthReader struct {
	n, i  int
	buf   bytes.Buffer
	state int
}

var synthBody = bytes.Repeat([]byte(`{\"id\":\"abcdef\",\"v\":12345}`), 40)

func newSynth(n int) *synthReader { return &synthReader{n: n} }

func (s *synthReader) fill() {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	switch {
	case s.state == 0:
		s.buf.WriteString(`{"log":{"version":"1.2","creator":{"name":"synth","version":"1"},"entries":[`)
		s.state = 1
	case s.i < s.n:
		if s.i > 0 {
			s.buf.WriteString(",\n")
		}
		t := base.Add(time.Duration(s.i) * time.Millisecond).Format(time.RFC3339Nano)
		if s.i%100 == 99 {
			fmt.Fprintf(&s.buf, `{"startedDateTime":%q,"time":1000,"request":{"method":"GET","url":"wss://api.example.com/v1/updates","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Upgrade","value":"websocket"}],"queryString":[],"headersSize":-1,"bodySize":0},"response":{"status":101,"statusText":"Switching Protocols","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Upgrade","value":"websocket"}],"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{},"timings":{"send":0,"wait":1,"receive":0},"_resourceType":"websocket","_webSocketMessages":[`, t)
			for m := 0; m < 10; m++ {
				if m > 0 {
					s.buf.WriteByte(',')
				}
				fmt.Fprintf(&s.buf, `{"type":"%s","time":%d.%03d,"opcode":1,"data":"{\"event\":\"update\",\"seq\":%d}"}`, map[bool]string{true: "send", false: "receive"}[m%2 == 0], base.Unix()+int64(s.i/1000), s.i%1000, m)
			}
			s.buf.WriteString(`]}`)
		} else {
			fmt.Fprintf(&s.buf, `{"startedDateTime":%q,"time":12.345,"request":{"method":"POST","url":"https://api.example.com/v1/sessions/%d/messages?limit=10","httpVersion":"http/2.0","cookies":[],"headers":[{"name":"content-type","value":"application/json"},{"name":"authorization","value":"Bearer xyz"},{"name":"user-agent","value":"Mozilla/5.0"}],"queryString":[{"name":"limit","value":"10"}],"postData":{"mimeType":"application/json","text":"%s"},"headersSize":-1,"bodySize":%d},"response":{"status":200,"statusText":"","httpVersion":"http/2.0","cookies":[],"headers":[{"name":"content-type","value":"application/json"},{"name":"date","value":"Thu, 01 Jan 2026 00:00:00 GMT"}],"content":{"size":%d,"mimeType":"application/json","text":"%s"},"redirectURL":"","headersSize":-1,"bodySize":%d},"cache":{},"timings":{"blocked":0.5,"dns":-1,"connect":-1,"ssl":-1,"send":0.1,"wait":10.2,"receive":1.545},"pageref":"page_1","_priority":"High","_resourceType":"fetch","connection":"%d"}`,
				t, s.i, synthBody, len(synthBody)-40*2, len(synthBody)-40*2, synthBody, len(synthBody), 1000+s.i%6)
		}
		s.i++
	case s.state == 1:
		s.buf.WriteString("]}}\n")
		s.state = 2
	}
}

func (s *synthReader) Read(p []byte) (int, error) {
	for s.buf.Len() < len(p) && s.state != 2 {
		s.fill()
	}
	if s.buf.Len() == 0 {
		return 0, io.EOF
	}
	return s.buf.Read(p)
}

func synthInput(n int) Input {
	return Input{Name: "synth.har", Open: func() (io.ReadCloser, error) { return io.NopCloser(newSynth(n)), nil }}
}

// countSink counts records and keeps none.
type countSink struct{ n atomic.Int64 }

func (c *countSink) Write(context.Context, traffic.Record) error { c.n.Add(1); return nil }
func (c *countSink) Close() error                                { return nil }

func BenchmarkImport(b *testing.B) {
	const entries = 5000
	data, _ := io.ReadAll(newSynth(entries))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Import(context.Background(), []Input{BytesInput("synth.har", data)}, Options{}, func(traffic.Header) (traffic.Sink, error) { return &countSink{}, nil })
		if err != nil || rep.Entries != entries {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(entries*b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkReader(b *testing.B) {
	const entries = 5000
	data, _ := io.ReadAll(newSynth(entries))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != entries {
			b.Fatalf("%d entries", n)
		}
	}
	b.ReportMetric(float64(entries*b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkExport(b *testing.B) {
	_, recs := importInputs(b, Options{}, synthInput(5000))
	var buf bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if _, err := Export(context.Background(), traffic.SliceSource(recs), sampleHeader(), &buf, ExportOptions{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "entries/s")
}

// peakHeap samples the heap while f runs and returns its peak in bytes.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// TestImportMemoryBounded imports a HAR far larger than the heap it may
// use: the file is generated as it is read, so only the importer's own
// buffers count.
func TestImportMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const entries = 15000 // about 50 MB of HAR
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sink := &countSink{}
	var rep Report
	peak := peakHeap(func() {
		var err error
		rep, err = Import(context.Background(), []Input{synthInput(entries)}, Options{}, func(traffic.Header) (traffic.Sink, error) { return sink, nil })
		if err != nil {
			t.Error(err)
		}
	})
	if rep.Entries != entries || rep.WSConns != entries/100 || sink.n.Load() != int64(entries-entries/100+entries/100*12) {
		t.Errorf("report %s, %d records", rep.Summary(), sink.n.Load())
	}
	size, _ := io.Copy(io.Discard, newSynth(entries))
	grown := int64(peak) - int64(before.HeapAlloc)
	t.Logf("%d MB of HAR imported with the heap growing by at most %.1f MB", size>>20, float64(grown)/(1<<20))
	if grown > 32<<20 || grown > size/2 {
		t.Errorf("heap grew by %d MB importing %d MB: not streaming", grown>>20, size>>20)
	}
}
