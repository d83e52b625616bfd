package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/reprise/reprise/internal/traffic"
)

// echoToken has every kind of byte an encoder treats apart: '/', '+',
// '=', '&', '<', '>', a space and a non-ASCII letter.
const echoToken = "SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9"

// echoForms are the encodings of echoToken a server may echo.
func echoForms(t testing.TB) map[string]string {
	goJSON, err := json.Marshal(echoToken)
	if err != nil {
		t.Fatal(err)
	}
	lowerHex := regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(echoToken), strings.ToLower)
	var ascii strings.Builder // every byte but letters and digits as \u00XX, uppercase hex
	for _, c := range echoToken {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			ascii.WriteRune(c)
		} else {
			fmt.Fprintf(&ascii, `\u%04X`, c)
		}
	}
	return map[string]string{
		"plain":                echoToken,
		"query-escaped":        url.QueryEscape(echoToken),
		"query-escaped lower":  lowerHex,
		"path-escaped":         url.PathEscape(echoToken),
		"JSON-escaped (Go)":    strings.Trim(string(goJSON), `"`),
		"JSON-escaped (PHP)":   strings.NewReplacer("/", `\/`, "\u00e9", `\u00e9`).Replace(echoToken),
		"JSON-escaped (\\u)":   ascii.String(),
		"HTML-escaped":         html.EscapeString(echoToken),
		"HTML numeric":         strings.NewReplacer("+", "&#43;", "=", "&#x3D;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(echoToken),
		"path-escaped in JSON": strings.ReplaceAll(url.PathEscape(echoToken), "&", `\u0026`),
		"query-escaped twice":  url.QueryEscape(url.QueryEscape(echoToken)),
	}
}

// tokenExchange is a request that carries echoToken in a token query
// parameter (where the rules find it) and whose response is body.
func tokenExchange(ct, ce string, body []byte) *traffic.Exchange {
	h := traffic.Fields{{Name: "Content-Type", Value: ct}}
	if ce != "" {
		h = append(h, traffic.Field{Name: "Content-Encoding", Value: ce})
	}
	return &traffic.Exchange{
		Request:  traffic.Request{Method: "GET", URL: "/v1/account?token=" + url.QueryEscape(echoToken)},
		Response: &traffic.Response{Status: 400, Header: h, Body: traffic.Body{Data: body, Size: int64(len(body))}},
	}
}

// leaks reports the first form of echoToken found in text.
func leaks(t testing.TB, text []byte) string {
	t.Helper()
	if bytes.Contains(text, []byte("SECRET")) {
		return "SECRET"
	}
	for name, f := range echoForms(t) {
		if bytes.Contains(text, []byte(f)) {
			return name
		}
	}
	return ""
}

func record(t testing.TB, r *Redactor, x *traffic.Exchange) *traffic.Exchange {
	t.Helper()
	out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
	return out.Exchange
}

func TestEchoForms(t *testing.T) {
	for name, form := range echoForms(t) {
		t.Run(name, func(t *testing.T) {
			r := newTestRedactor(t)
			ph := r.Placeholder(echoToken)
			doc := []byte(`{"error":"invalid token","echo":"/v1/account?token=` + form + `&x=1","n":1}`)
			got := record(t, r, tokenExchange("application/json", "", doc))
			body := got.Response.Body.Data
			if leak := leaks(t, body); leak != "" {
				t.Fatalf("%s form left in %s", leak, body)
			}
			if !json.Valid(body) {
				t.Fatalf("body no longer JSON: %s", body)
			}
			var v struct{ Echo string }
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			want := "/v1/account?token=" + ph + "&x=1"
			if strings.Contains(form, "%") {
				want = "/v1/account?token=" + url.QueryEscape(ph) + "&x=1"
			}
			if v.Echo != want {
				t.Errorf("echo = %q, want %q (the URL's placeholder, the rest kept)", v.Echo, want)
			}
			if !strings.Contains(got.Request.URL, url.QueryEscape(ph)) {
				t.Errorf("URL %q lost its placeholder", got.Request.URL)
			}
		})
	}
}

