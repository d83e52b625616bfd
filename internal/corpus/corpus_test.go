package corpus

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func sampleRecords(n int) []traffic.Record {
	var out []traffic.Record
	for i := 0; i < n; i++ {
		start := time.Duration(i) * time.Millisecond
		switch i % 5 {
		case 3:
			out = append(out, traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{
				Flow: "user-1", ConnID: uint64(i), Start: start, Extensions: "permessage-deflate",
				Upgrade: traffic.Exchange{Flow: "user-1", Start: start, Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=x", Header: traffic.Fields{{Name: "Upgrade", Value: "websocket"}}},
					Response: &traffic.Response{Status: 101, Reason: "Switching Protocols"}},
			}})
		case 4:
			out = append(out, traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{
				Flow: "user-1", ConnID: uint64(i - 1), Start: start, FromClient: i%2 == 0, Opcode: traffic.OpText,
				Payload: []byte(`{"event":"ping"}`), Size: 16, Frames: 1,
			}})
		default:
			out = append(out, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
				Flow: "user-" + string(rune('a'+i%3)), ConnID: uint64(i % 7), Start: start,
				Request: traffic.Request{Method: "POST", URL: "/v1/sessions", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1",
					Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Authorization", Value: "Bearer t"}},
					Body:   traffic.Body{Data: []byte(`{"tag":"t1","metadata":"m"}`), Size: 27}},
				Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
					Body: traffic.Body{Data: bytes.Repeat([]byte(`{"session":{"id":"abc"}}`), 1+i%4), Size: int64(24 * (1 + i%4))}, Interim: []int{100}},
				Timing: traffic.Timing{Wait: 3 * time.Millisecond, Total: 4 * time.Millisecond},
				Notes:  map[string]string{"k": "v"},
			}})
		}
	}
	out = append(out, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "user-1", ConnID: 3, Start: time.Duration(n) * time.Millisecond, Code: 1000, Reason: "bye"}})
	return out
}

