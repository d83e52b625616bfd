package correlate

import (
	"context"
	"encoding/base64"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

func TestVariant(t *testing.T) {
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, tc := range []struct {
		name, in, label string
		check           func(t *testing.T, out string)
	}{
		{"recorded identity unchanged", "2304e78c-a353-48ab-a065-204b9633bfe8", "", func(t *testing.T, out string) {
			if out != "2304e78c-a353-48ab-a065-204b9633bfe8" {
				t.Fatal(out)
			}
		}},
		{"uuid stays a v4 uuid", "2304e78c-a353-48ab-a065-204b9633bfe8", "3", func(t *testing.T, out string) {
			if !uuidRE.MatchString(out) {
				t.Fatalf("%q is not a v4 UUID", out)
			}
		}},
		{"hex keeps length and case", "2DCC94455B03816FB33EDBDEAB59A767", "1", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^[0-9A-F]{32}$`).MatchString(out) {
				t.Fatalf("%q", out)
			}
		}},
		{"base64 still decodes to the same length", "7q/WEZsa79P96fjbV1Az9eQKzFuN5qsgYXPao4MRUJQoYLeOcObfbWGB9C8qxOJ/", "2", func(t *testing.T, out string) {
			b, err := base64.StdEncoding.DecodeString(out)
			if err != nil || len(b) != 48 {
				t.Fatalf("%q: %v", out, err)
			}
		}},
		{"padded base64", "M4ex6AeAoSE2j6ceIRyUvreWtVWIGVzwp1oxgF37VwaJZDoiD3wCPg==", "2", func(t *testing.T, out string) {
			b, err := base64.StdEncoding.Strict().DecodeString(out)
			if err != nil || len(b) != 40 || !strings.HasSuffix(out, "g==") {
				t.Fatalf("%q: %v", out, err)
			}
		}},
		{"cuid keeps its alphabet", "cnliasm777j2sgbvfjhhyesv5", "4", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^[a-z][a-z]{6}[0-9]{3}[a-z][0-9][a-z]{12}[0-9]$`).MatchString(out) {
				t.Fatalf("%q", out)
			}
		}},
		{"short value gets a suffix", "home-1-5", "3", func(t *testing.T, out string) {
			if out != "home-1-5-c3" {
				t.Fatal(out)
			}
		}},
		{"kv key gets a suffix", "settings.0", "12.2", func(t *testing.T, out string) {
			if out != "settings.0-c12.2" {
				t.Fatal(out)
			}
		}},
		{"placeholder stays a placeholder", "<redacted:6c0690d0>", "3", func(t *testing.T, out string) {
			if out != "<redacted:6c0690d0-c3>" {
				t.Fatal(out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Variant(tc.in, tc.label)
			tc.check(t, out)
			if again := Variant(tc.in, tc.label); again != out {
				t.Fatalf("not deterministic: %q then %q", out, again)
			}
			if tc.label != "" {
				if out == tc.in {
					t.Fatal("variant equals the recorded value")
				}
				if other := Variant(tc.in, tc.label+"9"); other == out {
					t.Fatalf("copies %s and %s9 share %q", tc.label, tc.label, out)
				}
			}
		})
	}
}

func FuzzVariant(f *testing.F) {
	for _, s := range []string{"2304e78c-a353-48ab-a065-204b9633bfe8", "2dcc94455b03816fb33edbdeab59a767", "home-1-5", "<redacted:1a2b3c4d>", "M4ex6AeAoSE2j6ceIRyUvreWtVWIGVzwp1oxgF37VwaJZDoiD3wCPg==", "x"} {
		f.Add(s, uint16(3), uint8(0))
	}
	f.Fuzz(func(t *testing.T, v string, cp uint16, round uint8) {
		label := schedule.Event{Copy: int(cp), Round: int(round)}.Identity()
		out := Variant(v, label)
		if label == "" || v == "" {
			if out != v {
				t.Fatalf("%q changed for the recorded identity: %q", v, out)
			}
			return
		}
		if out == v {
			t.Fatalf("%q unchanged for copy %q", v, label)
		}
		if Variant(v, label) != out {
			t.Fatal("not deterministic")
		}
		if len(out) != len(v) && !strings.HasSuffix(strings.TrimSuffix(out, ">"), "-c"+label) {
			t.Fatalf("%q -> %q: neither same length nor suffixed", v, out)
		}
		if len(out) == len(v) {
			for i := 0; i < len(v); i++ {
				a, b := v[i], out[i]
				if class(a) != class(b) && !((isHex(v) || isUUID(v)) && isHexDigit(a) && isHexDigit(b)) {
					t.Fatalf("%q -> %q: byte %d changed class", v, out, i)
				}
			}
		}
	})
}

func class(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 1
	case c >= 'a' && c <= 'z':
		return 2
	case c >= 'A' && c <= 'Z':
		return 3
	}
	return int(c) + 4
}

