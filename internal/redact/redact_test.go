package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/reprise/reprise/internal/traffic"
	"github.com/reprise/reprise/internal/traffic/traffictest"
)

var testSalt = []byte("0123456789abcdef0123456789abcdef")

func newTestRedactor(t testing.TB, extra ...string) *Redactor {
	t.Helper()
	rules, err := Compose(DefaultRules(), extra)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(rules, WithSalt(testSalt))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "header", in: "header:X-Api-Key", want: "header:x-api-key"},
		{name: "spaces and case", in: "  Query : Sig ", want: "query:sig"},
		{name: "json path", in: "json:card.number", want: "json:card.number"},
		{name: "json glob", in: "json:*secret*", want: "json:*secret*"},
		{name: "no colon", in: "authorization", wantErr: "want TARGET:PATTERN"},
		{name: "unknown target", in: "body:x", wantErr: "unknown target"},
		{name: "empty pattern", in: "json:", wantErr: "empty pattern"},
		{name: "empty path segment", in: "json:a..b", wantErr: "empty key"},
		{name: "bad header char", in: "header:x/y", wantErr: "not allowed in a header name"},
		{name: "space inside", in: "query:a b", wantErr: "space or control"},
		{name: "too long", in: "json:" + strings.Repeat("a", 300), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRule(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want {
				t.Fatalf("ParseRule(%q) = %q, want %q", tt.in, r, tt.want)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	rules, err := Compose(DefaultRules(), []string{"header:x-api-key", "!query:key", "header:x-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(ruleStrings(rules), " ")
	if !strings.Contains(text, "header:x-api-key") || strings.Count(text, "header:x-api-key") != 1 {
		t.Errorf("added rule missing or duplicated: %s", text)
	}
	if strings.Contains(text, "query:key ") {
		t.Errorf("removed rule still present: %s", text)
	}
	if _, err := Compose(nil, []string{"!json:nothing"}); err == nil {
		t.Error("removing an absent rule should fail")
	}
}

func ruleStrings(rules []Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.String())
	}
	return out
}

func TestGlobFold(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"token", "Token", true},
		{"token", "tokens", false},
		{"*secret*", "clientSecretValue", true},
		{"*secret*", "secret", true},
		{"*secret", "secretx", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
	}
	for _, tt := range tests {
		if got := globFold(tt.pat, tt.name); got != tt.want {
			t.Errorf("globFold(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestHeader(t *testing.T) {
	r := newTestRedactor(t, "header:x-api-key")
	tok := r.Placeholder("abc.def.ghi")
	tests := []struct {
		name, field, value, want string
	}{
		{"bearer keeps scheme", "Authorization", "Bearer abc.def.ghi", "Bearer " + tok},
		{"basic", "proxy-authorization", "Basic dXNlcjpwYXNz", "Basic " + r.Placeholder("dXNlcjpwYXNz")},
		{"bare value", "X-Api-Key", "k-123", r.Placeholder("k-123")},
		{"cookie keeps names", "Cookie", "sid=s1; theme=dark", "sid=" + r.Placeholder("s1") + "; theme=" + r.Placeholder("dark")},
		{"set-cookie keeps attrs", "Set-Cookie", "sid=s1; Path=/; HttpOnly", "sid=" + r.Placeholder("s1") + "; Path=/; HttpOnly"},
		{"referer query", "Referer", "http://x/p?token=abc.def.ghi&a=1", "http://x/p?token=%3Credacted%3A" + tok[10:18] + "%3E&a=1"},
		{"untouched", "Content-Type", "application/json", "application/json"},
		{"already redacted", "Authorization", "Bearer " + tok, "Bearer " + tok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := traffic.Fields{{Name: "Accept", Value: "*/*"}, {Name: tt.field, Value: tt.value}}
			out, _ := r.Header(in)
			if got := out[1].Value; got != tt.want {
				t.Errorf("%s: %q -> %q, want %q", tt.field, tt.value, got, tt.want)
			}
			if in[1].Value != tt.value {
				t.Error("input fields were modified")
			}
			if out[0] != in[0] || out[1].Name != tt.field {
				t.Error("names or order changed")
			}
		})
	}
}

func TestPlaceholderStableAndSalted(t *testing.T) {
	a := newTestRedactor(t)
	b := newTestRedactor(t)
	if a.Placeholder("s3cret") != b.Placeholder("s3cret") {
		t.Error("same salt, same secret: placeholders differ")
	}
	if a.Placeholder("s3cret") == a.Placeholder("s3cret2") {
		t.Error("different secrets share a placeholder")
	}
	c, err := New(DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	if c.Placeholder("s3cret") == a.Placeholder("s3cret") {
		t.Error("random salt gave the fixed salt's placeholder")
	}
	h, ok := ParsePlaceholder(a.Placeholder("s3cret"))
	if !ok || len(h) != 8 {
		t.Errorf("ParsePlaceholder = %q, %v", h, ok)
	}
}

func TestQuery(t *testing.T) {
	r := newTestRedactor(t, "query:sig")
	p := func(s string) string {
		return strings.NewReplacer("<", "%3C", ">", "%3E", ":", "%3A").Replace(r.Placeholder(s))
	}
	tests := []struct{ name, in, want string }{
		{"token", "/v1/updates?token=T1&clientType=user-scoped", "/v1/updates?token=" + p("T1") + "&clientType=user-scoped"},
		{"case insensitive", "/x?Ticket=a%20b", "/x?Ticket=" + p("a b")},
		{"custom rule", "/x?sig=zz#frag", "/x?sig=" + p("zz") + "#frag"},
		{"no query", "/x", "/x"},
		{"flag without value", "/x?token&a=1", "/x?token&a=1"},
		{"others kept byte for byte", "/x?a=%2f&b=1", "/x?a=%2f&b=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := r.URL(tt.in)
			if got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	r := newTestRedactor(t, "json:card.number", "json:*secret*")
	ph := func(s string) string { return `"` + r.Placeholder(s) + `"` }
	tests := []struct {
		name, in, want string
	}{
		{"top-level key", `{"token":"T1","ok":true}`, `{"token":` + ph("T1") + `,"ok":true}`},
		{"nested and order kept", `{"z":1,"a":{"password":"pw","b":[1,2]},"m":"x"}`, `{"z":1,"a":{"password":` + ph("pw") + `,"b":[1,2]},"m":"x"}`},
		{"spacing kept", "{ \"secret\" :  \"s\" ,\n \"n\": 1.50 }", "{ \"secret\" :  " + ph("s") + " ,\n \"n\": 1.50 }"},
		{"in arrays", `[{"token":"a"},{"token":"b"}]`, `[{"token":` + ph("a") + `},{"token":` + ph("b") + `}]`},
		{"number value", `{"apiKey":12345}`, `{"apiKey":` + ph("12345") + `}`},
		{"object value", `{"secret":{"a":1}}`, `{"secret":` + ph(`{"a":1}`) + `}`},
		{"null stays", `{"token":null}`, `{"token":null}`},
		{"path rule", `{"card":{"number":"4111","cvc":"1"},"number":"7"}`, `{"card":{"number":` + ph("4111") + `,"cvc":"1"},"number":"7"}`},
		{"glob rule", `{"clientSecretX":"q"}`, `{"clientSecretX":` + ph("q") + `}`},
		{"escaped key", `{"tok\u0065n":"e"}`, `{"tok\u0065n":` + ph("e") + `}`},
		{"escaped value hashed decoded", `{"token":"a\/b"}`, `{"token":` + ph("a/b") + `}`},
		{"embedded json string", `{"metadata":"{\"token\":\"inner\"}"}`, `{"metadata":"{\"token\":` + strings.ReplaceAll(ph("inner"), `"`, `\"`) + `}"}`},
		{"publicKey kept", `{"publicKey":"pk","challenge":"c","signature":"sg"}`, `{"publicKey":"pk","challenge":"c","signature":` + ph("sg") + `}`},
		{"truncated inside secret", `{"a":1,"token":"abcd`, `{"a":1,"token":` + ph(`"abcd`)},
		{"truncated elsewhere", `{"token":"x","b":"yy`, `{"token":` + ph("x") + `,"b":"yy`},
		{"ndjson", "{\"token\":\"a\"}\n{\"token\":\"b\"}\n", "{\"token\":" + ph("a") + "}\n{\"token\":" + ph("b") + "}\n"},
		{"socket.io lenient", `42["auth",{"token":"T9"}]x`, `42["auth",{"token":` + ph("T9") + `}]x`},
		{"broken json lenient", `{"token": "T", oops}`, `{"token": ` + ph("T") + `, oops}`},
		{"no match unchanged", `{"a":"b"}`, `{"a":"b"}`},
		{"already redacted", `{"token":` + ph("x") + `}`, `{"token":` + ph("x") + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := r.JSON([]byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("JSON(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			if json.Valid([]byte(tt.in)) && !json.Valid(got) {
				t.Errorf("valid input gave invalid output %s", got)
			}
		})
	}
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestRecordExchange(t *testing.T) {
	r := newTestRedactor(t)
	reqBody := `{"tag":"t","dataEncryptionKey":"DEK1"}`
	respBody := `{"success":true,"token":"JWT1"}`
	x := &traffic.Exchange{
		Request: traffic.Request{
			Method: "POST", URL: "/v1/auth?token=Q1",
			Header: traffic.Fields{
				{Name: "Authorization", Value: "Bearer JWT1"},
				{Name: "Content-Type", Value: "application/json"},
				{Name: "Content-Length", Value: "38"},
			},
			Body: traffic.Body{Data: []byte(reqBody), Size: int64(len(reqBody))},
		},
		Response: &traffic.Response{
			Status: 200,
			Header: traffic.Fields{
				{Name: "Content-Type", Value: "application/json"},
				{Name: "Content-Encoding", Value: "gzip"},
				{Name: "Set-Cookie", Value: "sid=C1; Path=/"},
			},
			Body: traffic.Body{Data: gz(t, respBody), Size: 1},
		},
	}
	orig := *x
	out, changed := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	if !changed || !out.Exchange.Has(traffic.FlagRedacted) {
		t.Fatal("exchange not flagged redacted")
	}
	if x.Request.URL != orig.Request.URL || string(x.Request.Body.Data) != reqBody || x.Request.Header[0].Value != "Bearer JWT1" {
		t.Fatal("input record was modified")
	}
	got := out.Exchange
	dump := got.Request.URL + string(got.Request.Body.Data) + got.Request.Header[0].Value + got.Response.Header[2].Value
	plain, complete, err := decode("gzip", got.Response.Body.Data, 1<<20)
	if err != nil || !complete {
		t.Fatalf("response body no longer gzip: %v", err)
	}
	dump += string(plain)
	for _, secret := range []string{"JWT1", "Q1", "DEK1", "C1"} {
		if strings.Contains(dump, secret) {
			t.Errorf("secret %q survived: %s", secret, dump)
		}
	}
	if !strings.Contains(string(plain), r.Placeholder("JWT1")) || !strings.Contains(got.Request.Header[0].Value, r.Placeholder("JWT1")) {
		t.Error("the same token should map to the same placeholder in header and body")
	}
	if got.Request.Body.Size != int64(len(got.Request.Body.Data)) || got.Request.Header.Get("Content-Length") != itoa(len(got.Request.Body.Data)) {
		t.Errorf("size %d / content-length %q do not match body of %d bytes", got.Request.Body.Size, got.Request.Header.Get("Content-Length"), len(got.Request.Body.Data))
	}
	if got.Response.Body.Size != int64(len(got.Response.Body.Data)) {
		t.Error("response Size not updated after re-encoding")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRecordCompressedCases(t *testing.T) {
	r := newTestRedactor(t)
	full := gz(t, `{"token":"SECRET-TOKEN-1","pad":"`+strings.Repeat("x", 4000)+`"}`)
	tests := []struct {
		name      string
		ce        string
		data      []byte
		truncated bool
		wantDrop  bool
	}{
		{"truncated gzip is re-encoded without the secret", "gzip", full[:len(full)/2], true, false},
		{"undecodable text body is dropped", "gzip", []byte("not gzip at all"), false, true},
		{"unknown coding on text is dropped", "compress", []byte("abc"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{
				Status: 200,
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: tt.ce}},
				Body:   traffic.Body{Data: tt.data, Size: int64(len(full)), Truncated: tt.truncated},
			}}
			out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
			b := out.Exchange.Response.Body
			if !b.Truncated || out.Exchange.Notes["redact-response"] == "" {
				t.Errorf("body not marked: truncated %v, notes %v", b.Truncated, out.Exchange.Notes)
			}
			if tt.wantDrop && len(b.Data) != 0 {
				t.Errorf("body kept: %d bytes", len(b.Data))
			}
			if bytes.Equal(b.Data, tt.data) {
				t.Error("raw compressed bytes kept")
			}
			if plain, _, _ := decode("gzip", b.Data, 1<<20); bytes.Contains(plain, []byte("SECRET")) {
				t.Errorf("secret survived: %s", plain)
			}
		})
	}
}

func TestRecordWebSocket(t *testing.T) {
	r := newTestRedactor(t)
	open := &traffic.WSOpen{Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?token=WS1&clientType=user-scoped"}}}
	out, changed := r.Record(traffic.Record{Kind: traffic.KindWSOpen, WSOpen: open})
	if !changed || strings.Contains(out.WSOpen.Upgrade.Request.URL, "WS1") || !out.WSOpen.Upgrade.Has(traffic.FlagRedacted) {
		t.Errorf("upgrade URL not redacted: %s", out.WSOpen.Upgrade.Request.URL)
	}
	msg := &traffic.WSMessage{Opcode: traffic.OpText, Payload: []byte(`{"event":"auth","data":{"token":"WS2"}}`), Size: 39, Frames: 1}
	out, _ = r.Record(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: msg})
	if strings.Contains(string(out.WSMessage.Payload), "WS2") || out.WSMessage.Size != int64(len(out.WSMessage.Payload)) {
		t.Errorf("text message not redacted: %s (size %d)", out.WSMessage.Payload, out.WSMessage.Size)
	}
	bin := &traffic.WSMessage{Opcode: traffic.OpBinary, Payload: []byte(`{"token":"B"}`)}
	if _, changed := r.Record(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: bin}); changed {
		t.Error("binary messages are opaque and must be left alone")
	}
}

func TestSink(t *testing.T) {
	r := newTestRedactor(t)
	var next traffictest.Sink
	s := NewSink(&next, r)
	ctx := context.Background()
	h := &traffic.Header{Source: "proxy"}
	x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/a?token=zz", Header: traffic.Fields{{Name: "Authorization", Value: "Bearer zz"}}}}
	plain := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/b"}}
	for _, rec := range []traffic.Record{{Kind: traffic.KindHeader, Header: h}, {Kind: traffic.KindExchange, Exchange: x}, {Kind: traffic.KindExchange, Exchange: plain}} {
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil || !next.Closed() {
		t.Fatal("close not forwarded")
	}
	recs := next.Records()
	if len(recs[0].Header.Redactions) != len(DefaultRules()) {
		t.Errorf("header redactions = %v", recs[0].Header.Redactions)
	}
	if strings.Contains(recs[1].Exchange.Request.URL+recs[1].Exchange.Request.Header[0].Value, "zz") {
		t.Error("secret reached the next sink")
	}
	if s.Redacted() != 1 {
		t.Errorf("Redacted() = %d, want 1", s.Redacted())
	}
}

func TestNoRules(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &traffic.Exchange{Request: traffic.Request{URL: "/a?token=1", Header: traffic.Fields{{Name: "Authorization", Value: "Bearer 1"}}}}
	if _, changed := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x}); changed {
		t.Error("a redactor without rules changed a record")
	}
}
