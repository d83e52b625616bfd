package proxy

import (
	"reflect"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// parseStream feeds stream to a fresh frame parser in chunks of size
// chunk and returns the records it produced and its failure text.
func parseStream(t testing.TB, stream []byte, chunk int, fromClient, deflate bool) ([]traffic.Record, string) {
	p := newTestProxy(t)
	p.cfg.MaxBody = 64
	tap := &wsTap{x: &exchangeState{p: p, conn: &connInfo{id: 1}, flow: "f"}}
	fp := &frameParser{tap: tap, fromClient: fromClient, deflate: deflate}
	for len(stream) > 0 {
		n := min(len(stream), chunk)
		fp.feed(stream[:n], 5)
		stream = stream[n:]
	}
	p.Close()
	return p.cfg.Sink.(*recordingSink).records, fp.failure()
}

// FuzzFrameParser checks the WebSocket frame parser on arbitrary streams:
// it never panics, and the records it produces do not depend on how the
// stream is split into reads.
func FuzzFrameParser(f *testing.F) {
	seeds := [][]byte{
		frame(true, false, traffic.OpText, []byte("hello"), true),
		append(frame(false, false, traffic.OpBinary, []byte{1, 2}, false), frame(true, false, traffic.OpContinuation, []byte{3}, false)...),
		frame(true, false, traffic.OpPing, []byte("p"), true),
		frame(true, false, traffic.OpClose, []byte{0x03, 0xe8, 'o', 'k'}, false),
		frame(true, true, traffic.OpText, deflateMessages(f, []string{"compressed text compressed text"})[0], false),
		frame(true, false, traffic.OpText, make([]byte, 300), true),
		{0x81, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1},
		{0x8f, 0x00},
	}
	for _, s := range seeds {
		f.Add(s, uint8(3), true)
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, deflate bool) {
		if len(stream) > 1<<16 {
			return
		}
		whole, fail1 := parseStream(t, stream, len(stream)+1, false, deflate)
		split, fail2 := parseStream(t, stream, int(chunk%16)+1, false, deflate)
		if fail1 != fail2 {
			t.Fatalf("failure depends on chunking: %q vs %q", fail1, fail2)
		}
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("records depend on chunking:\n%+v\n%+v", whole, split)
		}
		for _, r := range whole {
			m := r.WSMessage
			limit := 64
			if m.Opcode.IsControl() {
				limit = 125 // control payloads are small by protocol and kept whole
			}
			if len(m.Payload) > limit || (!m.Truncated && m.Size != int64(len(m.Payload))) {
				t.Fatalf("message breaks the cap or its size: %d bytes, size %d, truncated %v", len(m.Payload), m.Size, m.Truncated)
			}
		}
	})
}