// rec builds an exchange of flow "u".
func rec(ms int, method, target, body string, status int, respBody string, hdr ...string) traffic.Record {
	x := &traffic.Exchange{Flow: "u", Start: time.Duration(ms) * time.Millisecond,
		Request:  traffic.Request{Method: method, URL: target, Body: traffic.Body{Data: []byte(body), Size: int64(len(body))}},
		Response: &traffic.Response{Status: status, Body: traffic.Body{Data: []byte(respBody), Size: int64(len(respBody))}},
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		x.Request.Header = append(x.Request.Header, traffic.Field{Name: hdr[i], Value: hdr[i+1]})
	}
	return traffic.Record{Kind: traffic.KindExchange, Exchange: x}
}

// sent is what one copy sent: every request line, header and body, and
// its client WebSocket messages, in order.
type sent struct{ text []string }

func (s *sent) add(parts ...string) { s.text = append(s.text, strings.Join(parts, " ")) }
func (s *sent) all() string         { return strings.Join(s.text, "\n") }

func replayCopies(t *testing.T, recs []traffic.Record, opts schedule.Options) map[string]*sent {
	t.Helper()
	if opts.Reopen == nil {
		opts.Reopen = func(context.Context) (traffic.Source, error) { return traffic.SliceSource(recs), nil }
	}
	sched, err := schedule.New(traffic.SliceSource(recs), opts)
	if err != nil {
		t.Fatal(err)
	}
	ids := NewIdentities()
	out := map[string]*sent{}
	for {
		ev, err := sched.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		s := out[ev.Identity()]
		if s == nil {
			s = &sent{}
			out[ev.Identity()] = s
		}
		rw := ids.Rewrite(ev)
		switch r := ev.Record; r.Kind {
		case traffic.KindExchange:
			q := rw.Request(r.Exchange.Request, nil)
			s.add(q.Method, q.URL, q.Header.Get("Authorization"), string(q.Body.Data))
		case traffic.KindWSOpen:
			s.add("WS", rw.Request(r.WSOpen.Upgrade.Request, nil).URL)
		case traffic.KindWSMessage:
			if r.WSMessage.FromClient {
				s.add("MSG", string(rw.Text(r.WSMessage.Payload, nil)))
			}
		}
	}
}

