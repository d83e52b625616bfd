package jsonshape

import (
	"reflect"
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"object sorted, values gone", `{"b":1,"a":"x","c":null,"d":true}`, `{a:str,b:num,c:null,d:bool}`, true},
		{"ids and timestamps do not matter", `{"session":{"id":"4b64","createdAt":1795717506225}}`, `{session:{createdAt:num,id:str}}`, true},
		{"array union", `{"xs":[{"a":1},{"a":2},{"b":"x"}]}`, `{xs:[{a:num}|{b:str}]}`, true},
		{"empty array", `[]`, `[]`, true},
		{"odd key", `{"a b":1}`, `{"a b":num}`, true},
		{"not json", `hello`, ``, false},
		{"empty", ``, ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Of([]byte(tc.in))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Of(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	a, _ := Of([]byte(`{"session":{"id":"1","seq":3,"tags":["x"]}}`))
	b, _ := Of([]byte(`{"session":{"id":"1","seq":"3","owner":{"name":"n"}}}`))
	got := Diff(a, b)
	want := []string{"-session.seq: num", "-session.tags[]: str", "+session.owner.name: str", "+session.seq: str"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %q, want %q", got, want)
	}
	// other values, same keys and types: no difference
	c, _ := Of([]byte(`{"session":{"seq":9,"tags":["y","z"],"id":"2"}}`))
	if d := Diff(a, c); len(d) != 0 {
		t.Fatalf("Diff of documents differing only in values and key order = %q", d)
	}
}

func FuzzShape(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}],"c d":"x"}`, `[[],[[]]]`, `{"\"":1}`, `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, ok := Of(data)
		if !ok {
			return
		}
		// A shape does not depend on the order maps are walked in, and
		// every shape has paths.
		if again, _ := Of(data); again != s {
			t.Fatalf("shape of the same document changed: %q then %q", s, again)
		}
		if len(Paths(s)) == 0 {
			t.Fatalf("shape %q has no paths", s)
		}
	})
}

// FuzzScanMatchesDecode checks the one-pass scanner against the shape of
// the document decoded by encoding/json.
func FuzzScanMatchesDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}],"c d":"x"}`, `[[],[[]]]`, `{"\"":1}`, `1`, `{"a":1,"a":"x"}`,
		`[1,"a",true,null,{},[]]`, `{"k":"\u00e9\ud83d\ude00"}`, "{\"\xff\":1}", `-0.5e+3`, `truex`, `{"a":1} trailing`,
		`[[[[[[[[[[1]]]]]]]]]]`, `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}`,
		`{"b":{"y":1},"a":2,"b":{"x":[]}}`, `{"abcdefgh":1,"abcdefg":2,"abcdefgh\u0000":3,"":4}`,
		`{"\ud83d\ude00":1,"\ud83d":2,"a<b":3,"\u2028":4,"\t":5}`, `[{"b":1},{"a":1},2,"x",[],null,{"c":1}]`} {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)))
	f.Add([]byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001)))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := Of(data)
		want, wantOK := decodeOf(data)
		if ok != wantOK || got != want {
			t.Fatalf("%q: scanned %q %v, decoded %q %v", data, got, ok, want, wantOK)
		}
	})
}
