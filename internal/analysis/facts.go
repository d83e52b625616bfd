package analysis

import (
	"bytes"
	"encoding/binary"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/jsonshape"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

// Value bounds: shorter or longer strings are never carried, varied or
// linked.
const (
	MinValue = 8
	MaxValue = 512
)

// MaxShapeBody caps the recorded bodies whose JSON shape is taken.
const MaxShapeBody = 64 << 10

// Where says where a value was seen in a record.
type Where uint8

const (
	// InBody is a request body or a client WebSocket message.
	InBody Where = iota
	// InPutURL is the last path segment of a PUT.
	InPutURL
	// InURL is another path segment or a query value.
	InURL
	// InHeader is a header value (bearer credentials split off, and each
	// cookie of a Cookie header, each entity tag of an If-Match).
	InHeader
	// InResponse is a recorded response body or a server message, or a
	// value of its headers (EachHeaderValue).
	InResponse
)

// Value is a string a record carries and where the record first shows it.
type Value struct {
	S     string
	Where Where
}

// Placeholder is a redaction placeholder in a request body and the JSON
// key (or form field) it is the value of.
type Placeholder struct {
	Value string
	Key   string
}

// Endpoint names what a record asks for: its route template ("GET
// /v1/sessions/{id}", "WS /v1/updates") and a label that splits it
// further (a WebSocket's client type), as separate fields.
type Endpoint struct {
	Name  string
	Label string
}

// Body is a body read through its content coding.
type Body struct {
	// Data is the decoded body (the recorded bytes when there was no
	// coding, or nil when it could not be decoded).
	Data []byte
	// Coding is the Content-Encoding it was read through ("" for none).
	Coding string
	// Undecoded says why a coded body could not be read ("" when it
	// was).
	Undecoded string
	// Truncated is set when the recorded body was cut by the recorder's
	// cap (Data is what it held).
	Truncated bool
}

// Facts is what is known about one corpus record. It is derived once and
// shared, read-only, by every copy and round of the record.
type Facts struct {
	// Pos is the record's position in its pass over the corpus
	// (schedule.Event.Pos).
	Pos  uint64
	Kind traffic.Kind
	// User is the recorded user the record belongs to (its flow when the
	// corpus was not surveyed for users); UserConns how many client
	// connections that user opened in the recording (0 when unknown).
	User      string
	UserConns int
	// Endpoint of an exchange or WebSocket upgrade.
	Endpoint Endpoint
	// URL is the parsed request target of an exchange or upgrade (nil
	// when it does not parse, or for other records).
	URL *url.URL
	// Request is the request body of an exchange (or the payload of a
	// client WebSocket message), Response the recorded response body.
	Request, Response Body
	// Status is the recorded response status (0 when there was none).
	Status int
	// shape is the JSON shape of the recorded response, taken when first
	// asked for (Shape).
	shapeOnce sync.Once
	shape     string
	noShapes  bool
	// Values are the distinct id-sized strings of the record with where
	// each is first seen: request body first, then the URL, the headers
	// and the response; redaction placeholders inside them are listed too.
	Values []Value
	// Sends are the distinct values the request (or client message)
	// sends that may carry a value of an earlier response: path segments,
	// query values, header values (bearer credentials split off) and JSON
	// body strings, 8 to 512 bytes with a digit.
	Sends []string
	// Returns are the id-sized strings of the recorded JSON response, its
	// HTML page (EachHTMLValue) and its headers (EachHeaderValue):
	// correlation finds where one is when a later request uses it.
	Returns []string
	// Places says where the Returns found outside a JSON body are: a
	// HeaderPlace or an HTMLPlace, by value (nil when none).
	Places map[string]Place
	// Placeholders are the redaction placeholders in the request body.
	Placeholders []Placeholder
	// Credentials are the bearer credentials the request sends: in an
	// Authorization header or a token query parameter (traffic.TokenParams).
	Credentials []string
	// Proof is set when the request body carries a proof of identity (a
	// signature, a password): its values are kept whole.
	Proof bool
	// Vary are the client-made values and redaction placeholders of the
	// record, longest first (set by an Analyzer).
	Vary []string
	// Makes are the client-made values an exchange sends in its request
	// body or as the resource of a PUT (set by an Analyzer): a later
	// request that uses one depends on this one's answer (an artifact
	// created before it is read).
	Makes []string
}

// Options configure the facts an Analyzer derives.
type Options struct {
	// Route names the route template of a request from its method ("WS"
	// for a WebSocket upgrade) and request target; nil uses the method
	// and the path.
	Route func(method, target string) string
	// Label labels a WebSocket endpoint from its upgrade URL ("" for
	// none); nil labels nothing.
	Label func(u *url.URL) string
	// NoShapes skips the JSON shape of recorded responses.
	NoShapes bool
	// Users, when set, are the corpus's recorded users (Facts.User is
	// the flow's user ID, else the flow itself).
	Users *Users
	// UserOf, when set, names the user of a flow and the connections it
	// opened instead of Users (tests, callers with users of their own).
	UserOf func(flow string) (user string, conns int)
}

// DefaultRoute names an endpoint by its method and path.
func DefaultRoute(method, target string) string {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return method + " " + target
}

// Of derives the facts of one record without any corpus knowledge
// (nothing classified as client-made, no cache): for callers that see
// records outside a schedule.
func Of(rec traffic.Record, opts Options) *Facts {
	if opts.Route == nil {
		opts.Route = DefaultRoute
	}
	vs := valuesPool.Get().(*values)
	f := derive(0, rec, &opts, vs)
	valuesPool.Put(vs)
	return f
}

// derive derives the facts of rec, with vs for scratch.
func derive(pos uint64, rec traffic.Record, o *Options, vs *values) *Facts {
	vs.reset()
	f := &Facts{Pos: pos, Kind: rec.Kind}
	switch {
	case o.UserOf != nil:
		f.User, f.UserConns = o.UserOf(rec.Flow())
	case o.Users != nil:
		u := o.Users.Of(rec.Flow())
		f.User, f.UserConns = u.ID, len(u.Conns)
	default:
		f.User = rec.Flow()
	}
	switch rec.Kind {
	case traffic.KindExchange:
		f.exchange(rec.Exchange, rec.Exchange.Request.Method, o, vs)
	case traffic.KindWSOpen:
		f.exchange(&rec.WSOpen.Upgrade, "WS", o, vs)
		if o.Label != nil && f.URL != nil {
			f.Endpoint.Label = o.Label(f.URL)
		}
	case traffic.KindWSMessage:
		m := rec.WSMessage
		w := InResponse
		if m.FromClient {
			w = InBody
		}
		vs.body(m.Payload, w, nil, false)
		client := m.FromClient && m.Opcode == traffic.OpText
		if client {
			f.Request = Body{Data: m.Payload, Truncated: m.Truncated}
			vs.sendBody()
		}
		vs.done(f)
	}
	vs.reset()
	return f
}

func (f *Facts) exchange(x *traffic.Exchange, method string, o *Options, vs *values) {
	q := &x.Request
	f.Endpoint.Name = o.Route(method, q.URL)
	if u, err := url.Parse(q.URL); err == nil {
		f.URL = u
	}
	f.Request = readBody(q.Header, q.Body)
	if x.Response != nil {
		f.Status = x.Response.Status
		f.Response = readBody(x.Response.Header, x.Response.Body)
	}
	f.Proof = hasProof(f.Request.Data)
	if len(f.Request.Data) > 0 && bytes.Contains(f.Request.Data, placeholderPrefix) {
		f.Placeholders = placeholders(f.Request.Data)
	}

	// One pass finds the values, and which of them the request sends and
	// the response returns: the request body, the URL, the headers, then
	// the response (Values' order). Sends lists the URL's, the headers'
	// and then the body's.
	vs.body(f.Request.Data, InBody, f.Placeholders, hasType(q.Header, "application/x-www-form-urlencoded"))
	if f.URL != nil {
		path := f.URL.Path
		last := strings.LastIndexByte(path, '/')
		put := strings.EqualFold(q.Method, "PUT")
		for off := 0; ; {
			seg := path[off:]
			end := strings.IndexByte(seg, '/')
			if end >= 0 {
				seg = seg[:end]
			}
			w := InURL
			if put && off > last {
				w = InPutURL
			}
			vs.send(seg, vs.add(seg, w))
			if end < 0 {
				break
			}
			off += end + 1
		}
		if f.URL.RawQuery != "" {
			eachQueryValue(f.URL.RawQuery, false, func(name, v string) {
				i := vs.add(v, InURL)
				vs.placeholders(v, InURL)
				vs.send(v, i)
				if v != "" && traffic.IsTokenParam(name) {
					vs.creds = append(vs.creds, v)
				}
			})
		}
	}
	for _, h := range q.Header {
		v := h.Value
		if cred, ok := bearer(v); ok {
			v = cred
			if strings.EqualFold(h.Name, "authorization") {
				vs.creds = append(vs.creds, cred)
			}
		}
		i := vs.add(v, InHeader)
		vs.placeholders(v, InHeader)
		vs.send(v, i)
		// each cookie's value, an entity tag: what a response's headers
		// may have made
		EachRequestHeaderValue(h.Name, v, func(hv string) {
			vs.send(hv, vs.add(hv, InHeader))
		})
	}
	vs.sendBody()
	if b := f.Response.Data; b != nil {
		if b := jsonDoc(b); b != nil {
			sc := stringScanner{data: b, min: MinValue}
			for sc.next() {
				var i int
				if sc.raw != nil {
					i = vs.addBytes(sc.raw, InResponse)
				} else {
					i = vs.add(sc.str, InResponse)
				}
				vs.ret(i)
			}
		}
		vs.placeholderBytes(b, InResponse)
	}
	if x.Response != nil {
		// Values the response carries outside a JSON body, with where.
		at := func(pl Place, v string) {
			if !vs.ret(vs.add(v, InResponse)) {
				return
			}
			if f.Places == nil {
				f.Places = map[string]Place{}
			}
			f.Places[v] = pl
		}
		if f.Response.Data != nil && hasType(x.Response.Header, "text/html") {
			EachHTMLValue(f.Response.Data, func(pl HTMLPlace, v string) { at(pl, v) })
		}
		for _, h := range x.Response.Header {
			EachHeaderValue(h.Name, h.Value, func(pl HeaderPlace, v string) { at(pl, v) })
		}
	}
	f.noShapes = o.NoShapes
	vs.done(f)
}

// bearer is traffic.Bearer, quick to refuse a value that cannot be one.
func bearer(v string) (string, bool) {
	if len(v) < len("bearer x") {
		return "", false
	}
	switch c := v[0]; {
	case c == 'b' || c == 'B' || c >= utf8.RuneSelf:
	case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
	default:
		return "", false
	}
	return traffic.Bearer(v)
}

// sized reports whether v is within the value bounds.
func sized(v string) bool { return len(v) >= MinValue && len(v) <= MaxValue }

// Dynamic reports whether v looks like a server-made value worth
// carrying: 8 to 512 bytes with a digit.
func Dynamic(v string) bool {
	return sized(v) && strings.ContainsAny(v, "0123456789")
}

// dynamic is Dynamic for a value known to be sized.
func dynamic(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i]-'0' <= 9 {
			return true
		}
	}
	return false
}

