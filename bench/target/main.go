// Command target is the trivial JSON server that bench/peers.sh measures
// load generators against: every method and path gets 200 with the same
// small JSON body, the request body read and discarded. It listens on
// loopback only and prints its base URL on standard output once it
// accepts connections:
//
//	GOMAXPROCS=1 taskset -c 0 go run ./bench/target -listen 127.0.0.1:0
//	http://127.0.0.1:40123
//
// GOMAXPROCS in the environment bounds the cores it uses (the Go runtime
// reads it). It stops on SIGINT or SIGTERM and then prints how many
// requests it served.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// body is what every request gets.
const body = `{"ok":true,"id":"5b9f3c6a2e8d4f1a","status":"healthy"}` + "\n"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// handler answers every request with body and counts them in served.
type handler struct {
	served atomic.Int64
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	hd := w.Header()
	hd["Content-Type"] = []string{"application/json"}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
	h.served.Add(1)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `ADDR` to listen on (port 0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: target [-listen 127.0.0.1:PORT]\nAnswers every request with 200 and a small JSON body; prints its URL, then on SIGINT/SIGTERM the requests served.")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "target: %v (target -h lists the flags)\n", err)
		return 2
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "target: -listen %q: want HOST:PORT, e.g. 127.0.0.1:8080\n", *listen)
		return 2
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "target: -listen %q: only a loopback address is allowed (127.0.0.1, [::1] or localhost)\n", *listen)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "target: %v\n", err)
		return 1
	}
	h := &handler{}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		fmt.Fprintf(stderr, "target: %v\n", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	fmt.Fprintf(stderr, "target: served %d requests (GOMAXPROCS %d)\n", h.served.Load(), runtime.GOMAXPROCS(0))
	return 0
}
