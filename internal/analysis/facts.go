package analysis

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"sync"

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
	// InHeader is a header value (bearer credentials split off).
	InHeader
	// InResponse is a recorded response body or a server message.
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
	// Returns are the id-sized strings of the recorded JSON response
	// (correlation finds where one is when a later request uses it).
	Returns []string
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
	return derive(0, rec, &opts)
}

func derive(pos uint64, rec traffic.Record, o *Options) *Facts {
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
		f.exchange(rec.Exchange, rec.Exchange.Request.Method, o)
	case traffic.KindWSOpen:
		f.exchange(&rec.WSOpen.Upgrade, "WS", o)
		if o.Label != nil && f.URL != nil {
			f.Endpoint.Label = o.Label(f.URL)
		}
	case traffic.KindWSMessage:
		m := rec.WSMessage
		w := InResponse
		if m.FromClient {
			w = InBody
		}
		vs := newValues()
		vs.body(m.Payload, w)
		f.Values = vs.list
		if m.FromClient && m.Opcode == traffic.OpText {
			f.Request = Body{Data: m.Payload, Truncated: m.Truncated}
			f.Sends = sends(nil, m.Payload)
		}
	}
	return f
}

func (f *Facts) exchange(x *traffic.Exchange, method string, o *Options) {
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

	vs := newValues()
	vs.body(f.Request.Data, InBody)
	if f.URL != nil {
		last := strings.LastIndexByte(f.URL.Path, '/')
		put := strings.EqualFold(q.Method, "PUT")
		off := 0
		for seg := range strings.SplitSeq(f.URL.Path, "/") {
			w := InURL
			if put && off > last {
				w = InPutURL
			}
			off += len(seg) + 1
			vs.add(seg, w)
		}
		queryValues(query(f.URL), &f.Credentials, func(v string) {
			vs.add(v, InURL)
			vs.placeholders(v, InURL)
		})
	}
	headerValues(q.Header, &f.Credentials, func(v string) {
		vs.add(v, InHeader)
		vs.placeholders(v, InHeader)
	})
	if f.Response.Data != nil {
		scanJSON(f.Response.Data, func(v string) {
			vs.add(v, InResponse)
			if sized(v) && !slices.Contains(f.Returns, v) {
				f.Returns = append(f.Returns, v)
			}
		})
		vs.placeholders(string(f.Response.Data), InResponse)
	}
	f.noShapes = o.NoShapes
	f.Values = vs.list
	f.Sends = sends(f.URL, f.Request.Data, q.Header...)
	if bytes.Contains(f.Request.Data, []byte(redact.PlaceholderPrefix)) {
		f.Placeholders = placeholders(f.Request.Data)
	}
}

// sized reports whether v is within the value bounds.
func sized(v string) bool { return len(v) >= MinValue && len(v) <= MaxValue }

// Dynamic reports whether v looks like a server-made value worth
// carrying: 8 to 512 bytes with a digit.
func Dynamic(v string) bool {
	return sized(v) && strings.ContainsAny(v, "0123456789")
}

// values collects distinct values with where each was first seen. Short
// lists are searched, longer ones indexed.
type values struct {
	list []Value
	seen map[string]bool // set once list is long
}

// indexAt is the length from which values indexes its list.
const indexAt = 32

func newValues() *values { return &values{} }

func (vs *values) add(v string, w Where) {
	if !sized(v) && !strings.Contains(v, redact.PlaceholderPrefix) {
		return
	}
	if vs.seen != nil {
		if vs.seen[v] {
			return
		}
		vs.seen[v] = true
	} else {
		for _, x := range vs.list {
			if x.S == v {
				return
			}
		}
		if len(vs.list) == indexAt {
			vs.seen = make(map[string]bool, 2*indexAt)
			for _, x := range vs.list {
				vs.seen[x.S] = true
			}
			vs.seen[v] = true
		}
	}
	vs.list = append(vs.list, Value{S: v, Where: w})
}

// queryValues calls fn for every query value, and adds those of token
// parameters (traffic.TokenParams) to creds.
func queryValues(q url.Values, creds *[]string, fn func(v string)) {
	for name, vals := range q {
		for _, v := range vals {
			fn(v)
			if v != "" && traffic.IsTokenParam(name) {
				*creds = append(*creds, v)
			}
		}
	}
}

// headerValues calls fn for every header value, a bearer credential split
// off its scheme, and adds the credentials of Authorization headers to
// creds.
func headerValues(h traffic.Fields, creds *[]string, fn func(v string)) {
	for _, f := range h {
		v := f.Value
		if cred, ok := traffic.Bearer(v); ok {
			v = cred
			if strings.EqualFold(f.Name, "authorization") {
				*creds = append(*creds, cred)
			}
		}
		fn(v)
	}
}

// query parses u's query, nil when it has none.
func query(u *url.URL) url.Values {
	if u.RawQuery == "" {
		return nil
	}
	return u.Query()
}

func (vs *values) body(b []byte, w Where) {
	if len(b) == 0 {
		return
	}
	scanJSON(b, func(v string) { vs.add(v, w) })
	if bytes.Contains(b, []byte(redact.PlaceholderPrefix)) {
		for _, ph := range placeholders(b) {
			vs.add(ph.Value, w)
		}
	}
}

func (vs *values) placeholders(s string, w Where) {
	if !strings.Contains(s, redact.PlaceholderPrefix) {
		return
	}
	for _, ph := range placeholders([]byte(s)) {
		vs.add(ph.Value, w)
	}
}

// sends lists the distinct dynamic values a request sends: path segments,
// query values, header values (bearer credentials split off) and JSON
// body strings.
func sends(u *url.URL, body []byte, header ...traffic.Field) []string {
	var out []string
	var seen map[string]bool // once out is long
	add := func(v string) {
		if !Dynamic(v) {
			return
		}
		switch {
		case seen != nil:
			if seen[v] {
				return
			}
			seen[v] = true
		case slices.Contains(out, v):
			return
		case len(out) == indexAt:
			seen = make(map[string]bool, 2*indexAt)
			for _, x := range out {
				seen[x] = true
			}
			seen[v] = true
		}
		out = append(out, v)
	}
	if u != nil {
		for seg := range strings.SplitSeq(u.Path, "/") {
			add(seg)
		}
		for _, vs := range query(u) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, h := range header {
		v := h.Value
		if cred, ok := traffic.Bearer(v); ok {
			v = cred
		}
		add(v)
	}
	if len(body) > 0 {
		scanJSON(body, add)
	}
	return out
}

// scanJSON calls fn for the string values of a JSON object or array of
// the value bounds' minimum length or more, with the fast scan: nothing
// for a body that is not one.
func scanJSON(b []byte, fn func(v string)) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return
	}
	ScanStrings(b, MinValue, fn)
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

// placeholders lists the redaction placeholders in b with the key each is
// the value of.
func placeholders(b []byte) []Placeholder {
	var out []Placeholder
	prefix := []byte(redact.PlaceholderPrefix)
	off := 0
	for {
		i := bytes.Index(b[off:], prefix)
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
// one of ProofKeys.
func hasProof(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	lower := bytes.ToLower(body)
	for k := range ProofKeys {
		if bytes.Contains(lower, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}
