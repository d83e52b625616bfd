package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
