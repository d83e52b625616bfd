package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// variedRecords adds to happyLike the shapes it lacks: exchanges without a
// response, with header fields on one side only, with strings longer than
// the intern table keeps and with lengths that take several bytes, many
// distinct values that push each other out of the table, notes, interim
// responses, and WebSocket opens and closes.
func variedRecords(n int) []traffic.Record {
	out := happyLike(n)
	long := strings.Repeat("x", maxInterned+1)
	for i := range n / 4 {
		x := &traffic.Exchange{Flow: fmt.Sprintf("flow-%d", i%300), ConnID: uint64(i), Start: time.Duration(i),
			Request: traffic.Request{Method: "GET", URL: fmt.Sprintf("/v1/kv/%d?pad=%s", i, strings.Repeat("p", i%200))}}
		switch i % 6 {
		case 0: // no response
			x.Flags = traffic.FlagNoResponse
			x.Request.Header = traffic.Fields{{Name: "Authorization", Value: "Bearer " + long}}
		case 1: // response header fields only
			x.Response = &traffic.Response{Status: 204, Header: traffic.Fields{{Name: "X-Id", Value: fmt.Sprint(i)}, {Name: "X-Long", Value: long}}}
		case 2: // request header fields only, response without
			x.Request.Header = traffic.Fields{{Name: "Accept", Value: "*/*"}, {Name: fmt.Sprintf("X-Name-%d", i), Value: strings.Repeat("v", 100+i%100)}}
			x.Response = &traffic.Response{Status: 200, Reason: "OK", Interim: []int{100, 103}}
		case 3: // neither
			x.Response = &traffic.Response{Status: 500, Body: traffic.Body{Data: []byte("boom"), Size: -1}}
			x.Notes = map[string]string{"comment": fmt.Sprint(i), "initiator": "fetch"}
			x.Error = "upstream: connection reset"
		case 4:
			out = append(out, traffic.Record{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: x.Flow, ConnID: x.ConnID, Subprotocol: "v1",
				Upgrade: traffic.Exchange{Flow: x.Flow, Request: traffic.Request{Method: "GET", URL: "/ws", Header: traffic.Fields{{Name: "Upgrade", Value: "websocket"}}},
					Response: &traffic.Response{Status: 101, Header: traffic.Fields{{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"}}}}}})
			continue
		case 5:
			out = append(out, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: x.Flow, ConnID: x.ConnID, Code: 1000 + i%20, Reason: fmt.Sprint("bye ", i%7)}})
			continue
		}
		out = append(out, traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	}
	return out
}

// TestReaderRecordsMatch checks that a Reader, interning strings across
// records, gives back every record as written, and each header field list
// capped at its own length.
func TestReaderRecordsMatch(t *testing.T) {
	recs := variedRecords(6000)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, traffic.Header{}, WithBlockSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, recs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != len(recs) {
		t.Fatalf("read %d records, wrote %d", len(got), len(recs))
	}
	for i := range recs {
		if want := recs[i]; !reflect.DeepEqual(got[i], want) {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, got[i], want)
		}
		// Decoding on its own, without the Reader's state, gives the same.
		enc, _ := appendRecord(nil, recs[i])
		alone, _, err := decodeRecord(enc)
		if err != nil || !reflect.DeepEqual(got[i], alone) {
			t.Fatalf("record %d decoded alone differs (%v)", i, err)
		}
		var x *traffic.Exchange
		switch got[i].Kind {
		case traffic.KindExchange:
			x = got[i].Exchange
		case traffic.KindWSOpen:
			x = &got[i].WSOpen.Upgrade
		default:
			continue
		}
		if h := x.Request.Header; cap(h) != len(h) {
			t.Fatalf("record %d: request header fields len %d cap %d", i, len(h), cap(h))
		}
		if x.Response != nil {
			if h := x.Response.Header; cap(h) != len(h) {
				t.Fatalf("record %d: response header fields len %d cap %d", i, len(h), cap(h))
			}
		}
	}
}

// TestHeaderFieldsIndependent checks that the request's and the response's
// header fields, which share one allocation, do not step on each other.
func TestHeaderFieldsIndependent(t *testing.T) {
	rec := sampleRecords(1)[0]
	enc, _ := appendRecord(nil, rec)
	got, _, err := decodeWith(enc, newDecState())
	if err != nil {
		t.Fatal(err)
	}
	q, p := &got.Exchange.Request, got.Exchange.Response
	wantResp := p.Header.Clone()
	q.Header = append(q.Header, traffic.Field{Name: "X-Added", Value: "1"})
	q.Header[0].Value = "changed"
	if !reflect.DeepEqual(p.Header, wantResp) {
		t.Fatalf("response header fields changed: %+v", p.Header)
	}
	p.Header = append(p.Header, traffic.Field{Name: "X-Added", Value: "2"})
	if q.Header[len(q.Header)-1].Value != "1" {
		t.Fatalf("request header fields changed: %+v", q.Header)
	}
}

// TestInternCollisions checks that strings sharing a set of the intern
// table (same length, start, middle and end) come back as they were.
func TestInternCollisions(t *testing.T) {
	st := newDecState()
	// Strings that differ only between the bytes the set is picked from:
	// all in one set.
	same := func(i int) string {
		b := []byte(strings.Repeat("m", 41))
		copy(b, "Bearer a")
		copy(b[33:], "tail-end")
		copy(b[9:], fmt.Sprintf("%03d", i))
		copy(b[26:], fmt.Sprintf("%03d", 7*i))
		return string(b)
	}
	var strs []string
	for i := range 50 {
		s := same(i)
		if internSet([]byte(s)) != internSet([]byte(same(0))) {
			t.Fatalf("%q and %q are in different sets", s, same(0))
		}
		strs = append(strs, s)
	}
	strs = append(strs, "a", "ab", "abc", "abcd", "abcde", "GET", "HTTP/1.1", "")
	for round := range 3 {
		for _, s := range strs {
			if got := st.intern([]byte(s)); got != s {
				t.Fatalf("round %d: intern(%q) = %q", round, s, got)
			}
		}
	}
	if s := strings.Repeat("y", maxInterned+1); st.intern([]byte(s)) != s {
		t.Fatal("long string")
	}
}

func TestReadN(t *testing.T) {
	const big = 5 << 20 // past readN's 4 MiB step
	src := bytes.Repeat([]byte("0123456789"), big/10+1)
	buf := make([]byte, 10)
	got, err := readN(bytes.NewReader(src), 8, buf)
	if err != nil || string(got) != "01234567" || &got[0] != &buf[0] {
		t.Fatalf("small read: %q %v, reused %v", got, err, &got[0] == &buf[0])
	}
	got, err = readN(iotest.HalfReader(bytes.NewReader(src)), big, got)
	if err != nil || !bytes.Equal(got, src[:big]) {
		t.Fatalf("big read: %d bytes, %v", len(got), err)
	}
	again, err := readN(bytes.NewReader(src[3:]), big, got)
	if err != nil || !bytes.Equal(again, src[3:3+big]) || &again[0] != &got[0] {
		t.Fatalf("big read into a big buffer: %d bytes, %v", len(again), err)
	}
	for _, n := range []int{100, big} {
		for _, have := range []int{0, 40} {
			got, err := readN(bytes.NewReader(src[:have]), n, nil)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !(have == 0 && err == io.EOF) || len(got) != have {
				t.Fatalf("cut read of %d with %d bytes: %d bytes, %v", n, have, len(got), err)
			}
		}
	}
}

// TestInternAllocs checks that decoding with a Reader's state does not
// allocate for strings that repeat.
func TestInternAllocs(t *testing.T) {
	rec := sampleRecords(1)[0]
	enc, _ := appendRecord(nil, rec)
	st := newDecState()
	decodeWith(enc, st)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := decodeWith(enc, st); err != nil {
			t.Fatal(err)
		}
	})
	// The exchange with its response, the header fields, the notes map
	// (two) and the interim statuses: strings come from the table.
	if allocs > 5 {
		t.Fatalf("%v allocations per exchange, want at most 5", allocs)
	}
}