// values collects the distinct values of a record with where each was
// first seen, and which of them the record sends and returns, in their
// orders. Short lists are searched, longer ones indexed. It is scratch
// space, reused from record to record: done copies what it found into
// the Facts, each list in one allocation of its size.
type values struct {
	list    []valueEntry
	seen    map[string]int // index in list, when indexed
	indexed bool           // list is long: seen indexes it
	nBody   int            // entries of the scanned body strings, first in list
	sends   []int32        // entries sent, in order
	rets    []int32        // entries returned, in order
	creds   []string
}

type valueEntry struct {
	Value
	sent, returned bool
}

// indexAt is the length from which values indexes its list.
const indexAt = 32

// valuesPool holds the scratch of derivations outside an Analyzer.
var valuesPool = sync.Pool{New: func() any { return new(values) }}

// maxScratch bounds the entries whose space values keeps between
// records (a record with more gets space of its own).
const maxScratch = 1 << 10

// reset empties vs for the next record, keeping its space (and
// forgetting the strings it held).
func (vs *values) reset() {
	if cap(vs.list) > maxScratch || cap(vs.creds) > maxScratch {
		*vs = values{}
		return
	}
	clear(vs.list)
	clear(vs.creds)
	if vs.indexed {
		clear(vs.seen)
		vs.indexed = false
	}
	vs.list, vs.sends, vs.rets, vs.creds, vs.nBody = vs.list[:0], vs.sends[:0], vs.rets[:0], vs.creds[:0], 0
}