func TestEchoCompressed(t *testing.T) {
	br := func(s string) []byte {
		var b bytes.Buffer
		w := brotli.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	forms := echoForms(t)
	doc := `{"echo":"/v1/account?token=` + forms["query-escaped"] + `","raw":"` + forms["JSON-escaped (Go)"] + `"}`
	for _, tt := range []struct {
		ce   string
		data []byte
	}{{"gzip", gz(t, doc)}, {"br", br(doc)}} {
		t.Run(tt.ce, func(t *testing.T) {
			r := newTestRedactor(t)
			got := record(t, r, tokenExchange("application/json", tt.ce, tt.data))
			b := got.Response.Body
			plain, complete, err := decode(tt.ce, b.Data, 1<<20)
			if err != nil || !complete {
				t.Fatalf("body is no longer %s: %v", tt.ce, err)
			}
			if leak := leaks(t, plain); leak != "" {
				t.Fatalf("%s form left in decoded body %s", leak, plain)
			}
			if !bytes.Contains(plain, []byte(r.Placeholder(echoToken))) || b.Size != int64(len(b.Data)) {
				t.Errorf("placeholder missing or size %d for %d bytes: %s", b.Size, len(b.Data), plain)
			}
			if got.Notes["redact-response"] == "" {
				t.Error("re-encoding not noted")
			}
		})
	}
}

func TestEchoLaterRecords(t *testing.T) {
	r := newTestRedactor(t)
	ph := r.Placeholder(echoToken)
	// The rules find the token in the first record's URL...
	record(t, r, tokenExchange("application/json", "", []byte(`{"ok":true}`)))
	forms := echoForms(t)

	// ...and its echoes are replaced in the records that follow.
	later := &traffic.Exchange{
		Request: traffic.Request{Method: "POST", URL: "/v1/tokens/" + forms["path-escaped"] + "/revoke?next=" + url.QueryEscape("/v1/account?token="+url.QueryEscape(echoToken)),
			Header: traffic.Fields{{Name: "X-Debug", Value: "token " + echoToken}, {Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
			Body:   traffic.Body{Data: []byte("id=1&t=" + forms["query-escaped"])}},
		Response: &traffic.Response{Status: 200, Header: traffic.Fields{
			{Name: "Content-Type", Value: "text/html"},
			{Name: "Link", Value: "</v1/account?token=" + forms["query-escaped"] + ">; rel=next"},
		}, Body: traffic.Body{Data: []byte(`<a href="/v1/account?token=` + forms["HTML-escaped"] + `">next</a>`)}},
	}
	got := record(t, r, later)
	dump := got.Request.URL + "\n" + got.Request.Header[0].Value + "\n" + string(got.Request.Body.Data) + "\n" + got.Response.Header[1].Value + "\n" + string(got.Response.Body.Data)
	if leak := leaks(t, []byte(dump)); leak != "" {
		t.Fatalf("%s form left in a later record:\n%s", leak, dump)
	}
	esc := url.QueryEscape(ph)
	for _, want := range []string{"/v1/tokens/" + esc + "/revoke?next=", "%3Ftoken%3D" + esc, "token " + ph, "id=1&t=" + esc, "</v1/account?token=" + esc + ">", `href="/v1/account?token=` + ph + `"`} {
		if !strings.Contains(dump, want) {
			t.Errorf("missing %q in:\n%s", want, dump)
		}
	}
	if !got.Has(traffic.FlagRedacted) {
		t.Error("a record with an echo replaced is not flagged redacted")
	}

	// A WebSocket upgrade and a text message of a later recording step.
	open := &traffic.WSOpen{Upgrade: traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/updates?auth=" + forms["query-escaped"]}}}
	o, _ := r.Record(traffic.Record{Kind: traffic.KindWSOpen, WSOpen: open})
	if leak := leaks(t, []byte(o.WSOpen.Upgrade.Request.URL)); leak != "" {
		t.Errorf("%s form left in upgrade URL %s", leak, o.WSOpen.Upgrade.Request.URL)
	}
	for _, msg := range []string{
		`{"event":"error","data":{"message":"bad token ` + forms["JSON-escaped (\\u)"] + `"}}`,
		`42["error","` + forms["JSON-escaped (PHP)"] + `"]`,
		"plain text: " + echoToken,
	} {
		m := &traffic.WSMessage{Opcode: traffic.OpText, Payload: []byte(msg), Size: int64(len(msg))}
		out, changed := r.Record(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: m})
		p := out.WSMessage.Payload
		if leak := leaks(t, p); leak != "" || !changed || !bytes.Contains(p, []byte(ph)) {
			t.Errorf("message %s -> %s (%s form left)", msg, p, leak)
		}
		if out.WSMessage.Size != int64(len(p)) {
			t.Errorf("size %d for %d bytes", out.WSMessage.Size, len(p))
		}
		if looksJSON([]byte(msg)) && !json.Valid(p) {
			t.Errorf("message no longer JSON: %s", p)
		}
	}
}

func TestEchoWithinExchange(t *testing.T) {
	r := newTestRedactor(t)
	const bearer = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig-ZZZZ"
	const reply = "reply-token-Zq81Lm3x"
	// The bearer token (found in a header) is echoed in the URL, which is
	// redacted before the headers; the reply token (found in the response
	// body) is echoed earlier in the same body.
	x := &traffic.Exchange{
		Request: traffic.Request{Method: "GET", URL: "/v1/me?trace=" + bearer, Header: traffic.Fields{{Name: "Authorization", Value: "Bearer " + bearer}}},
		Response: &traffic.Response{Status: 200, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
			Body: traffic.Body{Data: []byte(`{"next":"/v1/me?t=` + reply + `","token":"` + reply + `","you":"` + bearer + `"}`)}},
	}
	got := record(t, r, x)
	dump := got.Request.URL + string(got.Response.Body.Data)
	for _, s := range []string{bearer, reply} {
		if strings.Contains(dump, s) {
			t.Errorf("%s left in %s", s, dump)
		}
	}
	want := `{"next":"/v1/me?t=` + r.Placeholder(reply) + `","token":"` + r.Placeholder(reply) + `","you":"` + r.Placeholder(bearer) + `"}`
	if string(got.Response.Body.Data) != want {
		t.Errorf("body\n got %s\nwant %s", got.Response.Body.Data, want)
	}
	if got.Request.URL != "/v1/me?trace="+url.QueryEscape(r.Placeholder(bearer)) {
		t.Errorf("URL %s", got.Request.URL)
	}
}

func TestEchoJSONStaysValid(t *testing.T) {
	r := newTestRedactor(t)
	const key = "1234567890"
	record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "POST", URL: "/v1/keys", Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
		Body: traffic.Body{Data: []byte(`{"apiKey":` + key + `,"token":"tok\"en-Zq81Lm3x","secret":"0031234567"}`)}}})
	tests := []struct{ name, in, want string }{
		{"number echo becomes a string", `{"id":` + key + `,"ids":[1,` + key + `]}`, `{"id":"` + r.Placeholder(key) + `","ids":[1,"` + r.Placeholder(key) + `"]}`},
		{"quote in a secret only matches escaped", `{"a":"x tok\"en-Zq81Lm3x y"}`, `{"a":"x ` + r.Placeholder(`tok"en-Zq81Lm3x`) + ` y"}`},
		{"after an escaped backslash", `{"a":"x\\1234567890"}`, `{"a":"x\\` + r.Placeholder(key) + `"}`},
		{"escaped backslash then u is text", `{"a":"\\u0031234567890"}`, `{"a":"\\u` + r.Placeholder("0031234567") + `890"}`},
		{"first character escaped", `{"a":"\u0031234567890"}`, `{"a":"` + r.Placeholder(key) + `"}`},
		{"not from inside an escape", `{"a":"\u0031234567x"}`, `{"a":"\u0031234567x"}`},
		{"inside a longer number", `[912345678901,1]`, `["` + r.Placeholder(key) + `",1]`},
		{"keys too", `{"` + key + `":1}`, `{"` + r.Placeholder(key) + `":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(tt.in)}}}
			got := string(record(t, r, x).Response.Body.Data)
			if got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

func TestEchoNotSearched(t *testing.T) {
	r := newTestRedactor(t)
	// Short or repetitive values are replaced where a rule finds them, but
	// not searched for elsewhere: they would match unrelated data.
	record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=00000000&key=abc123",
		Header: traffic.Fields{{Name: "Cookie", Value: "theme=dark; consent=20250101"}}}})
	if known, _ := r.Secrets(); known != 0 {
		t.Errorf("%d secrets remembered, want 0", known)
	}
	body := `{"ts":1700000000000,"day":"20250101","theme":"dark","v":"abc123"}`
	got := record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
		Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(body)}}})
	if string(got.Response.Body.Data) != body {
		t.Errorf("unrelated data rewritten: %s", got.Response.Body.Data)
	}
}

func TestEchoBound(t *testing.T) {
	rules, _ := Compose(DefaultRules(), nil)
	r, err := New(rules, WithSalt(testSalt), WithMaxSecrets(2))
	if err != nil {
		t.Fatal(err)
	}
	toks := []string{"first-Aq19Zx7bKp", "second-Bw28Yv6cLq", "third-Ce37Xu5dMr"}
	for _, tok := range toks[:2] {
		record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + tok}})
	}
	// Finding the first again makes the second the least recent one.
	record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + toks[0]}})
	record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + toks[2]}})
	if known, forgotten := r.Secrets(); known != 2 || forgotten != 1 {
		t.Errorf("Secrets() = %d known, %d forgotten; want 2, 1", known, forgotten)
	}
	body := `{"a":"` + toks[0] + `","b":"` + toks[1] + `","c":"` + toks[2] + `"}`
	got := string(record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
		Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(body)}}}).Response.Body.Data)
	want := `{"a":"` + r.Placeholder(toks[0]) + `","b":"` + toks[1] + `","c":"` + r.Placeholder(toks[2]) + `"}`
	if got != want {
		t.Errorf("past the bound\n got %s\nwant %s (the least recently found secret forgotten)", got, want)
	}

	off, err := New(rules, WithSalt(testSalt), WithMaxSecrets(0))
	if err != nil {
		t.Fatal(err)
	}
	record(t, off, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + toks[0]}})
	x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?t=" + toks[0]}}
	if _, changed := off.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x}); changed {
		t.Error("WithMaxSecrets(0) still replaced an echo")
	}
	if _, err := New(rules, WithMaxSecrets(-1)); err == nil {
		t.Error("a negative bound was accepted")
	}
}

func TestEchoIdempotent(t *testing.T) {
	r := newTestRedactor(t)
	forms := echoForms(t)
	doc := []byte(`{"echo":"/v1/account?token=` + forms["query-escaped"] + `","b":"` + forms["JSON-escaped (Go)"] + `"}`)
	first := record(t, r, tokenExchange("application/json", "", doc))
	again, changed := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: first})
	if !bytes.Equal(again.Exchange.Response.Body.Data, first.Response.Body.Data) || again.Exchange.Request.URL != first.Request.URL {
		t.Errorf("redacting twice changed the record (changed %v):\n%s\n%s", changed, first.Response.Body.Data, again.Exchange.Response.Body.Data)
	}
}

func TestEchoBinaryLeftAlone(t *testing.T) {
	r := newTestRedactor(t)
	record(t, r, tokenExchange("application/json", "", []byte(`{}`)))
	bin := []byte("\x00\x01" + echoToken)
	x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/img"}, Response: &traffic.Response{Status: 200,
		Header: traffic.Fields{{Name: "Content-Type", Value: "image/png"}}, Body: traffic.Body{Data: bin}}}
	if got := record(t, r, x); !bytes.Equal(got.Response.Body.Data, bin) {
		t.Error("a binary body was rewritten: its bytes are opaque")
	}
}

func TestEchoMatcherBranches(t *testing.T) {
	// Secrets whose bytes are also escape introducers force the matcher
	// to try both readings.
	r := newTestRedactor(t)
	const sec = "100%25+pure&amp;Zq81Lm3x"
	record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + url.QueryEscape(sec)}})
	for _, in := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), html.EscapeString(sec)} {
		x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
			Header: traffic.Fields{{Name: "Content-Type", Value: "text/plain"}}, Body: traffic.Body{Data: []byte("sent: " + in + ".")}}}
		got := string(record(t, r, x).Response.Body.Data)
		if got != "sent: "+r.Placeholder(sec)+"." && got != "sent: "+url.QueryEscape(r.Placeholder(sec))+"." {
			t.Errorf("%q -> %q", in, got)
		}
	}
}

func TestEchoSearchBounded(t *testing.T) {
	// Secrets and text full of escape characters make the matcher try
	// many readings; the work is bounded and what it cannot confirm is
	// replaced from the anchor on.
	for _, c := range []struct{ secret, fill string }{
		{strings.Repeat("%", 900) + "Zq81Lm3xAB", "%25"},
		{strings.Repeat("%", 900) + "Zq81Lm3xAB", "%2525"},
		{strings.Repeat("\\", 900) + "Zq81Lm3xAB", `\\`},
		{strings.Repeat("&", 900) + "Zq81Lm3xAB", "&amp;"},
		{strings.Repeat("1%", 400) + "Zq81Lm3xAB", "1%25"},
	} {
		// Each line holds an echo: as many fills as the secret has
		// escape characters, then the anchor.
		t.Run(c.fill, func(t *testing.T) {
			r := newTestRedactor(t)
			record(t, r, &traffic.Exchange{Request: traffic.Request{Method: "POST", URL: "/", Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}},
				Body: traffic.Body{Data: []byte(fmt.Sprintf(`{"token":%q}`, c.secret))}}})
			var body strings.Builder
			n := strings.Count(c.secret, c.fill[:1])
			for range 100 {
				body.WriteString(`{"a":"x` + strings.Repeat(c.fill, n) + `Zq81Lm3xAB"}` + "\n")
			}
			x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
				Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(body.String())}}}
			start := time.Now()
			got := record(t, r, x).Response.Body.Data
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s to search %d bytes", d, body.Len())
			}
			if n := bytes.Count(got, []byte("81Lm3xAB")); n != 0 {
				t.Errorf("%d anchors left", n)
			}
			for _, line := range bytes.Split(bytes.TrimSpace(got), []byte("\n")) {
				if !json.Valid(line) {
					t.Fatalf("invalid JSON %s", line)
				}
			}
		})
	}
}

func TestEchoCutShort(t *testing.T) {
	// A body cut at the recorder's cap inside an echo: the part of the
	// secret from its anchor to the cut goes too.
	r := newTestRedactor(t)
	record(t, r, tokenExchange("application/json", "", []byte(`{}`)))
	full := `{"echo":"/v1/account?token=` + url.QueryEscape(echoToken) + `&x=1"}`
	cut := full[:strings.Index(full, "e3b0c442")+12] // inside the anchor's run, past the anchor
	x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 200,
		Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(cut), Size: int64(len(full)), Truncated: true}}}
	got := string(record(t, r, x).Response.Body.Data)
	if want := `{"echo":"/v1/account?token=` + url.QueryEscape(r.Placeholder(echoToken)); got != want {
		t.Errorf("cut body %s\n got %s\nwant %s", cut, got, want)
	}
	m := &traffic.WSMessage{Opcode: traffic.OpText, Payload: []byte(cut), Size: int64(len(full)), Truncated: true}
	out, _ := r.Record(traffic.Record{Kind: traffic.KindWSMessage, WSMessage: m})
	if got := string(out.WSMessage.Payload); strings.Contains(got, "e3b0c442") || out.WSMessage.Size != int64(len(full)) {
		t.Errorf("cut message %s (size %d)", got, out.WSMessage.Size)
	}
}

func TestEchoConcurrent(t *testing.T) {
	// One Redactor shared by recorders on several goroutines.
	r, err := New(DefaultRules(), WithSalt(testSalt), WithMaxSecrets(16))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := fmt.Sprintf("tokenZq81Lm%02d%04d", g, i)
				x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/?token=" + tok}, Response: &traffic.Response{Status: 200,
					Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(`{"echo":"` + tok + `"}`)}}}
				if got := record(t, r, x); bytes.Contains(got.Response.Body.Data, []byte(tok)) {
					t.Errorf("echo of %s left: %s", tok, got.Response.Body.Data)
					return
				}
			}
		}()
	}
	wg.Wait()
	if known, forgotten := r.Secrets(); known != 16 || forgotten != 800-16 {
		t.Errorf("Secrets() = %d, %d; want 16, %d", known, forgotten, 800-16)
	}
}