func happySession() []traffic.Record {
	const (
		tok   = "Bearer <redacted:6c0690d0>"
		sid   = "2dcc94455b03816fb33edbdeab59a767"
		local = "8b864e2a-fb31-4908-a2d0-3c2db3c0091b"
		mach  = "2304e78c-a353-48ab-a065-204b9633bfe8"
	)
	return []traffic.Record{
		rec(0, "POST", "/v1/auth", `{"challenge":"a9u0t6B6iHyFE4RdDZRF58Zy+j/ww3l4YKBTNzcgPpM=","publicKey":"NF99FTJvygtx4fSTcprm5Hp6Cw2U/A0PgBCO91tMKig=","signature":"<redacted:3c2b3ca2>"}`, 200, `{"success":true,"token":"<redacted:6c0690d0>"}`),
		rec(10, "GET", "/v1/kv/settings.0", ``, 404, `{"error":"Key not found"}`, "Authorization", tok),
		rec(20, "POST", "/v1/kv", `{"mutations":[{"key":"settings.0","value":"q96siw6LX9XuHiV3ZU1r9dV2MKdXPjhd","version":-1}]}`, 200, `{"results":[{"key":"settings.0","version":1}],"success":true}`, "Authorization", tok),
		rec(30, "GET", "/v1/kv/settings.0", ``, 200, `{"key":"settings.0","version":1}`, "Authorization", tok),
		rec(40, "POST", "/v1/sessions", `{"tag":"home-1-5","metadata":"7q/WEZsa79P96fjbV1Az9eQKzFuN5qsgYXPao4MRUJQoYLeOcObfbWGB9C8qxOJ/"}`, 200, `{"session":{"id":"`+sid+`","tag":"home-1-5","createdAt":1795717779166}}`, "Authorization", tok),
		rec(50, "POST", "/v1/sessions/"+sid+"/messages", `{"localId":"`+local+`","content":{"t":"encrypted","c":"M4ex6AeAoSE2j6ceIRyUvreWtVWIGVzwp1oxgF37VwaJZDoiD3wCPg=="}}`, 200, `{"message":{"id":"354c120ea229f0809b7a65a3","localId":"`+local+`"}}`, "Authorization", tok),
		rec(60, "POST", "/v1/machines", `{"id":"`+mach+`","metadata":"m1"}`, 200, `{"machine":{"id":"`+mach+`","accountId":"cnliasm777j2sgbvfjhhyesv5"}}`, "Authorization", tok),
		rec(70, "PUT", "/v1/machines/"+mach+"/status", `{"active":true}`, 200, `{}`, "Authorization", tok),
		{Kind: traffic.KindWSOpen, WSOpen: &traffic.WSOpen{Flow: "u", ConnID: 9, Start: 80 * time.Millisecond, Upgrade: traffic.Exchange{Flow: "u", ConnID: 9,
			Request:  traffic.Request{Method: "GET", URL: "/v1/updates?clientType=machine-scoped&machineId=" + mach + "&token=" + url.QueryEscape("<redacted:6c0690d0>")},
			Response: &traffic.Response{Status: 101}}}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 9, Start: 90 * time.Millisecond, FromClient: true, Opcode: traffic.OpText,
			Payload: []byte(`{"event":"machine-alive","data":{"machineId":"` + mach + `","time":1795717779166},"ackId":"ack-00000001"}`)}},
		{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Flow: "u", ConnID: 9, Start: 95 * time.Millisecond, Opcode: traffic.OpText,
			Payload: []byte(`{"type":"pong","ackId":"ack-00000001","messageId":"5df04a14b4b8a8c2"}`)}},
		rec(100, "POST", "/v1/sessions/"+sid+"/archive", `{"reason":"manual","at":"2026-11-26T18:29:46.52Z"}`, 200, `{"success":true}`, "Authorization", tok),
		rec(110, "GET", "/v1/kv/missing.483", ``, 404, `{"error":"Key not found"}`, "Authorization", tok),
		rec(120, "DELETE", "/v1/sessions/"+sid, ``, 200, `{"success":true}`, "Authorization", tok),
	}
}

