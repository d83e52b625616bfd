package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// upstream is a healthy server: plain requests get "hello from upstream
// PATH", /echo is a WebSocket echo server.
func upstream(t *testing.T) *url.URL {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo" {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				op, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if c.WriteMessage(op, msg) != nil {
					return
				}
			}
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello from upstream "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func start(t *testing.T, plan Plan) *Proxy {
	t.Helper()
	p, err := New(Config{Upstream: upstream(t), Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type outcome struct {
	status  int
	body    string
	err     error // from the round trip
	bodyErr error // from reading the body
	took    time.Duration
}

func do(client *http.Client, method, url string) outcome {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"some":"body"}`)
	}
	req, _ := http.NewRequest(method, url, body)
	start := time.Now()
	resp, err := client.Do(req)
	o := outcome{err: err}
	if err == nil {
		b, berr := io.ReadAll(resp.Body)
		resp.Body.Close()
		o.status, o.body, o.bodyErr = resp.StatusCode, string(b), berr
	}
	o.took = time.Since(start)
	return o
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Each HTTP fault strikes the requests of its rule and nothing else: the
// healthy requests around it on the same client still get the upstream's
// answer, and the proxy counts exactly what it injected.
func TestHTTPFaults(t *testing.T) {
	const healthy = "hello from upstream /ok"
	tests := []struct {
		name   string
		rule   Rule
		method string
		check  func(o outcome) string
	}{
		{"reset mid-request", Rule{Fault: ResetRequest}, http.MethodPost, func(o outcome) string {
			if !errors.Is(o.err, syscall.ECONNRESET) {
				return "want a connection reset"
			}
			return ""
		}},
		{"reset mid-response", Rule{Fault: ResetResponse}, http.MethodGet, func(o outcome) string {
			if o.err != nil || o.status != 200 || !errors.Is(o.bodyErr, syscall.ECONNRESET) {
				return "want status 200, then a reset in the body"
			}
			if !strings.HasPrefix("hello from upstream /f", o.body) || o.body == "hello from upstream /f" {
				return "want part of the upstream's body"
			}
			return ""
		}},
		{"hang", Rule{Fault: Hang}, http.MethodGet, func(o outcome) string {
			if !isTimeout(o.err) || o.took < 300*time.Millisecond {
				return "want the client's timeout"
			}
			return ""
		}},
		{"trickle past the timeout", Rule{Fault: Trickle, Interval: 100 * time.Millisecond}, http.MethodGet, func(o outcome) string {
			if !isTimeout(o.err) && !isTimeout(o.bodyErr) {
				return "want the client's timeout"
			}
			return ""
		}},
		{"trickle, just slow", Rule{Fault: Trickle, Interval: 10 * time.Millisecond, Chunk: 16}, http.MethodGet, func(o outcome) string {
			if o.err != nil || o.bodyErr != nil || o.body != "hello from upstream /f" {
				return "want the whole answer"
			}
			if o.took < 50*time.Millisecond {
				return "want it slow"
			}
			return ""
		}},
		{"status", Rule{Fault: Status, Status: 502}, http.MethodPost, func(o outcome) string {
			if o.err != nil || o.status != 502 {
				return "want 502"
			}
			return ""
		}},
		{"garbage status line", Rule{Fault: GarbageStatus}, http.MethodGet, func(o outcome) string {
			if o.err == nil || !strings.Contains(o.err.Error(), "malformed HTTP") {
				return "want a malformed HTTP response"
			}
			return ""
		}},
		{"header without colon", Rule{Fault: BadHeader}, http.MethodGet, func(o outcome) string {
			if o.err == nil || !strings.Contains(o.err.Error(), "malformed MIME header") {
				return "want a malformed header"
			}
			return ""
		}},
		{"content-length over the body", Rule{Fault: ShortBody}, http.MethodGet, func(o outcome) string {
			if o.err != nil || !errors.Is(o.bodyErr, io.ErrUnexpectedEOF) || o.body != "hello from upstream /f" {
				return "want the body, then an unexpected EOF"
			}
			return ""
		}},
		{"body over the content-length", Rule{Fault: LongBody}, http.MethodGet, func(o outcome) string {
			if o.err != nil || o.bodyErr != nil || o.body != "hello from upstream /f" {
				return "want exactly the declared body"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Path = "/f"
			p := start(t, Plan{Rules: []Rule{tt.rule}})
			client := &http.Client{Timeout: 300 * time.Millisecond}
			defer client.CloseIdleConnections()
			for i, path := range []string{"/ok", "/f", "/ok"} {
				o := do(client, tt.method, p.URL()+path)
				if path == "/ok" {
					if o.err != nil || o.bodyErr != nil || o.body != healthy {
						t.Errorf("healthy request %d: %+v", i, o)
					}
					continue
				}
				if msg := tt.check(o); msg != "" {
					t.Errorf("%s: got %+v", msg, o)
				}
			}
			st := p.Stats()
			if st.Faults[tt.rule.Fault] != 1 || st.Forwarded != 2 || st.Requests != 3 {
				t.Errorf("stats %+v: want 1 %s, 2 forwarded, 3 requests", st, tt.rule.Fault)
			}
		})
	}
}

// A fraction of requests is struck, chosen by the seed: the same seed and
// arrival order strike the same requests, another seed others.
func TestFractionIsSeeded(t *testing.T) {
	pattern := func(seed uint64) string {
		p := start(t, Plan{Seed: seed, Rules: []Rule{{Fault: Status, Fraction: 0.3}}})
		client := &http.Client{Timeout: 2 * time.Second}
		defer client.CloseIdleConnections()
		var b strings.Builder
		for i := 0; i < 200; i++ {
			o := do(client, http.MethodGet, p.URL()+"/x")
			switch {
			case o.err != nil:
				t.Fatalf("request %d: %v", i, o.err)
			case o.status == 503:
				b.WriteByte('x')
			default:
				b.WriteByte('.')
			}
		}
		if st := p.Stats(); st.Faults[Status] != int64(strings.Count(b.String(), "x")) {
			t.Errorf("proxy counts %d faults, client saw %d", st.Faults[Status], strings.Count(b.String(), "x"))
		}
		return b.String()
	}
	a, b, c := pattern(1), pattern(1), pattern(2)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same faults:\n%s", a)
	}
	if n := strings.Count(a, "x"); n < 40 || n > 80 {
		t.Errorf("%d of 200 struck, want about 60", n)
	}
}

// An outage refuses connections from its start to its end and the target
// comes back on the same address.
func TestOutage(t *testing.T) {
	p := start(t, Plan{Outages: []Outage{{At: 300 * time.Millisecond, For: 400 * time.Millisecond}}})
	addr := p.Addr()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	at := func(d time.Duration) outcome {
		time.Sleep(d - p.Since())
		return do(client, http.MethodGet, p.URL()+"/x")
	}
	if o := at(50 * time.Millisecond); o.err != nil || o.status != 200 {
		t.Fatalf("before the outage: %+v", o)
	}
	if o := at(500 * time.Millisecond); !errors.Is(o.err, syscall.ECONNREFUSED) {
		t.Errorf("during the outage: %+v, want connection refused", o)
	}
	if o := at(900 * time.Millisecond); o.err != nil || o.status != 200 {
		t.Errorf("after the outage: %+v", o)
	}
	if st := p.Stats(); st.Outages != 1 || st.Restarts != 1 || p.Addr() != addr {
		t.Errorf("stats %+v, address %s then %s", st, addr, p.Addr())
	}
	// And by hand.
	p.Down()
	if o := do(client, http.MethodGet, p.URL()+"/x"); !errors.Is(o.err, syscall.ECONNREFUSED) {
		t.Errorf("after Down: %+v", o)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if o := do(client, http.MethodGet, p.URL()+"/x"); o.err != nil || o.status != 200 {
		t.Errorf("after Up: %+v", o)
	}
}

// A time window strikes inside it only; a repeating window makes bursts.
func TestRuleWindows(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name string
		rule Rule
		at   map[int]bool
	}{
		{"always", Rule{}, map[int]bool{0: true, 5000: true}},
		{"from", Rule{From: ms(100)}, map[int]bool{99: false, 100: true, 9999: true}},
		{"window", Rule{From: ms(100), Until: ms(200)}, map[int]bool{99: false, 100: true, 199: true, 200: false}},
		{"bursts", Rule{From: ms(100), Until: ms(150), Every: ms(1000)}, map[int]bool{
			120: true, 160: false, 1099: false, 1100: true, 1149: true, 1150: false, 5125: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for at, want := range tt.at {
				if got := tt.rule.active(ms(at)); got != want {
					t.Errorf("at %dms: active %v, want %v", at, got, want)
				}
			}
		})
	}
}

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
		want string
	}{
		{"unknown fault", Plan{Rules: []Rule{{Fault: "explode"}}}, `unknown fault "explode"`},
		{"fraction", Plan{Rules: []Rule{{Fault: Hang, Fraction: 1.5}}}, "outside 0..1"},
		{"window backwards", Plan{Rules: []Rule{{Fault: Hang, From: time.Second, Until: time.Millisecond}}}, "before it starts"},
		{"period without end", Plan{Rules: []Rule{{Fault: Hang, Every: time.Second}}}, "needs Until"},
		{"period too short", Plan{Rules: []Rule{{Fault: Hang, Until: time.Second, Every: time.Second}}}, "not longer than the window"},
		{"status", Plan{Rules: []Rule{{Fault: Status, Status: 42}}}, "three-digit"},
		{"outage length", Plan{Outages: []Outage{{At: time.Second}}}, "For > 0"},
		{"outages overlap", Plan{Outages: []Outage{{At: 0, For: time.Second}, {At: time.Millisecond, For: time.Second}}}, "without overlap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.plan.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	if err := (Plan{Rules: []Rule{{Fault: WSDrop, After: 2}}, Outages: []Outage{{At: 1, For: 1}}}).Validate(); err != nil {
		t.Errorf("valid plan: %v", err)
	}
	if _, err := New(Config{Plan: Plan{}}); err == nil {
		t.Error("New without an upstream succeeded")
	}
}

// With StartOnFirstRequest the plan's clock waits for the first request:
// setup time before it does not eat into the windows.
func TestClockStartsOnFirstRequest(t *testing.T) {
	p := start(t, Plan{StartOnFirstRequest: true,
		Rules:   []Rule{{Fault: Status, From: 0, Until: 200 * time.Millisecond}},
		Outages: []Outage{{At: 300 * time.Millisecond, For: 200 * time.Millisecond}}})
	time.Sleep(400 * time.Millisecond) // setup, before any request
	if d := p.Since(); d != 0 {
		t.Fatalf("clock at %v before the first request", d)
	}
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	if o := do(client, http.MethodGet, p.URL()+"/x"); o.status != 503 {
		t.Errorf("first request: %+v, want the window's 503", o)
	}
	time.Sleep(250*time.Millisecond - p.Since())
	if o := do(client, http.MethodGet, p.URL()+"/x"); o.err != nil || o.status != 200 {
		t.Errorf("after the window: %+v", o)
	}
	time.Sleep(400*time.Millisecond - p.Since())
	if o := do(client, http.MethodGet, p.URL()+"/x"); !errors.Is(o.err, syscall.ECONNREFUSED) {
		t.Errorf("in the outage: %+v, want refused", o)
	}
}
