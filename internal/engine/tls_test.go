package engine

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// https:// targets speak HTTP/2 when the server offers it, HTTP/1.1 with
// HTTP1, and a certificate that does not verify is a "tls" failure unless
// Insecure.
func TestHTTPSTargets(t *testing.T) {
	var mu sync.Mutex
	var protos []int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.ProtoMajor)
		mu.Unlock()
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	recs := []traffic.Record{exchange("a", 0, "GET", "/", 200), exchange("a", 1, "GET", "/", 200)}
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantProto int
		wantErr   string
	}{
		{"self-signed refused by default", Config{}, 0, ErrTLS},
		{"http2 when offered", Config{Insecure: true}, 2, ""},
		{"http1 forced", Config{Insecure: true, HTTP1: true}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			protos = nil
			mu.Unlock()
			tc.cfg.Target = mustURL(srv.URL)
			_, col := runRecords(t, tc.cfg, recs, 1)
			for _, r := range col.byKind(traffic.ResultHTTP) {
				if r.Error != tc.wantErr {
					t.Fatalf("result %+v, want error %q", r, tc.wantErr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantProto == 0 {
				if len(protos) != 0 {
					t.Fatalf("server saw %d requests over an unverified certificate", len(protos))
				}
				return
			}
			if len(protos) != 2 || protos[0] != tc.wantProto || protos[1] != tc.wantProto {
				t.Fatalf("server saw protocols %v, want HTTP/%d", protos, tc.wantProto)
			}
		})
	}
}
