package proxy_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/proxy"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// Example records traffic to a corpus in-process: a redacting sink over a
// corpus writer, the proxy on a loopback listener until interrupted, then
// Close before closing the sink.
func Example() {
	upstream, _ := url.Parse("http://127.0.0.1:8787")
	red, err := redact.New(redact.DefaultRules())
	if err != nil {
		panic(err)
	}
	origin := time.Now()
	clock := func() time.Duration { return time.Since(origin) }
	w, err := corpus.Create("dev.rpz", traffic.Header{
		Source: "proxy", Origin: upstream.String(), ClockOrigin: origin, Redactions: red.Rules(),
	}, corpus.WithFlushInterval(time.Second), corpus.WithReorderWindow(500*time.Millisecond), corpus.WithClock(clock))
	if err != nil {
		panic(err)
	}
	sink := redact.NewSink(w, red)
	p, err := proxy.New(proxy.Config{Upstream: upstream, Sink: sink, Clock: clock, HashIdentity: red.Hash})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := p.Serve(ctx, ln); err != nil { // returns once ctx ends and handlers are done
		panic(err)
	}
	p.Close()          // hand every queued record to the sink
	err = sink.Close() // flush and rename dev.rpz.partial to dev.rpz
	st := p.Stats()
	fmt.Println(st.Exchanges, st.WSConns, st.Lost, err)
}
