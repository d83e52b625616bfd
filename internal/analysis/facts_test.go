package analysis

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

func exchange(method, target, reqBody string, status int, respBody string, hdr ...string) traffic.Record {
	x := &traffic.Exchange{Flow: "auth:1",
		Request:  traffic.Request{Method: method, URL: target, Body: traffic.Body{Data: []byte(reqBody)}},
		Response: &traffic.Response{Status: status, Header: traffic.Fields{{Name: "Content-Type", Value: "application/json"}}, Body: traffic.Body{Data: []byte(respBody)}},
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		x.Request.Header = append(x.Request.Header, traffic.Field{Name: hdr[i], Value: hdr[i+1]})
	}
	return traffic.Record{Kind: traffic.KindExchange, Exchange: x}
}

func TestFactsOfAnExchange(t *testing.T) {
	const sid = "2dcc94455b03816fb33edbdeab59a767"
	rec := exchange("POST", "/v1/sessions/"+sid+"/messages?cursor=c0ffee1234&token=tok-query-0001",
		`{"localId":"8b864e2a-fb31-4908-a2d0-3c2db3c0091b","key":"<redacted:0badc0de>"}`, 200,
		`{"message":{"id":"354c120ea229f0809b7a65a3","seq":3,"tags":["first-tag-1","x"]}}`,
		"Authorization", "Bearer tok-header-0002", "User-Agent", "node")
	f := Of(rec, Options{Route: func(m, p string) string { return m + " /v1/sessions/{id}/messages" }})

	if f.Endpoint.Name != "POST /v1/sessions/{id}/messages" || f.URL == nil || f.URL.Path != "/v1/sessions/"+sid+"/messages" {
		t.Fatalf("endpoint %+v url %v", f.Endpoint, f.URL)
	}
	if f.Status != 200 || f.Shape() == "" {
		t.Fatalf("status %d shape %q", f.Status, f.Shape())
	}
	got := map[string]Where{}
	for _, v := range f.Values {
		if _, dup := got[v.S]; dup {
			t.Fatalf("value %q listed twice", v.S)
		}
		got[v.S] = v.Where
	}
	want := map[string]Where{
		"8b864e2a-fb31-4908-a2d0-3c2db3c0091b": InBody,
		"<redacted:0badc0de>":                  InBody,
		"sessions":                             InURL,
		"messages":                             InURL,
		sid:                                    InURL,
		"c0ffee1234":                           InURL,
		"tok-query-0001":                       InURL,
		"tok-header-0002":                      InHeader,
		"354c120ea229f0809b7a65a3":             InResponse,
		"first-tag-1":                          InResponse,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("values %v\nwant %v", got, want)
	}
	// Sends: dynamic values (with a digit) of the URL, headers and body.
	for _, v := range []string{sid, "c0ffee1234", "tok-query-0001", "tok-header-0002", "8b864e2a-fb31-4908-a2d0-3c2db3c0091b"} {
		if !slices.Contains(f.Sends, v) {
			t.Errorf("sends %v lacks %q", f.Sends, v)
		}
	}
	if slices.Contains(f.Sends, "messages") {
		t.Errorf("sends %v has a value without a digit", f.Sends)
	}
	if !slices.Equal(f.Returns, []string{"354c120ea229f0809b7a65a3", "first-tag-1"}) {
		t.Errorf("returns %v", f.Returns)
	}
	if !slices.Equal(f.Placeholders, []Placeholder{{Value: "<redacted:0badc0de>", Key: "key"}}) {
		t.Errorf("placeholders %v", f.Placeholders)
	}
	slices.Sort(f.Credentials)
	if !slices.Equal(f.Credentials, []string{"tok-header-0002", "tok-query-0001"}) {
		t.Errorf("credentials %v", f.Credentials)
	}
}

// The facts of a record are derived once and shared by its later copies
// and rounds; client-made values are classified where the corpus first
// shows them.
func TestAnalyzerClassifiesOnceAndShares(t *testing.T) {
	a := NewAnalyzer(Options{})
	a.Keep(true) // the corpus is read again
	recs := []traffic.Record{
		// a lookup that finds nothing, then the create that makes it
		exchange("GET", "/v1/kv/settings.0", "", 404, `{"error":"not found"}`),
		exchange("POST", "/v1/kv", `{"key":"settings.0","tag":"home-1-5"}`, 200, `{"id":"srv0000000001","tag":"home-1-5"}`),
		exchange("GET", "/v1/things/srv0000000001", "", 200, `{}`),
		exchange("PUT", "/v1/machines/machine-0007", `{"active":true}`, 200, `{}`),
	}
	var first []*Facts
	for i, r := range recs {
		first = append(first, a.Record(uint64(i), r))
	}
	if !slices.Equal(first[1].Vary, []string{"settings.0", "home-1-5"}) {
		t.Errorf("create varies %v", first[1].Vary)
	}
	if len(first[2].Vary) != 0 {
		t.Errorf("a server-made id varies: %v", first[2].Vary)
	}
	if !slices.Equal(first[3].Vary, []string{"machine-0007"}) {
		t.Errorf("PUT resource varies %v", first[3].Vary)
	}
	// a second copy reads the records again: the same facts, not derived
	for i, r := range recs {
		if f := a.Record(uint64(i), r); f != first[i] {
			t.Fatalf("record %d derived again", i)
		}
	}
	if st := a.Stats(); st.Derived != int64(len(recs)) || st.ClientValues != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFactsOfWebSocketMessages(t *testing.T) {
	client := traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{FromClient: true, Opcode: traffic.OpText,
		Payload: []byte(`{"event":"session-alive","data":{"sid":"2dcc94455b03816fb33edbdeab59a767"}}`)}}
	f := Of(client, Options{})
	if !slices.Equal(f.Sends, []string{"2dcc94455b03816fb33edbdeab59a767"}) || f.Values[0].Where != InBody {
		t.Fatalf("client message: sends %v values %v", f.Sends, f.Values)
	}
	server := traffic.Record{Kind: traffic.KindWSMessage, WSMessage: &traffic.WSMessage{Opcode: traffic.OpText,
		Payload: []byte(`{"type":"update","id":"upd00000001"}`)}}
	f = Of(server, Options{})
	if len(f.Sends) != 0 || len(f.Values) != 1 || f.Values[0].Where != InResponse {
		t.Fatalf("server message: sends %v values %v", f.Sends, f.Values)
	}
}

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", " BEARER x": "x", "Basic abc": "", "Bearer": "", "Bearer  ": ""} {
		got, ok := traffic.Bearer(in)
		if got != want || ok != (want != "") {
			t.Errorf("Bearer(%q) = %q, %v", in, got, ok)
		}
	}
}

