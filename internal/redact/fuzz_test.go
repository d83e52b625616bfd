package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/traffic"
)

// FuzzParseRule checks that the rule parser never panics and that a parsed
// rule's text form parses back to the same rule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"header:authorization", "query:sig", "json:card.number", "json:*secret*", "Header : X-Api-Key", "json:a..b", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		again, err := ParseRule(r.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", r.String(), s, err)
		}
		if !again.Equal(r) || again.String() != r.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, r.String(), again.String())
		}
		if _, err := New([]Rule{r}); err != nil {
			t.Fatalf("parsed rule %q rejected by New: %v", r, err)
		}
	})
}

// FuzzJSON checks the JSON redactor: no panic, valid JSON stays valid,
// every value under a default key is gone, and redacting twice changes
// nothing more.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"token":"a","b":[1,2,{"password":"p"}]}`,
		`{"secret":{"x":1},"n":-1.5e3,"t":true,"f":false,"z":null}`,
		`[{"accessToken":"x"},"s",1]`,
		`{"metadata":"{\"token\":\"in\"}"}`,
		`42["ev",{"token":"x"}]`,
		`{"token":"abc`,
		`{"a":"\u00e9\ud83d\ude00","apiKey":12}`,
		"{\"token\":\"a\"}\n{\"token\":\"b\"}",
		`{"x":tru`,
		`"just a string"`,
	} {
		f.Add([]byte(s))
	}
	r, err := New(DefaultRules(), WithSalt(testSalt))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _ := r.JSON(in)
		if json.Valid(in) {
			if !json.Valid(out) {
				t.Fatalf("valid input %q gave invalid output %q", in, out)
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if leak := findSecret(v); leak != "" {
				t.Fatalf("value under %q survived in %q", leak, out)
			}
		}
		again, _ := r.JSON(out)
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n in %q\nout %q\nagain %q", in, out, again)
		}
	})
}

// findSecret returns the key of a default JSON field whose value is not a
// placeholder or null.
func findSecret(v any) string {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			for _, name := range defaultRuleText {
				if strings.HasPrefix(name, "json:") && strings.EqualFold(name[5:], k) && val != nil {
					if s, ok := val.(string); !ok {
						return k
					} else if _, ok := ParsePlaceholder(s); !ok {
						return k
					}
				}
			}
			if leak := findSecret(val); leak != "" {
				return leak
			}
		}
	case []any:
		for _, e := range v {
			if leak := findSecret(e); leak != "" {
				return leak
			}
		}
	}
	return ""
}

// FuzzEcho checks the search for echoes: a secret found in a request's
// token parameter and echoed in a JSON response, encoded one of several
// ways, is gone from the response, which stays valid JSON, and redacting
// the result again changes nothing.
func FuzzEcho(f *testing.F) {
	for _, s := range []struct {
		secret, prefix string
		form           uint8
	}{
		{"SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9", "/v1/account?token=", 0},
		{"SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9", "/v1/account?token=", 1},
		{"SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9", "/v1/tokens/", 2},
		{"SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9", "next=", 3},
		{"SECRET-e3b0c442/98fc+1c14=9a&b<c> d\u00e9", "<a href=\"", 4},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.sig", "Bearer ", 5 + 6*1},
		{"100%25+pure&amp;Zq81Lm3x", "%", 1 + 6*2},
		{"tok\"en\\Zq81Lm3x\U0001F600", "\\", 0 + 6*3},
		{"0031234567", "\\u", 0 + 6*4},
		{"redacted:0a1b2c3d", "<", 0},
		{"1234567890", `{"1234567890":[912345678901,"x\\1234567890",1234567890e3]}`, 0},
	} {
		f.Add(s.secret, s.prefix, s.form)
	}
	f.Fuzz(func(t *testing.T, secret, prefix string, form uint8) {
		r, err := New(DefaultRules(), WithSalt(testSalt), WithMaxSecrets(8))
		if err != nil {
			t.Fatal(err)
		}
		r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/v1/account?token=" + url.QueryEscape(secret)}}})
		enc := []func(string) string{
			func(s string) string { return s },
			url.QueryEscape,
			url.PathEscape,
			func(s string) string { return url.QueryEscape(url.QueryEscape(s)) },
			html.EscapeString,
			func(s string) string {
				return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(s), strings.ToLower)
			},
		}[int(form)%6]
		echo := enc(secret)
		str := jsonStringers[int(form)/6%len(jsonStringers)](prefix + echo + "&x=1")
		body := []byte(`{"echo":` + str + `,"n":1}`)
		x := &traffic.Exchange{Request: traffic.Request{Method: "GET", URL: "/"}, Response: &traffic.Response{Status: 400,
			Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: body}}}
		out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
		got := out.Exchange.Response.Body.Data
		if !json.Valid(got) {
			t.Fatalf("valid input %s gave invalid JSON %s", body, got)
		}
		var v struct{ Echo string }
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatal(err)
		}
		if _, searched := echoAnchor([]byte(secret)); searched && utf8.ValidString(secret) && utf8.ValidString(prefix) && strings.Contains(v.Echo, echo) {
			t.Fatalf("echo %q of %q left in %s (from %s)", echo, secret, got, body)
		}
		again, _ := r.Record(out)
		if !bytes.Equal(again.Exchange.Response.Body.Data, got) {
			t.Fatalf("not idempotent:\n%s\n%s", got, again.Exchange.Response.Body.Data)
		}

		// prefix as a whole JSON document, the secret known: it stays
		// valid JSON whatever the secret matches in it.
		if json.Valid([]byte(prefix)) {
			x.Response.Body.Data = []byte(prefix)
			out, _ := r.Record(traffic.Record{Kind: traffic.KindExchange, Exchange: x})
			if got := out.Exchange.Response.Body.Data; !json.Valid(got) {
				t.Fatalf("valid document %s gave invalid JSON %s", prefix, got)
			}
		}
	})
}

// jsonStringers encode a string as a JSON string the ways servers do.
var jsonStringers = []func(string) string{
	// Go: <, >, & as \u003c \u003e \u0026.
	func(s string) string { b, _ := json.Marshal(s); return string(b) },
	// No HTML escaping (JavaScript's JSON.stringify).
	func(s string) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		e.Encode(s)
		return strings.TrimSuffix(b.String(), "\n")
	},
	// PHP: '/' as \/, non-ASCII as \uXXXX.
	func(s string) string { return strings.ReplaceAll(asciiJSON(s, false), "/", `\/`) },
	// Python's ensure_ascii.
	func(s string) string { return asciiJSON(s, false) },
	// Everything but letters and digits as \uXXXX, uppercase hex (.NET
	// escapes a wide set).
	func(s string) string { return asciiJSON(s, true) },
}

// asciiJSON quotes s with every non-ASCII rune (and, with all, every byte
// but letters and digits) as \u escapes.
func asciiJSON(s string, all bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range strings.ToValidUTF8(s, "\uFFFD") {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case all && !alnum || c < 0x20 || c == '"' || c == '\\':
			if c >= 0x10000 {
				r1, r2 := utf16.EncodeRune(c)
				fmt.Fprintf(&b, `\u%04X\u%04X`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04X`, c)
			}
		case c >= 0x80:
			if c >= 0x10000 {
				r1, r2 := utf16.EncodeRune(c)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