func TestIdentitiesPerCopy(t *testing.T) {
	recs := happySession()
	got := replayCopies(t, recs, schedule.Options{Multiply: 3, Stagger: 30 * time.Millisecond})
	if len(got) != 3 {
		t.Fatalf("identities %v", len(got))
	}
	orig := got[""].all()
	for _, want := range []string{"home-1-5", "settings.0", "8b864e2a-fb31-4908-a2d0-3c2db3c0091b", "2304e78c-a353-48ab-a065-204b9633bfe8", "<redacted:6c0690d0>"} {
		if !strings.Contains(orig, want) {
			t.Fatalf("copy 0 does not send the recorded %q:\n%s", want, orig)
		}
	}
	for _, label := range []string{"1", "2"} {
		text := got[label].all()
		// client-made values: every use in the copy carries the copy's
		// variant, none the recorded value (a suffixed variant contains
		// it: count the uses)
		for _, v := range []string{"home-1-5", "8b864e2a-fb31-4908-a2d0-3c2db3c0091b", "2304e78c-a353-48ab-a065-204b9633bfe8", "q96siw6LX9XuHiV3ZU1r9dV2MKdXPjhd", "ack-00000001"} {
			vv := Variant(v, label)
			recorded := strings.Count(text, v)
			if strings.Contains(vv, v) {
				recorded -= strings.Count(text, vv)
			}
			if recorded != 0 || !strings.Contains(text, vv) {
				t.Errorf("copy %s: %q should be sent as %q everywhere:\n%s", label, v, vv, text)
			}
		}
		for _, line := range []string{
			// the kv key, created in a body, in the lookups around it
			"POST /v1/kv Bearer <redacted:6c0690d0-c" + label + `> {"mutations":[{"key":"settings.0-c` + label + `"`,
			"GET /v1/kv/settings.0-c" + label + " Bearer",
			// the machine id in a PUT URL, the WebSocket URL and a client message
			"PUT /v1/machines/" + Variant("2304e78c-a353-48ab-a065-204b9633bfe8", label) + "/status",
			"WS /v1/updates?clientType=machine-scoped&machineId=" + Variant("2304e78c-a353-48ab-a065-204b9633bfe8", label) + "&token=%3Credacted%3A6c0690d0-c" + label + "%3E",
			`MSG {"event":"machine-alive","data":{"machineId":"` + Variant("2304e78c-a353-48ab-a065-204b9633bfe8", label),
		} {
			if !strings.Contains(text, line) {
				t.Errorf("copy %s lacks %q:\n%s", label, line, text)
			}
		}
		// server-made, pre-existing, proofs, enums and times stay
		for _, v := range []string{"/v1/sessions/2dcc94455b03816fb33edbdeab59a767/messages", "DELETE /v1/sessions/2dcc94455b03816fb33edbdeab59a767",
			"GET /v1/kv/missing.483", `"publicKey":"NF99FTJvygtx4fSTcprm5Hp6Cw2U/A0PgBCO91tMKig="`, `"reason":"manual","at":"2026-11-26T18:29:46.52Z"`, `"time":1795717779166`} {
			if !strings.Contains(text, v) {
				t.Errorf("copy %s should send %q as recorded:\n%s", label, v, text)
			}
		}
	}
	if got["1"].all() == got["2"].all() {
		t.Fatal("copies 1 and 2 sent the same traffic")
	}
}

// Every round of a looping copy is an identity of its own.
func TestIdentitiesPerRound(t *testing.T) {
	recs := happySession()[4:6] // create a session, post a message
	got := replayCopies(t, recs, schedule.Options{Multiply: 2, Loop: true, Duration: 50 * time.Millisecond})
	tags := map[string]string{}
	for label, s := range got {
		m := regexp.MustCompile(`"tag":"([^"]+)","metadata"`).FindStringSubmatch(s.all())
		if m == nil {
			t.Fatalf("identity %q sent no tag:\n%s", label, s.all())
		}
		if other, dup := tags[m[1]]; dup {
			t.Fatalf("identities %q and %q share tag %q", label, other, m[1])
		}
		tags[m[1]] = label
	}
	// period 20ms over 50ms: rounds 0, 1, 2 of two copies
	if len(tags) != 6 || tags["home-1-5"] != "" || tags["home-1-5-c1.2"] != "1.2" || tags["home-1-5-c0.1"] != "0.1" {
		t.Fatalf("tags by identity %v", tags)
	}
}