// A proof key is found quoted anywhere in a body, whatever its case,
// Unicode case mapping included (the Kelvin sign lowercases to k).
func TestHasProof(t *testing.T) {
	for body, want := range map[string]bool{
		``:                                  false,
		`{"user":"me","Password":"x"}`:      true,
		`{"kind":"password"}`:               true,
		`{"passwords":"x","pass":"word"}`:   false,
		`{"PRIVATE_KEY" : "x"}`:             true,
		`{"private\u212aey":"x"}`:           false,
		"{\"private\u212aey\":\"x\"}":       true,
		"{\"caf\u00e9\":\"signature\"}":     true,
		`password`:                          false,
		`"password`:                         false,
		`{"a":"b","client_secret":1}`:       true,
		`{"x":"\"passphrase\" in a value"}`: false,
	} {
		if got := hasProof([]byte(body)); got != want {
			t.Errorf("hasProof(%q) = %v, want %v", body, got, want)
		}
	}
}

// Query values come each name's values together, names in the order the
// query first gives them: the same order every time.
func TestQueryValuesInOrder(t *testing.T) {
	rec := exchange("GET", "/v1/x?access_token=tok-aaaaaaaa1&b=bbbbbbbb2&bad=%zz&token=tok-bbbbbbbb2&access_token=tok-cccccccc3", "", 200, `{}`)
	for range 3 {
		f := Of(rec, Options{})
		if want := []string{"tok-aaaaaaaa1", "tok-cccccccc3", "tok-bbbbbbbb2"}; !slices.Equal(f.Credentials, want) {
			t.Fatalf("credentials %v, want %v", f.Credentials, want)
		}
		if want := []string{"tok-aaaaaaaa1", "tok-cccccccc3", "bbbbbbbb2", "tok-bbbbbbbb2"}; !slices.Equal(f.Sends, want) {
			t.Fatalf("sends %v, want %v", f.Sends, want)
		}
	}
	// a long query too (over 64 pairs)
	q := []string{"access_token=tok-first-001"}
	want := []string{"tok-first-001", "tok-last-0001"}
	for i := range 40 {
		q = append(q, fmt.Sprintf("token=tok-%08d", i), fmt.Sprintf("x%d=%d", i%3, i))
		want = append(want, fmt.Sprintf("tok-%08d", i))
	}
	f := Of(exchange("GET", "/v1/x?"+strings.Join(q, "&")+"&access_token=tok-last-0001", "", 200, `{}`), Options{})
	if !slices.Equal(f.Credentials, want) {
		t.Fatalf("credentials %v, want %v", f.Credentials, want)
	}
}

// A record's classes are read after it is classified: a class forgot for
// room while classifying it (the oldest) no longer varies it.
func TestAnalyzerForgetsOldestClass(t *testing.T) {
	a := NewAnalyzer(Options{})
	const made = "client-made-0001"
	if f := a.Record(0, exchange("POST", "/v1/kv", `{"key":"`+made+`"}`, 200, `{}`)); !slices.Equal(f.Vary, []string{made}) {
		t.Fatalf("first record varies %v", f.Vary)
	}
	var resp strings.Builder
	resp.WriteString(`{"ids":[`)
	for i := range maxClasses {
		if i > 0 {
			resp.WriteByte(',')
		}
		fmt.Fprintf(&resp, `"srv%08d"`, i)
	}
	resp.WriteString(`]}`)
	f := a.Record(1, exchange("POST", "/v1/kv", `{"key":"`+made+`"}`, 200, resp.String()))
	if len(f.Vary) != 0 || len(f.Makes) != 0 {
		t.Fatalf("a forgotten class varies %v, makes %v", f.Vary, f.Makes)
	}
	if f := a.Record(2, exchange("POST", "/v1/kv", `{"key":"`+made+`"}`, 200, `{}`)); !slices.Equal(f.Vary, []string{made}) {
		t.Fatalf("a value sent again varies %v", f.Vary)
	}
}