// keeps reports whether v is carried: sized, or holding a redaction
// placeholder.
func keeps(v string) bool {
	return sized(v) || len(v) >= len(redact.PlaceholderPrefix) && strings.Contains(v, redact.PlaceholderPrefix)
}

// keepsBytes is keeps for bytes.
func keepsBytes(v []byte) bool {
	return len(v) >= MinValue && len(v) <= MaxValue || len(v) >= len(placeholderPrefix) && bytes.Contains(v, placeholderPrefix)
}

// add adds v, seen at w, unless it is listed already or not carried, and
// returns its entry (-1 when not carried).
func (vs *values) add(v string, w Where) int {
	if !keeps(v) {
		return -1
	}
	if i, ok := vs.find(v); ok {
		return i
	}
	return vs.append(v, w)
}

// addBytes is add for bytes of a body: copied only when listed.
func (vs *values) addBytes(v []byte, w Where) int {
	if !keepsBytes(v) {
		return -1
	}
	if vs.indexed {
		if i, ok := vs.seen[string(v)]; ok {
			return i
		}
	} else {
		for i := range vs.list {
			if vs.list[i].S == string(v) {
				return i
			}
		}
	}
	return vs.append(string(v), w)
}

func (vs *values) find(v string) (int, bool) {
	if vs.indexed {
		i, ok := vs.seen[v]
		return i, ok
	}
	for i := range vs.list {
		if vs.list[i].S == v {
			return i, true
		}
	}
	return 0, false
}

