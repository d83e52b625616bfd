package engine

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/reprise/reprise/internal/traffic"
)

// A push that reaches the socket before its mutation's response is timed
// from that mutation, not from an older one sharing a user id.
func TestPushDeliveryMatchesItsMutation(t *testing.T) {
	var mu sync.Mutex
	var sock *websocket.Conn
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			mu.Lock()
			c.WriteMessage(websocket.TextMessage, []byte(`{"event":"connected","data":{"userId":"user-0000001"}}`))
			sock = c
			mu.Unlock()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}
		id := strings.TrimPrefix(r.URL.Path, "/msgs/")
		mu.Lock()
		if sock != nil {
			// The push goes out before the response, as real servers do.
			sock.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"update","payload":{"user":"user-0000001","msg":%q}}`, id)))
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		fmt.Fprintf(w, `{"user":"user-0000001","id":%q}`, id)
	}))
	defer srv.Close()
	ms := time.Millisecond
	recs := []traffic.Record{{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 1, Start: 0,
		Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/ws"}, Response: &traffic.Response{Status: 101}}}}}
	for i := 0; i < 10; i++ {
		recs = append(recs, traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Flow: "u", Start: time.Duration(50+100*i) * ms,
			Request: traffic.Request{Method: "POST", URL: fmt.Sprintf("/msgs/message-%04d", i)}, Response: &traffic.Response{Status: 200}}})
	}
	recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{Flow: "u", ConnID: 1, Start: 1200 * ms, FromClient: true, Code: 1000}})
	_, col := runRecords(t, Config{Target: mustURL(srv.URL), Profile: testProfile{}}, recs, 1)
	pushes := col.byKind(traffic.ResultWSPush)
	if len(pushes) != 10 {
		t.Fatalf("%d pushes timed, want 10", len(pushes))
	}
	for _, p := range pushes {
		if p.Latency > 50*ms {
			t.Errorf("push timed at %v: matched to the wrong mutation", p.Latency)
		}
	}
}
