package capture_test

import (
	"context"
	"fmt"
	"log"

	"github.com/reprise/reprise/internal/capture"
	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

// Import a capture file into records: one HTTP exchange, then a WebSocket
// connection whose server messages were permessage-deflate compressed.
func ExampleProcessor() {
	files, err := capture.OpenCaptureFiles([]string{"testdata/pcap/sv_websocket_permessage_deflate.pcap"})
	if err != nil {
		log.Fatal(err)
	}
	defer files[0].Close()
	sink := &traffictest.Sink{}
	p := capture.NewProcessor(sink, capture.Config{})
	ctx := context.Background()
	if err := files[0].Read(ctx, p); err != nil {
		log.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	for _, r := range sink.Records()[:3] {
		switch r.Kind {
		case traffic.KindWSOpen:
			fmt.Println("open", r.WSOpen.Upgrade.Request.URL, r.WSOpen.Upgrade.Response.Status, r.WSOpen.Extensions)
		case traffic.KindWSMessage:
			m := r.WSMessage
			fmt.Printf("message from client=%v compressed=%v %q\n", m.FromClient, m.Compressed, m.Payload)
		}
	}
	fmt.Println(p.Stats().WSMessages, "messages")
	// Output:
	// open /toggle 101 permessage-deflate; client_max_window_bits=15
	// message from client=false compressed=true "KEY=07cb9559eff21e3e34f3bbd18240bac3"
	// message from client=false compressed=true "TOGGLE=2d80b22edb3afc"
	// 10 messages
}