func (vs *values) append(v string, w Where) int {
	if vs.indexed {
		vs.seen[v] = len(vs.list)
	} else if len(vs.list) == indexAt {
		if vs.seen == nil {
			vs.seen = make(map[string]int, 2*indexAt)
		}
		vs.indexed = true
		for i := range vs.list {
			vs.seen[vs.list[i].S] = i
		}
		vs.seen[v] = len(vs.list)
	}
	vs.list = append(vs.list, valueEntry{Value: Value{S: v, Where: w}})
	return len(vs.list) - 1
}

// send lists entry i, the value v, among the values sent if it is
// dynamic and not listed yet.
func (vs *values) send(v string, i int) {
	if i < 0 || vs.list[i].sent || !sized(v) || !dynamic(v) {
		return
	}
	vs.list[i].sent = true
	vs.sends = append(vs.sends, int32(i))
}

// ret lists entry i (-1 for none) among the values returned, once, if it
// is sized; it reports whether it did.
func (vs *values) ret(i int) bool {
	if i < 0 || !sized(vs.list[i].S) || vs.list[i].returned {
		return false
	}
	vs.list[i].returned = true
	vs.rets = append(vs.rets, int32(i))
	return true
}

// sendBody lists the dynamic strings of the body among the values sent.
func (vs *values) sendBody() {
	for i := 0; i < vs.nBody; i++ {
		vs.send(vs.list[i].S, i)
	}
}

// jsonDoc returns b trimmed when it is a JSON object or array (by its
// first byte), nil otherwise.
func jsonDoc(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return nil
	}
	return b
}

// body adds the strings of a request body or message (a JSON document's,
// or a form's values), then its placeholders (phs when the caller found
// them already).
func (vs *values) body(b []byte, w Where, phs []Placeholder, form bool) {
	if len(b) == 0 {
		return
	}
	if form {
		// an HTML form or an OAuth token request: its values decoded
		eachQueryValue(string(b), false, func(_, v string) { vs.add(v, w) })
	} else if doc := jsonDoc(b); doc != nil {
		sc := stringScanner{data: doc, min: MinValue}
		for sc.next() {
			if sc.raw != nil {
				vs.addBytes(sc.raw, w)
			} else {
				vs.add(sc.str, w)
			}
		}
	}
	vs.nBody = len(vs.list)
	if phs != nil {
		for _, ph := range phs {
			vs.add(ph.Value, w)
		}
	} else {
		vs.placeholderBytes(b, w)
	}
}

