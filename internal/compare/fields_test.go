package compare

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// diffOf compares two JSON documents and returns the fields that
// differed, as "key: x -> y".
func diffOf(t *testing.T, x, y string) (differ []string, keys []string) {
	t.Helper()
	d := newDocDiff()
	d.bodyDiff("", []byte(x), []byte(y))
	for _, k := range slices.Sorted(maps.Keys(d.fields)) {
		f := d.fields[k]
		keys = append(keys, k)
		if f.differ {
			differ = append(differ, k+": "+f.x+" -> "+f.y)
		}
	}
	return differ, keys
}

func TestDocDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		x, y   string
		differ []string
		keys   []string // when set, every key compared
	}{
		{name: "same", x: `{"a":1,"b":{"c":"x"}}`, y: `{"b":{"c":"x"},"a":1}`, keys: []string{"a", "b.c"}},
		{name: "value", x: `{"a":1,"b":{"c":"x"}}`, y: `{"a":1,"b":{"c":"y"}}`, differ: []string{`b.c: "x" -> "y"`}},
		{name: "type", x: `{"a":1}`, y: `{"a":"1"}`, differ: []string{`a: 1 -> "1"`}},
		{name: "missing", x: `{"a":1,"b":2}`, y: `{"a":1}`, differ: []string{"b: 2 -> (absent)"}},
		{name: "object against scalar", x: `{"a":{"b":1}}`, y: `{"a":null}`, differ: []string{"a: {…} -> null"}},
		{name: "array by index", x: `{"s":[{"v":1},{"v":2}]}`, y: `{"s":[{"v":1},{"v":3},{"v":4}]}`,
			differ: []string{"len(s): 2 -> 3", "s[].v: 2 -> 3"}, keys: []string{"len(s)", "s[].v"}},
		{name: "array by id", x: `{"s":[{"id":1,"v":"a"},{"id":2,"v":"b"}]}`, y: `{"s":[{"id":2,"v":"b"},{"id":1,"v":"a"}]}`,
			keys: []string{"len(s)", "s[].id", "s[].v", "unmatched(s)"}},
		{name: "array by id, one changed", x: `{"s":[{"id":"x1","v":"a"},{"id":"x2","v":"b"}]}`, y: `{"s":[{"id":"x2","v":"c"},{"id":"x1","v":"a"}]}`,
			differ: []string{`s[].v: "b" -> "c"`}},
		{name: "ids not shared", x: `[{"id":"a1","v":1}]`, y: `[{"id":"b1","v":1}]`, differ: []string{`[].id: "a1" -> "b1"`}},
		{name: "root array", x: `[1,2]`, y: `[1,2]`, keys: []string{"[]", "len((root))"}},
		{name: "not json", x: `hello`, y: `hullo`, differ: []string{`(body): "hello" -> "hullo"`}},
		{name: "json against text", x: `{"a":1}`, y: `oops`, differ: []string{`(body): 7 bytes, sha256 015abd7f5cc5 -> "oops"`}},
		{name: "trailing data is not json", x: `{"a":1} {}`, y: `{"a":1} {}`, keys: []string{"(body)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			differ, keys := diffOf(t, tc.x, tc.y)
			if strings.Join(differ, "\n") != strings.Join(tc.differ, "\n") {
				t.Errorf("differing fields:\n%s\nwant:\n%s", strings.Join(differ, "\n"), strings.Join(tc.differ, "\n"))
			}
			if tc.keys != nil && strings.Join(keys, " ") != strings.Join(tc.keys, " ") {
				t.Errorf("fields compared %q, want %q", keys, tc.keys)
			}
		})
	}
}

