package corpus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// fuzzState is a Reader's decoder state carried from one input to the
// next, so that inputs meet strings interned by earlier ones.
var fuzzState struct {
	sync.Mutex
	st *decState
}

// FuzzDecodeRecord checks that any bytes decode without panic, the same
// with a Reader's decoder state as without, and that a record that decodes
// re-encodes to bytes that decode to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords(6) {
		b, _ := appendRecord(nil, r)
		f.Add(b)
	}
	fuzzState.st = newDecState()
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, n, err := decodeRecord(data)
		fuzzState.Lock()
		withState, n2, err2 := decodeWith(data, fuzzState.st)
		fuzzState.Unlock()
		if n != n2 || fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(rec, withState) {
			t.Fatalf("decoding with state differs: n=%d/%d err=%v/%v\n%+v\n%+v", n, n2, err, err2, rec, withState)
		}
		if err != nil {
			return
		}
		enc, err := appendRecord(nil, rec)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, n, err := decodeRecord(enc)
		if err != nil || n != len(enc) {
			t.Fatalf("decode of re-encoded record: n=%d err=%v", n, err)
		}
		if !reflect.DeepEqual(normalize(rec), normalize(again)) {
			t.Fatalf("unstable round trip:\n%+v\n%+v", rec, again)
		}
	})
}

// normalize maps empty and nil slices and maps together: the encoding does
// not tell them apart.
func normalize(r traffic.Record) traffic.Record {
	enc, _ := appendRecord(nil, r)
	out, _, _ := decodeRecord(enc)
	return out
}

// FuzzReader feeds whole files to the reader: no panic, no hang, and every
// failure is one of the documented errors or a cut tail.
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, traffic.Header{Source: "fuzz"}, WithBlockSize(1024))
	for _, r := range sampleRecords(20) {
		w.Write(context.Background(), r)
	}
	w.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:len(buf.Bytes())/2])
	f.Add([]byte{})
	f.Add([]byte("REPRISE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		for i := 0; ; i++ {
			_, err := r.Next(context.Background())
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("undocumented error: %v", err)
				}
				return
			}
			if i > len(data) {
				t.Fatal("more records than bytes")
			}
		}
	})
}