// placeholders adds the redaction placeholders in s.
func (vs *values) placeholders(s string, w Where) {
	for {
		i := strings.Index(s, redact.PlaceholderPrefix)
		if i < 0 {
			return
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return
		}
		vs.add(s[i:i+j+1], w)
		s = s[i+j+1:]
	}
}

// placeholderBytes adds the redaction placeholders in b.
func (vs *values) placeholderBytes(b []byte, w Where) {
	for {
		i := bytes.Index(b, placeholderPrefix)
		if i < 0 {
			return
		}
		j := bytes.IndexByte(b[i:], '>')
		if j < 0 {
			return
		}
		vs.addBytes(b[i:i+j+1], w)
		b = b[i+j+1:]
	}
}

// done sets f's Values, Sends, Returns and Credentials (nil when empty).
func (vs *values) done(f *Facts) {
	if len(vs.list) > 0 {
		f.Values = make([]Value, len(vs.list))
		for i := range vs.list {
			f.Values[i] = vs.list[i].Value
		}
	}
	ns, nr, nc := len(vs.sends), len(vs.rets), len(vs.creds)
	if ns+nr+nc == 0 {
		return
	}
	all := make([]string, ns+nr+nc)
	for k, i := range vs.sends {
		all[k] = vs.list[i].S
	}
	for k, i := range vs.rets {
		all[ns+k] = vs.list[i].S
	}
	copy(all[ns+nr:], vs.creds)
	if ns > 0 {
		f.Sends = all[:ns:ns]
	}
	if nr > 0 {
		f.Returns = all[ns : ns+nr : ns+nr]
	}
	if nc > 0 {
		f.Credentials = all[ns+nr:]
	}
}

// maxQueryPairs is the most query pairs eachQueryValue parses on its own;
// longer queries are checked against url.ParseQuery's limit first.
const maxQueryPairs = 64

// queryPairsAllowed says whether url.ParseQuery takes maxQueryPairs pairs
// (its limit can be lowered with GODEBUG=urlmaxqueryparams).
var queryPairsAllowed = sync.OnceValue(func() bool {
	_, err := url.ParseQuery(strings.Repeat("&", maxQueryPairs-1))
	return err == nil
})

type queryPair struct{ name, value string }

