package har

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// FuzzImport feeds arbitrary bytes to the reader and importer: no panic,
// no hang, and whatever imports survives export and re-import unchanged
// (decode -> encode -> decode is stable).
func FuzzImport(f *testing.F) {
	for _, name := range []string{"testdata/mitmproxy_websocket.har", "testdata/playwright_unstable_network.har", "testdata/mitmproxy_with_bom.har"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(harOf(entry(), entry("response", `{"status":0}`))))
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2024-01-01T00:00:00Z","request":{"method":"GET","url":"ws://h/"},"response":{"status":101},"_webSocketMessages":[{"type":"send","time":1704067200.5,"opcode":2,"data":"AAE="}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		opts := Options{MaxEntry: 1 << 20, MaxBody: 1 << 16}
		var first []traffic.Record
		rep, err := Import(context.Background(), []Input{BytesInput("f.har", data)}, opts, func(traffic.Header) (traffic.Sink, error) {
			return sinkFunc(func(r traffic.Record) { first = append(first, r) }), nil
		})
		if err != nil {
			return
		}
		for i := 1; i < len(first); i++ {
			if first[i].Start() < first[i-1].Start() {
				t.Fatalf("record %d starts before record %d", i, i-1)
			}
		}
		var buf bytes.Buffer
		if _, err := Export(context.Background(), traffic.SliceSource(first), rep.Header, &buf, ExportOptions{}); err != nil {
			t.Fatalf("export of imported records: %v", err)
		}
		var second []traffic.Record
		rep2, err := Import(context.Background(), []Input{BytesInput("f.har", buf.Bytes())}, opts, func(traffic.Header) (traffic.Sink, error) {
			return sinkFunc(func(r traffic.Record) { second = append(second, r) }), nil
		})
		if err != nil {
			t.Fatalf("re-import of export: %v\n%s", err, buf.Bytes())
		}
		if len(rep2.Skipped) > 0 {
			t.Fatalf("re-import skipped %v\n%s", rep2.Skipped, buf.Bytes())
		}
		a, b := normalize(traffic.Collect(first)), normalize(traffic.Collect(second))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("export/re-import changed the records:\n%+v\n%+v\n%s", a, b, buf.Bytes())
		}
	})
}