func writeAll(t testing.TB, w *Writer, recs []traffic.Record) {
	t.Helper()
	for _, r := range recs {
		if err := w.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t testing.TB, r *Reader) []traffic.Record {
	t.Helper()
	got, err := traffic.ReadAll(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	h := traffic.Header{Source: "test", Origin: "http://localhost:8787", Redactions: []string{"header:authorization"}, Meta: map[string]string{"cmd": "x"}}
	w, err := NewWriter(&buf, h, WithBlockSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	recs := sampleRecords(500)
	writeAll(t, w, recs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header(); got.Source != "test" || got.Origin != h.Origin || got.Version != traffic.FormatVersion || !reflect.DeepEqual(got.Redactions, h.Redactions) {
		t.Fatalf("header = %+v", got)
	}
	got := readAll(t, r)
	if len(got) != len(recs) {
		t.Fatalf("read %d records, wrote %d", len(got), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(got[i], recs[i]) {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
	st := r.Stats()
	if !st.Indexed || st.Truncated || st.Blocks < 2 {
		t.Fatalf("stats = %+v, want indexed, several blocks", st)
	}
	idx, counts, ok := r.Index()
	if !ok || len(idx) != st.Blocks || counts.Records != int64(len(recs)) || counts.Exchanges != 300 {
		t.Fatalf("index: %d blocks, counts %+v", len(idx), counts)
	}
}

func TestReorderWindow(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, traffic.Header{}, WithReorderWindow(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ex := func(ms int) traffic.Record {
		return traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Start: time.Duration(ms) * time.Millisecond, Request: traffic.Request{Method: "GET", URL: "/"}}}
	}
	// Completion order: 20 finishes before 10; 5 arrives after 300 was
	// seen and 150 released, so it is late.
	for _, ms := range []int{20, 10, 30, 300, 5, 310} {
		writeAll(t, w, []traffic.Record{ex(ms)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ := NewReader(&buf)
	var starts []int
	var late []bool
	for _, rec := range readAll(t, r) {
		starts = append(starts, int(rec.Exchange.Start/time.Millisecond))
		late = append(late, rec.Exchange.Has(traffic.FlagLate))
	}
	if want := []int{10, 20, 30, 5, 300, 310}; !reflect.DeepEqual(starts, want) {
		t.Fatalf("order = %v, want %v", starts, want)
	}
	if want := []bool{false, false, false, true, false, false}; !reflect.DeepEqual(late, want) {
		t.Fatalf("late = %v, want %v", late, want)
	}
	if w.Stats().Late != 1 {
		t.Fatalf("late count = %d", w.Stats().Late)
	}
}

func TestCreateRenamesAndProtects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.rpz")
	w, err := Create(path, traffic.Header{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + PartialSuffix); err != nil {
		t.Fatalf("partial file missing while writing: %v", err)
	}
	writeAll(t, w, sampleRecords(10))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + PartialSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial file left behind: %v", err)
	}
	if _, err := Create(path, traffic.Header{}); err == nil {
		t.Fatal("Create overwrote an existing corpus")
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.ClosedCleanly() {
		t.Fatal("a closed corpus does not say so")
	}
	data, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.rpz")
	os.WriteFile(cut, data[:len(data)-20], 0o600)
	rc, err := Open(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if rc.ClosedCleanly() {
		t.Fatal("a corpus without its index says it was closed")
	}
}

// A recorder killed mid-run leaves blocks but no index: the corpus reads to
// its last whole block and says it was cut.
func TestTruncatedTail(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, traffic.Header{}, WithBlockSize(2048))
	recs := sampleRecords(200)
	writeAll(t, w, recs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	r, _ := NewReader(bytes.NewReader(full))
	readAll(t, r)
	idx, _, _ := r.Index()
	if len(idx) < 3 {
		t.Fatalf("want several blocks, got %d", len(idx))
	}
	for _, tc := range []struct {
		name  string
		cut   int
		wantN int
	}{
		{"index removed", int(idx[len(idx)-1].Offset) + idx[len(idx)-1].Size, len(recs)},
		{"mid block", int(idx[2].Offset) + 20, idx[0].Records + idx[1].Records},
		{"mid descriptor", int(idx[1].Offset) + 11, idx[0].Records},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(full[:tc.cut]))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r)
			if len(got) != tc.wantN {
				t.Fatalf("read %d records, want %d", len(got), tc.wantN)
			}
			if st := r.Stats(); !st.Truncated || st.Indexed {
				t.Fatalf("stats = %+v, want truncated", st)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, traffic.Header{}, WithBlockSize(2048))
	writeAll(t, w, sampleRecords(50))
	w.Close()
	good := buf.Bytes()
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0xff

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"text", []byte("hello, this is not a corpus at all\n"), ErrBadMagic},
		{"short", good[:5], ErrBadMagic},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, ErrBadMagic},
		{"flipped byte", flip, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data))
			if err == nil {
				_, err = traffic.ReadAll(context.Background(), r)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFlushMakesRecordsReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.rpz")
	w, err := Create(path, traffic.Header{}, WithFlushInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeAll(t, w, sampleRecords(30))
	deadline := time.Now().Add(2 * time.Second)
	for {
		f, _ := os.Open(path + PartialSuffix)
		r, err := NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := traffic.ReadAll(context.Background(), r)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 31 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2s only %d of 31 records readable", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteErrorSurfaces(t *testing.T) {
	out := &failAfter{n: 3000, err: errors.New("no space left on device")}
	w, err := NewWriter(out, traffic.Header{}, WithBlockSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, r := range sampleRecords(400) {
		if werr = w.Write(context.Background(), r); werr != nil {
			break
		}
	}
	cerr := w.Close()
	if werr == nil && cerr == nil {
		t.Fatal("a failing disk went unreported")
	}
	st := w.Stats()
	if st.Lost == 0 || st.OnDisk+st.Lost != st.Records {
		t.Fatalf("records %d = on disk %d + lost %d does not hold", st.Records, st.OnDisk, st.Lost)
	}
}

func TestIsCorpus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rpz")
	w, err := Create(good, traffic.Header{Origin: "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	json := filepath.Join(dir, "results.json")
	os.WriteFile(json, []byte(`{"overall":{}}`), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("REPRISE"), 0o600)
	for path, want := range map[string]bool{good: true, json: false, short: false, filepath.Join(dir, "missing"): false} {
		if got := IsCorpus(path); got != want {
			t.Errorf("IsCorpus(%s) = %v, want %v", filepath.Base(path), got, want)
		}
	}
}