// eachQueryValue calls fn for every value of the query q as
// url.ParseQuery reads it (each name's values together, names in the
// order the query first gives each, values in their order), without
// building its map, and reports whether ParseQuery returns no error.
// When strict, it calls fn only when it does not.
func eachQueryValue(q string, strict bool, fn func(name, value string)) bool {
	if strings.Count(q, "&") >= maxQueryPairs || !queryPairsAllowed() {
		if m, err := url.ParseQuery(q); len(m) == 0 || strict && err != nil {
			// over the limit, or nothing readable
			return err == nil
		}
	}
	var buf [16]queryPair
	pairs := buf[:0]
	ok := true
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if strings.Contains(pair, ";") {
			ok = false
			continue
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(name)
		if err != nil {
			ok = false
			continue
		}
		value, err = url.QueryUnescape(value)
		if err != nil {
			ok = false
			continue
		}
		pairs = append(pairs, queryPair{name, value})
	}
	if strict && !ok {
		return false
	}
	if len(pairs) > len(buf) {
		// many pairs: grouped through a map
		var names []string
		byName := map[string][]string{}
		for _, p := range pairs {
			if _, seen := byName[p.name]; !seen {
				names = append(names, p.name)
			}
			byName[p.name] = append(byName[p.name], p.value)
		}
		for _, name := range names {
			for _, v := range byName[name] {
				fn(name, v)
			}
		}
		return ok
	}
	for i, p := range pairs {
		first := true
		for _, e := range pairs[:i] {
			if e.name == p.name {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		fn(p.name, p.value)
		for _, e := range pairs[i+1:] {
			if e.name == p.name {
				fn(e.name, e.value)
			}
		}
	}
	return ok
}

// Shape is the JSON shape of the recorded response ("" when it is not
// JSON, is cut or is larger than MaxShapeBody, or shapes are off), taken
// the first time it is asked for.
func (f *Facts) Shape() string {
	f.shapeOnce.Do(func() {
		if !f.noShapes && f.Response.Data != nil && !f.Response.Truncated && len(f.Response.Data) <= MaxShapeBody {
			f.shape, _ = jsonshape.Of(f.Response.Data)
		}
	})
	return f.shape
}

// IsPlaceholder reports whether v is (or carries) a redaction placeholder.
func IsPlaceholder(v string) bool { return strings.Contains(v, redact.PlaceholderPrefix) }

// isWholePlaceholder reports whether v is exactly one placeholder.
func isWholePlaceholder(v string) bool {
	return strings.HasPrefix(v, redact.PlaceholderPrefix) && strings.HasSuffix(v, ">")
}

var placeholderPrefix = []byte(redact.PlaceholderPrefix)

// placeholders lists the redaction placeholders in b with the key each is
// the value of.
func placeholders(b []byte) []Placeholder {
	var out []Placeholder
	off := 0
	for {
		i := bytes.Index(b[off:], placeholderPrefix)
		if i < 0 {
			return out
		}
		i += off
		j := bytes.IndexByte(b[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, Placeholder{Value: string(b[i : i+j+1]), Key: keyBefore(b[:i])})
		off = i + j + 1
	}
}

// keyBefore finds the key a value starting right after b belongs to:
// `"key": "` in JSON or `key=` in a form.
func keyBefore(b []byte) string {
	b = bytes.TrimRight(b, "\\\" \t")
	if len(b) > 0 && b[len(b)-1] == '=' {
		k := b[:len(b)-1]
		if i := bytes.LastIndexAny(k, "&?"); i >= 0 {
			k = k[i+1:]
		}
		return string(k)
	}
	b = bytes.TrimRight(b, ": \t")
	b = bytes.TrimRight(b, "\\\"")
	i := bytes.LastIndexByte(b, '"')
	if i < 0 {
		return ""
	}
	return string(b[i+1:])
}

// ProofKeys name JSON fields whose value proves identity (a login's
// signature, a password): a redacted one cannot be replaced by a stand-in,
// and the values beside it are kept whole.
var ProofKeys = map[string]bool{
	"signature": true, "password": true, "privatekey": true, "private_key": true,
	"client_secret": true, "passphrase": true,
}

// hasProof reports whether a JSON body carries a proof of identity under
// one of ProofKeys: one of them, quoted, whatever its case.
func hasProof(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	minKey, maxKey := -1, 0
	for k := range ProofKeys {
		if strings.IndexByte(k, '"') >= 0 {
			return hasProofLowered(body)
		}
		if minKey < 0 || len(k) < minKey {
			minKey = len(k)
		}
		maxKey = max(maxKey, len(k))
	}
	if minKey < 0 || !ascii(body) {
		return hasProofLowered(body)
	}
	// Every quote may open a key: the text up to the next quote is a
	// candidate, looked up lowercased.
	var buf [32]byte
	lower := buf[:]
	if maxKey > len(buf) {
		lower = make([]byte, maxKey)
	}
	for i := indexQuote(body); i >= 0; {
		rest := body[i+1:]
		j := indexQuote(rest)
		if j < 0 {
			return false
		}
		if j >= minKey && j <= maxKey {
			for k := 0; k < j; k++ {
				c := rest[k]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				lower[k] = c
			}
			if ProofKeys[string(lower[:j])] {
				return true
			}
		}
		i += 1 + j
	}
	return false
}

// hasProofLowered is hasProof for any body and keys: the body lowercased
// (Unicode case mapping) and searched for each key, quoted.
func hasProofLowered(body []byte) bool {
	lower := bytes.ToLower(body)
	for k := range ProofKeys {
		if bytes.Contains(lower, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}

// ascii reports whether b is all ASCII.
func ascii(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasType reports whether headers say the body is of media type mt (lower
// case), whatever its parameters and the case they are written in.
func hasType(h traffic.Fields, mt string) bool {
	ct := strings.TrimSpace(h.Get("Content-Type"))
	return len(ct) >= len(mt) && strings.EqualFold(ct[:len(mt)], mt) && (len(ct) == len(mt) || ct[len(mt)] == ';' || ct[len(mt)] == ' ')
}