func TestReplaceManyLikeReplacer(t *testing.T) {
	pairs := []string{"settings.01", "settings.01-c1", "settings.0", "settings.0-c1", "home-1-5", "home-1-5-c1"}
	for _, s := range []string{
		"", "nothing here", `{"a":"settings.0","b":"settings.01","c":"home-1-5/settings.0"}`,
		"settings.0settings.01settings.0", "home-1-5home-1-5", "xsettings.0", "settings.",
	} {
		if got, want := replaceMany(s, pairs), strings.NewReplacer(pairs...).Replace(s); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
		if got, want := substitute(s, pairs), strings.NewReplacer(pairs...).Replace(s); got != want {
			t.Errorf("substitute %q: got %q, want %q", s, got, want)
		}
	}
}

func TestIdentitiesTokenPool(t *testing.T) {
	recs := happySession()
	sched, err := schedule.New(traffic.SliceSource(recs), schedule.Options{Multiply: 3})
	if err != nil {
		t.Fatal(err)
	}
	ids := NewIdentities()
	ids.Tokens = []string{"pool-1", "pool-2"}
	sent := map[int]map[string]bool{}
	for {
		ev, err := sched.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var cred string
		rw := ids.Rewrite(ev)
		switch r := ev.Record; r.Kind {
		case traffic.KindExchange:
			q := rw.Request(r.Exchange.Request, nil)
			cred = strings.TrimPrefix(q.Header.Get("Authorization"), "Bearer ")
			if strings.Contains(string(q.Body.Data), "pool-") {
				t.Fatal("a pool token leaked into a request body")
			}
		case traffic.KindWSOpen:
			u, _ := url.Parse(rw.Request(r.WSOpen.Upgrade.Request, nil).URL)
			cred = u.Query().Get("token")
			if u.Query().Get("machineId") == "" {
				t.Fatalf("upgrade URL lost its other parameters: %s", u)
			}
		default:
			continue
		}
		if cred == "" {
			continue // the login
		}
		if sent[ev.Copy] == nil {
			sent[ev.Copy] = map[string]bool{}
		}
		sent[ev.Copy][cred] = true
	}
	// one recorded user: copies 0, 1, 2 get pool-1, pool-2, pool-1
	for c, want := range []string{"pool-1", "pool-2", "pool-1"} {
		if len(sent[c]) != 1 || !sent[c][want] {
			t.Errorf("copy %d sent credentials %v, want only %s", c, sent[c], want)
		}
	}
	if ids.Stats().Accounts != 2 {
		t.Fatalf("accounts %d", ids.Stats().Accounts)
	}
}

// With a run tag (--fresh-ids) copy 0 gets variants too, of that run's
// own: two runs at one target never share a client-made value, and the
// same tag gives the same values again.
func TestIdentitiesRunTag(t *testing.T) {
	run := func(tag string) string {
		recs := happySession()
		sched, err := schedule.New(traffic.SliceSource(recs), schedule.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids := NewIdentities()
		ids.Run = tag
		var s sent
		for {
			ev, err := sched.Next(context.Background())
			if err == io.EOF {
				return s.all()
			}
			if err != nil {
				t.Fatal(err)
			}
			if x := ev.Record.Exchange; x != nil {
				q := ids.Rewrite(ev).Request(x.Request, nil)
				s.add(q.Method, q.URL, string(q.Body.Data))
			}
		}
	}
	a, b, a2 := run("ra"), run("rb"), run("ra")
	if a != a2 {
		t.Fatal("the same run tag gave other values")
	}
	for _, v := range []string{`"tag":"home-1-5"`, "settings.0\"", "2304e78c-a353-48ab-a065-204b9633bfe8"} {
		if strings.Contains(a, v) || strings.Contains(b, v) {
			t.Errorf("a tagged run sent the recorded %s:\n%s", v, a)
		}
	}
	if !strings.Contains(a, `"tag":"home-1-5-cra"`) || !strings.Contains(b, `"tag":"home-1-5-crb"`) {
		t.Errorf("runs did not get tags of their own:\n%s\n%s", a, b)
	}
	// what the server made stays as recorded (correlation replaces it live)
	if !strings.Contains(a, "/v1/sessions/2dcc94455b03816fb33edbdeab59a767/messages") {
		t.Errorf("a server-made id was varied:\n%s", a)
	}
}
