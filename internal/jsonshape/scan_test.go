package jsonshape

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// TestScanMatchesDecode checks the scanner against encoding/json on the
// cases its shortcuts are about: keys out of order, given twice, escaped,
// not ASCII or not UTF-8, objects past maxKeys, arrays past maxElements,
// values past maxDepth.
func TestScanMatchesDecode(t *testing.T) {
	many := func(n int, order func(int) int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%03d":%d`, order(i), i)
		}
		b.WriteByte('}')
		return b.String()
	}
	for _, in := range []string{
		`{"b":1,"a":"x","c":null,"d":true}`,
		`{"a":1,"b":2,"a":"x"}`,
		`{"a":1,"a":2,"a":[]}`,
		`{"b":{"x":1},"a":1,"b":{"y":2},"a":{}}`,
		`{"abcdefgh":1,"abcdefg":2,"abcdefgh\u0000":3,"abcdefghi":4,"abcdefgg":5,"":6,"\u0000":7}`,
		`{"é":1,"e":2,"日本":3,"\u00e9":4,"a\"b":5,"a\\b":6,"\u2028":7,"<&>":8,"tab\t":9}`,
		"{\"\xff\":1,\"\xfe\":2,\"\ufffd\":3,\"a\xffb\":4,\"\xed\xa0\x80\":5}",
		`{"\ud83d\ude00":1,"\ud83d":2,"\ude00":3,"\ud83dx":4,"\ud83d\u0041":5,"\ud83d\ud83d\ude00":6}`,
		`{"\b\f\n\r\t\/":1,"\u001f":2,"\u007f":3,"a b":4,"a.b":5,"@type":6,"$ref":7}`,
		many(64, func(i int) int { return i }),
		many(65, func(i int) int { return i }),
		many(65, func(i int) int { return 64 - i }),
		many(100, func(i int) int { return i * 37 % 100 }),
		many(70, func(i int) int { return i % 50 }),
		`[1,"a",true,null,{},[]]`,
		`[{"b":1},{"a":1},{"b":1},{"c":1},{"d":1},{"e":1}]`,
		`[3,2,1,"x",{"a":[]}]`,
		`[1,1,1,1,"x"]`,
		`[1,2,3,4,5,{]`,
		`[1,2,3,4,5,{"a" 1}]`,
		`[[2,"a"],["a",2],[null]]`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1},"h2":[1]}}}}}}}}`,
		`[[[[[[[[[{"a":1}],[2]]]]]]]]]`,
		`[[[[[[[[{"b":1,"a":[1,{"c":2}]}]]]]]]]]`,
		`[[[[[[[[{"b":1,"a":[1,{"c":2]}]]]]]]]]`,
		`{"a":[{"z":1,"y":2},{"y":2,"z":1},{"x":{"b":1,"a":2}}],"b":{"d":1,"c":2}}`,
	} {
		got, ok := Of([]byte(in))
		want, wantOK := decodeOf([]byte(in))
		if ok != wantOK || got != want {
			t.Errorf("%s: scanned %q %v, decoded %q %v", in, got, ok, want, wantOK)
		}
	}
}

func TestAppendQuoted(t *testing.T) {
	check := func(s string) {
		want, _ := json.Marshal(s)
		if got := appendQuoted(nil, []byte(s)); string(got) != string(want) {
			t.Fatalf("appendQuoted(%q) = %s, want %s", s, got, want)
		}
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r < 0x3000 || r%97 == 0 || r == 0xfffd {
			check("a" + string(r) + "b")
		}
	}
	for c := 0; c < 256; c++ {
		check(string([]byte{byte(c)}))
		check(string([]byte{'x', byte(c), 'y'}))
	}
	for _, s := range []string{"", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x80", "\xe2\x80\xa8\xe2\x80\xa9", "日本\xffx"} {
		check(s)
	}
}

func TestAppendUnquoted(t *testing.T) {
	for _, lit := range []string{
		`""`, `"abc"`, `"\"\\\/\b\f\n\r\t"`, `"\u0000\u00e9\u2028\uFFFF\uffFd"`,
		`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`,
		`"\ud83d\\u0041"`, `"\udbff\udfff"`, `"\ud800\udc00z"`, `"\ud83d\ude0"`,
		"\"\xff\xfe\"", "\"a\xe2\x80b\"", "\"\xed\xa0\x80\"", "\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			continue // the scanner rejects it too
		}
		if got := appendUnquoted(nil, []byte(lit[1:len(lit)-1])); string(got) != want {
			t.Errorf("appendUnquoted(%s) = %q, want %q", lit, got, want)
		}
	}
}

// TestOfAllocs checks that a shape met before costs no allocation.
func TestOfAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes the scanner pool drop scanners")
	}
	for _, doc := range [][]byte{sample, small, sessions} {
		Of(doc)
		if n := testing.AllocsPerRun(100, func() { Of(doc) }); n != 0 {
			t.Errorf("Of of a shape met before: %v allocations, want 0", n)
		}
	}
}

// TestOfConcurrent takes shapes from many goroutines at once, shapes that
// share slots of the intern table among them (run it with -race).
func TestOfConcurrent(t *testing.T) {
	docs := make([][]byte, 3*internSlots)
	want := make([]string, len(docs))
	for i := range docs {
		docs[i] = []byte(fmt.Sprintf(`{"k%d":[1,{"x":"y"}],"b":null}`, i))
		want[i], _ = decodeOf(docs[i])
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range docs {
				j := (i*7 + g*131) % len(docs)
				if got, _ := Of(docs[j]); got != want[j] {
					t.Errorf("Of(%s) = %q, want %q", docs[j], got, want[j])
					return
				}
			}
		}()
	}
	wg.Wait()
	held := 0
	for i := range internTable {
		if p := internTable[i].Load(); p != nil {
			held += len(*p)
		}
	}
	if n := internBytes.Load(); n != int64(held) || n > internBudget {
		t.Errorf("interned %d bytes, table holds %d, budget %d", n, held, internBudget)
	}
}

// TestScanMatchesDecodeRandom compares the scanner with encoding/json on
// generated documents, wide and deep enough to pass the caps, with keys
// that repeat, need escapes or are not UTF-8.
func TestScanMatchesDecodeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{`a`, `b`, `ab`, `abcdefgh`, `abcdefghi`, `abcdefgg`, ``, `a b`, `\u0061`, `\"`, `\ud83d\ude00`, `\ud83d`, "\xff", `é`, `<`, `\u2029`, `A`, `_`, `-1`}
	var gen func(b *strings.Builder, depth int)
	gen = func(b *strings.Builder, depth int) {
		switch k := rng.IntN(10); {
		case k < 3 && depth < 12 && b.Len() < 4000:
			b.WriteByte('{')
			n := rng.IntN(6)
			if depth < 2 && rng.IntN(4) == 0 {
				n = 60 + rng.IntN(30)
			}
			for i := 0; i < n; i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				if n > 10 {
					fmt.Fprintf(b, `"k%d"`, rng.IntN(300))
				} else {
					fmt.Fprintf(b, `"%s"`, keys[rng.IntN(len(keys))])
				}
				b.WriteByte(':')
				gen(b, depth+1)
			}
			b.WriteByte('}')
		case k < 6 && depth < 12 && b.Len() < 4000:
			b.WriteByte('[')
			n := rng.IntN(8)
			for i := 0; i < n; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				gen(b, depth+1)
			}
			b.WriteByte(']')
		default:
			b.WriteString([]string{`1`, `"s"`, `true`, `null`, `-2.5e3`, `"\u00e9"`}[rng.IntN(6)])
		}
	}
	for range 2000 {
		var b strings.Builder
		gen(&b, 0)
		doc := []byte(b.String())
		if rng.IntN(10) == 0 && len(doc) > 1 { // and broken ones
			doc = doc[:rng.IntN(len(doc))]
		}
		got, ok := Of(doc)
		want, wantOK := decodeOf(doc)
		if ok != wantOK || got != want {
			t.Fatalf("%s: scanned %q %v, decoded %q %v", doc, got, ok, want, wantOK)
		}
	}
}

func TestNumberLen(t *testing.T) {
	for in, want := range map[string]int{
		"0": 1, "-0": 2, "12,": 2, "1.5e+3]": 6, "-12.25E-2": 9, "0123": 1,
		"01.": 1, "": -1, "-": -1, "1.": -1, ".5": -1, "1e": -1, "1e+": -1, "x": -1, "+1": -1,
	} {
		if got := NumberLen([]byte(in)); got != want {
			t.Errorf("NumberLen(%q) = %d, want %d", in, got, want)
		}
	}
}
