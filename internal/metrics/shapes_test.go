package metrics

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

func shaped(endpoint, got, want string) traffic.Result {
	return traffic.Result{Kind: traffic.ResultHTTP, Endpoint: endpoint, Flow: "u", Latency: time.Millisecond,
		Service: time.Millisecond, Status: 200, Expected: 200, Shape: got, ExpectedShape: want}
}

func TestShapes(t *testing.T) {
	const rec = "{session:{id:str,seq:num}}"
	c := NewCollector()
	for i := 0; i < 10; i++ {
		c.Add(shaped("GET /v1/sessions/{id}", rec, rec))
	}
	for i := 0; i < 3; i++ {
		c.Add(shaped("GET /v1/sessions/{id}", "{session:{id:str,seq:str}}", rec))
	}
	c.Add(shaped("GET /v1/sessions/{id}", "", rec))                                       // live body not JSON
	c.Add(shaped("GET /v1/sessions/{id}", "{error:str}", ""))                             // nothing recorded to check against
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /health", Status: 200}) // no shapes at all
	c.Add(traffic.Result{Kind: traffic.ResultHTTP, Endpoint: "GET /v1/sessions/{id}", NotSent: traffic.NotSentInFlight, Shape: rec, ExpectedShape: rec})
	s := c.Snapshot()

	ep := s.Endpoint("GET /v1/sessions/{id}")
	want := &Shapes{
		Count: 14, ChecksPassed: 10, ChecksFailed: 4,
		Seen: []ShapeCount{{rec, 10}, {"{session:{id:str,seq:str}}", 3}, {"{error:str}", 1}},
		Mismatches: []ShapeMismatch{
			{rec, "{session:{id:str,seq:str}}", 3},
			{rec, "", 1},
		},
	}
	if !reflect.DeepEqual(ep.Shapes, want) {
		t.Errorf("endpoint shapes = %+v\nwant %+v", ep.Shapes, want)
	}
	if got := ep.Shapes.FailRate(); got != 4.0/14 {
		t.Errorf("fail rate %v", got)
	}
	if o := s.Overall.Shapes; o == nil || o.Count != 14 || o.ChecksPassed != 10 || o.ChecksFailed != 4 || o.Seen != nil || o.Mismatches != nil {
		t.Errorf("overall shapes = %+v, want totals only", o)
	}
	if s.Endpoint("GET /health").Shapes != nil {
		t.Error("an endpoint without JSON responses has shapes")
	}
	// round trip
	d, err := Decode(bytes.NewReader(encode(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Endpoint("GET /v1/sessions/{id}").Shapes, want) {
		t.Errorf("decoded shapes = %+v", d.Endpoint("GET /v1/sessions/{id}").Shapes)
	}
}

// An endpoint answering many shapes keeps the most frequent; totals stay
// exact, in one run and over merged shards.
func TestShapesCap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var results []traffic.Result
	for k := 0; k < 3*MaxShapes; k++ {
		// shape k occurs 100-4k times: the low k are the most frequent
		for i := 0; i < 100-4*k; i++ {
			res := shaped("GET /x", fmt.Sprintf("{k%02d:num}", k), "{k00:num}")
			res.Flow = fmt.Sprintf("f%d", r.IntN(6))
			results = append(results, res)
		}
	}
	r.Shuffle(len(results), func(i, j int) { results[i], results[j] = results[j], results[i] })
	whole := NewCollector()
	for _, res := range results {
		whole.Add(res)
	}
	sh := whole.Snapshot().Endpoint("GET /x").Shapes
	if len(sh.Seen) != MaxShapes || len(sh.Mismatches) != MaxShapes {
		t.Fatalf("kept %d shapes and %d mismatches, want %d", len(sh.Seen), len(sh.Mismatches), MaxShapes)
	}
	if sh.Count != int64(len(results)) || sh.ChecksPassed != 100 || sh.ChecksFailed != int64(len(results))-100 {
		t.Errorf("totals %+v", sh)
	}
	for i, c := range sh.Seen {
		if i > 0 && c.Count > sh.Seen[i-1].Count {
			t.Errorf("seen not by count: %+v", sh.Seen)
		}
	}
	if sh.Other() <= 0 || sh.MismatchesOther() <= 0 {
		t.Errorf("other = %d, mismatches other = %d", sh.Other(), sh.MismatchesOther())
	}

	// merged shards: totals exact, lists the most frequent
	merged := &Snapshot{}
	for f := 0; f < 6; f++ {
		c := NewCollector()
		for _, res := range results {
			if res.Flow == fmt.Sprintf("f%d", f) {
				c.Add(res)
			}
		}
		merged.Merge(c.Snapshot())
	}
	m := merged.Endpoint("GET /x").Shapes
	if m.Count != sh.Count || m.ChecksPassed != sh.ChecksPassed || m.ChecksFailed != sh.ChecksFailed || len(m.Seen) != MaxShapes {
		t.Errorf("merged %+v, whole %+v", m, sh)
	}
	if m.Seen[0].Shape != "{k00:num}" {
		t.Errorf("most frequent merged shape %q", m.Seen[0].Shape)
	}
}

func TestClipShape(t *testing.T) {
	long := "{" + strings.Repeat("a:num,", 2000) + "é:str}"
	c := ClipShape(long)
	if len(c) > MaxShapeBytes || !strings.HasSuffix(c, "…") || !strings.HasPrefix(long, strings.TrimSuffix(c, "…")) {
		t.Fatalf("clipped to %d bytes: ...%q", len(c), c[len(c)-20:])
	}
	if ClipShape("{a:num}") != "{a:num}" {
		t.Error("short shape changed")
	}
	col := NewCollector()
	col.Add(shaped("GET /x", long, long))
	sh := col.Snapshot().Endpoint("GET /x").Shapes
	if sh.ChecksPassed != 1 || sh.Seen[0].Shape != c {
		t.Errorf("long shape stored as %d bytes, checks %d", len(sh.Seen[0].Shape), sh.ChecksPassed)
	}
}

func TestDecodeShapeErrors(t *testing.T) {
	c := NewCollector()
	c.Add(shaped("GET /x", "{a:num}", "{a:str}"))
	good := string(encode(t, c.Snapshot()))
	if _, err := Decode(strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"seen over count", `"count": 1,\s+"checks_passed": 0,\s+"checks_failed": 1,\s+"seen"`, `"count": 0, "checks_passed": 0, "checks_failed": 1, "seen"`, "add up to more than the count 0"},
		{"mismatches over failed", `"checks_failed": 1,\s+"seen"`, `"checks_failed": 0, "seen"`, "more than the 0 failed checks"},
		{"negative", `"checks_failed": 1,`, `"checks_failed": -1,`, "negative count"},
		{"empty shape", `"shape": "\{a:num\}"`, `"shape": ""`, "without a shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.from)
			loc := re.FindStringIndex(good)
			if loc == nil {
				t.Fatalf("document lacks %s", tc.from)
			}
			doc := good[:loc[0]] + tc.to + good[loc[1]:]
			_, err := Decode(strings.NewReader(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// Buckets visits every value once, in order, sparse or dense alike.
func TestDistBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{0, 1, 50, 20000} {
		d := NewDist()
		var vals []time.Duration
		for i := 0; i < n; i++ {
			v := time.Duration(r.ExpFloat64()*float64(40*time.Millisecond)) + 3*time.Microsecond
			vals = append(vals, v.Truncate(time.Microsecond))
			d.Record(v)
		}
		var total int64
		prev := time.Duration(-1)
		d.Buckets(func(lo, w time.Duration, c int64) bool {
			if lo <= prev || w <= 0 || c <= 0 {
				t.Fatalf("n=%d: bucket %v+%v count %d after %v", n, lo, w, c, prev)
			}
			var in int64
			for _, v := range vals {
				if v >= lo && v < lo+w {
					in++
				}
			}
			if in != c {
				t.Fatalf("n=%d: bucket [%v,%v) counts %d, values in it %d", n, lo, lo+w, c, in)
			}
			prev = lo
			total += c
			return true
		})
		if total != int64(n) {
			t.Errorf("n=%d: buckets hold %d", n, total)
		}
	}
}

func TestShapeDiff(t *testing.T) {
	for _, tc := range []struct {
		name, want, got string
		diff            []string
	}{
		{"equal", "{a:num}", "{a:num}", nil},
		{"null then a value", "{a:null,b:num}", "{a:str,b:num}", nil},
		{"a value then null", "{a:{x:str,y:num}}", "{a:null}", nil},
		{"empty array then items", "{items:[]}", "{items:[{id:str,n:num}]}", nil},
		{"empty object then keys", "{settings:{}}", "{settings:{theme:str}}", nil},
		{"retyped", "{a:num}", "{a:str}", []string{"-a: num", "+a: str"}},
		{"field lost", "{a:num,b:str}", "{a:num}", []string{"-b: str"}},
		{"null field lost", "{a:num,b:null}", "{a:num}", []string{"-b: null"}},
		{"noise beside a change", "{c:null,s:[{id:num}]}", "{c:str,s:[{id:str}]}", []string{"-s[].id: num", "+s[].id: str"}},
		{"null is not a prefix match", "{ab:num,a:null}", "{ab:str,a:str}", []string{"-ab: num", "+ab: str"}},
		{"union member with null gone", "{s:[{a:null,k:str}|{a:str,k:null}]}", "{s:[{a:str,k:null}]}", nil},
		{"optional key absent", "{items:[{body:{id:str,m:str}}]}", "{items:[{body:{id:str}}]}", []string{"-items[].body.m: str"}},
		{"whole response emptied", "{a:num}", "{}", []string{"-a: num", "+.: {}"}},
		{"error body instead", "{session:{id:str}}", "{error:str}", []string{"-session.id: str", "+error: str"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ShapeDiff(tc.want, tc.got)
			if strings.Join(got, "|") != strings.Join(tc.diff, "|") {
				t.Errorf("ShapeDiff = %q, want %q", got, tc.diff)
			}
			if ShapesCompatible(tc.want, tc.got) != (len(tc.diff) == 0) {
				t.Errorf("ShapesCompatible disagrees")
			}
		})
	}
	// the check counts compatible shapes as passed, and keeps only real
	// mismatches
	c := NewCollector()
	c.Add(shaped("GET /x", "{a:str,b:num}", "{a:null,b:num}"))
	c.Add(shaped("GET /x", "{a:str,b:str}", "{a:null,b:num}"))
	sh := c.Snapshot().Endpoint("GET /x").Shapes
	if sh.ChecksPassed != 1 || sh.ChecksFailed != 1 || len(sh.Mismatches) != 1 || sh.Mismatches[0].Got != "{a:str,b:str}" {
		t.Errorf("shapes %+v", sh)
	}
}
