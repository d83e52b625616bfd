package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/benchcorpus"
	"github.com/reprise/reprise/internal/traffic"
)

// happyLike makes n records shaped like Happy API traffic: JSON bodies with
// random ids, bearer tokens, a few hundred bytes each, and WebSocket pushes.
func happyLike(n int) []traffic.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	hex := func(k int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, k)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	out := make([]traffic.Record, 0, n)
	at := time.Duration(0)
	for i := 0; i < n; i++ {
		at += time.Duration(rng.IntN(20)) * time.Millisecond
		user := fmt.Sprintf("user-%d", rng.IntN(8))
		if i%10 == 9 {
			out = append(out, traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{
				Flow: user, ConnID: uint64(rng.IntN(8)), Start: at, Opcode: traffic.OpText, Frames: 1,
				Payload: fmt.Appendf(nil, `{"type":"update","payload":{"id":"%s","seq":%d,"body":{"t":"new-message","sid":"%s"},"createdAt":%d},"timestamp":%d,"messageId":"%s"}`,
					hex(32), i, hex(32), 1764000000000+i, 1764000000000+i, hex(16)),
			}})
			continue
		}
		sid := hex(32)
		resp := fmt.Appendf(nil, `{"session":{"id":"%s","tag":"tag-%d","seq":%d,"metadata":"%s","active":true,"createdAt":%d,"updatedAt":%d}}`,
			sid, rng.IntN(1000), i, hex(64), 1764000000000+i, 1764000000000+i)
		out = append(out, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
			Flow: user, ConnID: uint64(rng.IntN(40)), Start: at,
			Request: traffic.Request{Method: "POST", URL: "/v1/sessions/" + sid + "/messages", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1",
				Header: traffic.Fields{{Name: "Authorization", Value: "Bearer " + hex(40)}, {Name: "Content-Type", Value: "application/json"}, {Name: "User-Agent", Value: "happy-app/1.4"}},
				Body:   traffic.Body{Data: fmt.Appendf(nil, `{"localId":"%s","content":{"t":"text","text":"hello %d"}}`, hex(16), i), Size: 60}},
			Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Request-ID", Value: hex(32)}, {Name: "X-Response-Time", Value: fmt.Sprintf("%dms", rng.IntN(50))}},
				Body:   traffic.Body{Data: resp, Size: int64(len(resp))}},
			Timing: traffic.Timing{Wait: time.Duration(rng.IntN(50)) * time.Millisecond, Total: time.Duration(rng.IntN(60)) * time.Millisecond},
		}})
	}
	return out
}

func rawSize(recs []traffic.Record) int64 {
	var n int64
	for _, r := range recs {
		b, _ := appendRecord(nil, r)
		n += int64(len(b))
	}
	return n
}

// BenchmarkWrite measures encoding and compression, in MB/s of raw records,
// and reports the corpus size against gzip -6 of the same raw records.
func BenchmarkWrite(b *testing.B) {
	recs := happyLike(20000)
	raw := rawSize(recs)
	b.SetBytes(raw)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, traffic.Header{})
		for _, r := range recs {
			if err := w.Write(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	var rawBuf bytes.Buffer
	for _, r := range recs {
		p, _ := appendRecord(nil, r)
		rawBuf.Write(p)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, 6)
	zw.Write(rawBuf.Bytes())
	zw.Close()
	b.ReportMetric(float64(size)/float64(raw), "corpus/raw")
	b.ReportMetric(float64(gz.Len())/float64(raw), "gzip6/raw")
}

// BenchmarkRead measures decompression and decoding, in MB/s of raw records.
func BenchmarkRead(b *testing.B) {
	recs := happyLike(20000)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, traffic.Header{})
	for _, r := range recs {
		w.Write(context.Background(), r)
	}
	w.Close()
	b.SetBytes(rawSize(recs))
	b.ReportAllocs()
	for b.Loop() {
		if n, _ := countAll(b, buf.Bytes()); n != len(recs) {
			b.Fatalf("read %d of %d", n, len(recs))
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGzipRead is the same decode through gzip, side by side.
func BenchmarkGzipRead(b *testing.B) {
	recs := happyLike(20000)
	var rawBuf bytes.Buffer
	for _, r := range recs {
		p, _ := appendRecord(nil, r)
		rawBuf.Write(p)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, 6)
	zw.Write(rawBuf.Bytes())
	zw.Close()
	b.SetBytes(int64(rawBuf.Len()))
	for b.Loop() {
		zr, _ := gzip.NewReader(bytes.NewReader(gz.Bytes()))
		raw, _ := io.ReadAll(zr)
		st := newDecState()
		for len(raw) > 0 {
			_, n, err := decodeWith(raw, st)
			if err != nil {
				b.Fatal(err)
			}
			raw = raw[n:]
		}
	}
}

var genCorpus struct {
	once sync.Once
	data []byte
	err  error
}

// generatedCorpus returns a corpus made by bench/gencorpus (20,000 requests
// of 100 users, a fifth of them on WebSocket): records with per-user bearer
// tokens, JSON bodies and 8 or 9 header lines, as a recorder writes them.
// $REPRISE_BENCH_CORPUS names a corpus file to read instead.
func generatedCorpus(b *testing.B) []byte {
	b.Helper()
	path := os.Getenv("REPRISE_BENCH_CORPUS")
	if path == "" {
		path = benchcorpus.Path(b, "-requests", "20000", "-ws", "0.2")
	}
	genCorpus.once.Do(func() { genCorpus.data, genCorpus.err = os.ReadFile(path) })
	if genCorpus.err != nil {
		b.Fatal(genCorpus.err)
	}
	return genCorpus.data
}

// countAll reads every record of data and returns how many and the raw size.
func countAll(b *testing.B, data []byte) (int, int64) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n, r.Stats().RawBytes
}

// BenchmarkReadGenerated measures reading a corpus made by bench/gencorpus,
// in MB/s of raw records: what a replay's survey and replay passes do.
func BenchmarkReadGenerated(b *testing.B) {
	data := generatedCorpus(b)
	want, raw := countAll(b, data)
	b.SetBytes(raw)
	b.ReportAllocs()
	for b.Loop() {
		if n, _ := countAll(b, data); n != want {
			b.Fatalf("read %d of %d", n, want)
		}
	}
	b.ReportMetric(float64(want)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeGenerated measures decoding alone (no decompression) of
// the records of the generated corpus, in MB/s of raw records, with a
// Reader's decoder state.
func BenchmarkDecodeGenerated(b *testing.B) {
	r, err := NewReader(bytes.NewReader(generatedCorpus(b)))
	if err != nil {
		b.Fatal(err)
	}
	recs, err := traffic.ReadAll(context.Background(), r)
	if err != nil {
		b.Fatal(err)
	}
	var raw []byte
	for _, rec := range recs {
		if raw, err = appendRecord(raw, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		st := newDecState()
		for p := raw; len(p) > 0; {
			_, n, err := decodeWith(p, st)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchcorpus.Cleanup()
	os.Exit(code)
}
