package har_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/reprise/reprise/har"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

func ExampleImport() {
	sink := &traffictest.Sink{}
	rep, err := har.Import(context.Background(), []har.Input{har.FileInput("testdata/mitmproxy_websocket.har")}, har.Options{},
		func(h traffic.Header) (traffic.Sink, error) { return sink, nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Summary())
	// Output: read 3 entries from 1 file(s): 0 exchanges, 3 websocket connections (5 messages), 0 skipped
}

func ExampleExport() {
	rec := traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{
		Request: traffic.Request{Method: "GET", URL: "/v1/version", Host: "localhost:8787", Scheme: "http", Proto: "HTTP/1.1"},
		Response: &traffic.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body:   traffic.Body{Data: []byte(`{"version":"1.0"}`), Size: 17}},
	}}
	var out strings.Builder
	rep, err := har.Export(context.Background(), traffic.SliceSource([]traffic.Record{rec}), traffic.Header{}, &out, har.ExportOptions{Version: "example"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(rep.Summary())
	fmt.Println(strings.Contains(out.String(), `"url":"http://localhost:8787/v1/version"`))
	// Output:
	// wrote 1 entries: 1 exchanges, 0 websocket connections (0 messages)
	// true
}