func TestMessageType(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		text bool
		want string
	}{
		{`{"event":"connected","data":{"userId":"u1"}}`, true, "connected"},
		{`{"type":"update","payload":{"body":{"t":"new-message"}}}`, true, "update/new-message"},
		{`{"type":"update","payload":{"t":"new-machine"}}`, true, "update/new-machine"},
		{`{"type":"3fa85f64x5717x4562xb3fcx2c963f66afa6"}`, true, "(json)"}, // an id is no type
		{`{"a":1}`, true, "(json)"},
		{`[1,2]`, true, "(json)"},
		{`ping`, true, "(text)"},
		{"\x00\x01", false, "(binary)"},
	} {
		v, isJSON := decodeJSON([]byte(tc.msg))
		if got := messageType(v, isJSON, tc.text); got != tc.want {
			t.Errorf("type of %s = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestFieldNoise(t *testing.T) {
	stat := func(vals ...string) *fieldStat {
		s := &fieldStat{}
		for _, v := range vals {
			s.noteA(v)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    *fieldStat
		want string
	}{
		{"uuids", stat(`"3fa85f64-5717-4562-b3fc-2c963f66afa6"`, `"3fa85f64-5717-4562-b3fc-2c963f66afa6"`), "id-like values"},
		{"rfc3339", stat(`"2026-12-03T11:25:09.766Z"`, `"2026-12-03T11:25:09.801Z"`), "timestamps"},
		{"epoch ms", stat("1796297109744", "1796297109744", "1796297109801"), "timestamps"},
		{"counter", stat("1", "2", "3", "4", "5", "6"), "a different value in most answers"},
		{"constant", stat(`"healthy"`, `"healthy"`, `"healthy"`, `"healthy"`, `"healthy"`), ""},
		{"two states", stat(`"active"`, `"archived"`, `"active"`, `"active"`, `"archived"`, `"active"`), ""},
		{"few values", stat(`"a"`, `"b"`), ""},
	} {
		if got := tc.s.noise(); got != tc.want {
			t.Errorf("%s: noise %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMasked(t *testing.T) {
	for _, tc := range []struct {
		x, y string
		same bool
	}{
		{`"/v1/sessions/3995b4e5370b3ed6d0e8e98dea97a0a9"`, `"/v1/sessions/2b122dd89d8dc36e2c32c42bd98c426a"`, true},
		{`"{\"c\":\"V3ao4YkYdQG5h2cjDHyJdqqYnMMYZGcbp7vpjM76GzaXEOjhE3xRTg==\",\"t\":\"encrypted\"}"`,
			`"{\"c\":\"t4+gggFv8t6kvVzvvlu9tznybrTFU/5r2mb4jCUmBeDr7GijeTqUbL2ruu==\",\"t\":\"encrypted\"}"`, true},
		{`"session 3fa85f64-5717-4562-b3fc-2c963f66afa6 at 1796297109744"`, `"session 9aa85f64-5717-4562-b3fc-2c963f66afa7 at 1796297109801"`, true},
		{`"{\"c\":\"V3ao4YkYdQG5h2cjDHyJ\",\"t\":\"encrypted\"}"`, `"{\"c\":\"V3ao4YkYdQG5h2cjDHyJ\",\"t\":\"plain\"}"`, false},
		{`"healthy"`, `"ok"`, false},
		{`"v1"`, `"v2"`, false},
		{`12`, `13`, false},
	} {
		if got := masked(tc.x) == masked(tc.y); got != tc.same {
			t.Errorf("%s and %s masked alike: %v, want %v (%q %q)", tc.x, tc.y, got, tc.same, masked(tc.x), masked(tc.y))
		}
	}
	s := &fieldStat{}
	for range 10 {
		s.noteA(`"session of x"`)
	}
	s.d, s.dSub = 10, 1
	if got := s.noise(); got != "differs in id-like parts only" {
		t.Errorf("noise %q for a field differing in ids only", got)
	}
}

func TestExampleRedacted(t *testing.T) {
	rd := newRedactor()
	for _, tc := range []struct {
		key, value string
		redacted   bool
		want       string
	}{
		{key: "token", value: `"s3cr3t-value-123"`, redacted: true},
		{key: "session.accessToken", value: `"abc"`, redacted: true},
		{key: "header Set-Cookie", value: `"sid=abc; Path=/"`, redacted: true},
		{key: "owner", value: `"Bearer abcdef0123"`, redacted: true, want: `"Bearer <redacted:`},
		{key: "ticket2", value: `"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"`, redacted: true},
		{key: "status", value: `"healthy"`, want: `"healthy"`},
		{key: "note", value: `"` + strings.Repeat("x", 100) + `"`, want: `"` + strings.Repeat("x", 58) + "…"},
		{key: "token", value: "null", want: "null"},
	} {
		got := rd.example(tc.key, tc.value)
		if tc.redacted && (!strings.Contains(got, "<redacted:") || strings.Contains(got, "s3cr3t") || strings.Contains(got, "abcdef") || strings.Contains(got, "c2ln")) {
			t.Errorf("example of %s %s = %s: want it redacted", tc.key, tc.value, got)
		}
		if tc.want != "" && !strings.HasPrefix(got, tc.want) {
			t.Errorf("example of %s %s = %s, want %s…", tc.key, tc.value, got, tc.want)
		}
	}
}

func TestIgnore(t *testing.T) {
	rules, err := ParseIgnore([]string{"updatedAt", "GET /v1/feed: items[].cursor", "header Cache-*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		endpoint, key string
		want          bool
	}{
		{"GET /v1/sessions", "sessions[].updatedAt", true},
		{"GET /v1/sessions", "updatedAt", true},
		{"GET /v1/sessions", "sessions[].createdAt", false},
		{"GET /v1/feed", "items[].cursor", true},
		{"GET /v1/other", "items[].cursor", false},
		{"GET /x", "header Cache-Control", true},
	} {
		if _, got := ignored(rules, tc.endpoint, tc.key); got != tc.want {
			t.Errorf("%s %s ignored = %v, want %v", tc.endpoint, tc.key, got, tc.want)
		}
	}
	if _, err := ParseIgnore([]string{"  "}); err == nil || !strings.Contains(err.Error(), "want [ENDPOINT: ]FIELD") {
		t.Errorf("empty rule: %v", err)
	}
}

// FuzzDiff compares arbitrary bodies: no panic, a document compared with
// itself has no differing field, and the fields compared in x against y
// are those compared in y against x, with the same verdicts.
func FuzzDiff(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"id":1},{"id":2}]`, `{"s":[{"id":"x","v":[1,2,{"k":null}]}]}`, `"str"`, `not json`, ``, `{"a":`} {
		f.Add([]byte(s), []byte(`{"a":2}`))
	}
	f.Fuzz(func(t *testing.T, x, y []byte) {
		self := newDocDiff()
		self.bodyDiff("", x, x)
		for k, fd := range self.fields {
			if fd.differ {
				t.Fatalf("%q differs from itself at %s", x, k)
			}
		}
		xy, yx := newDocDiff(), newDocDiff()
		xy.bodyDiff("", x, y)
		yx.bodyDiff("", y, x)
		if xy.budget <= 0 || yx.budget <= 0 {
			return // cut at maxLeaves: not symmetric by design
		}
		for k, fd := range xy.fields {
			g, ok := yx.fields[k]
			if !ok || g.differ != fd.differ {
				t.Fatalf("field %s: x against y %+v, y against x %+v", k, fd, g)
			}
		}
		if len(xy.fields) != len(yx.fields) {
			t.Fatalf("%d fields one way, %d the other", len(xy.fields), len(yx.fields))
		}
	})
}

// FuzzParseIgnore reads arbitrary --ignore-field rules: an error or
// rules that match without panicking.
func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{"updatedAt", "GET /v1/feed: items[].cursor", "header Cache-*", "*", ": x", "WS /v1/updates: message[pong].*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseIgnore([]string{s})
		if err != nil {
			return
		}
		ignored(rules, "GET /v1/feed", "items[].cursor")
	})
}
