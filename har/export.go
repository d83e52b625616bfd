package har

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/traffic"
)

// CreatorName is the creator name of the HAR files reprise writes.
const CreatorName = "reprise"

// ExportOptions configure Export.
type ExportOptions struct {
	// Version is written as the creator version ("dev" when empty).
	Version string
	// Comment is written as the log comment.
	Comment string
}

// ExportReport says what Export wrote.
type ExportReport struct {
	Entries    int
	Exchanges  int
	WSConns    int
	WSMessages int
	// Decoded counts response bodies written content-decoded, as HAR
	// means content.text.
	Decoded int
	// DecodedCut counts, among Decoded, bodies cut at the recorder's cap
	// whose decoded start was written (marked truncated in "_reprise").
	DecodedCut int
	// Undecoded counts response bodies that could not be decoded and were
	// written as sent (base64, "_reprise" wireEncoded), by cause
	// ("br: corrupt stream").
	Undecoded map[string]int
	// Orphans counts WebSocket messages and closes whose open was missing.
	Orphans int
}

// Summary is a one-line account of the export.
func (r ExportReport) Summary() string {
	s := fmt.Sprintf("wrote %d entries: %d exchanges, %d websocket connections (%d messages)", r.Entries, r.Exchanges, r.WSConns, r.WSMessages)
	if r.Orphans > 0 {
		s += fmt.Sprintf(", %d websocket records without their connection left out", r.Orphans)
	}
	if r.Decoded > 0 {
		s += fmt.Sprintf(", %d response bodies content-decoded", r.Decoded)
		if r.DecodedCut > 0 {
			s += fmt.Sprintf(" (%d of them cut short, their decoded start written)", r.DecodedCut)
		}
	}
	if n := r.undecodedTotal(); n > 0 {
		causes := slices.Sorted(maps.Keys(r.Undecoded))
		parts := make([]string, len(causes))
		for i, c := range causes {
			parts[i] = fmt.Sprintf("%s ×%d", c, r.Undecoded[c])
		}
		s += fmt.Sprintf(", %d response bodies could not be decoded and were written as sent (%s)", n, strings.Join(parts, ", "))
	}
	return s
}

func (r *ExportReport) undecoded(cause string) {
	if r.Undecoded == nil {
		r.Undecoded = map[string]int{}
	}
	r.Undecoded[cause]++
}

func (r ExportReport) undecodedTotal() int {
	n := 0
	for _, v := range r.Undecoded {
		n += v
	}
	return n
}

// Export writes the records of src as a HAR 1.2 file. Exchanges are
// written as they are read; a WebSocket connection becomes one
// Chrome-style entry (_resourceType "websocket", _webSocketMessages) once
// its close is read, or at the end for connections still open. What HAR
// has no field for goes into the "_reprise" extensions, so that Import
// restores the records.
func Export(ctx context.Context, src traffic.Source, h traffic.Header, out io.Writer, opts ExportOptions) (ExportReport, error) {
	var rep ExportReport
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	origin := h.ClockOrigin
	ext := LogExtension{
		Version:     h.Version,
		Source:      h.Source,
		Origin:      h.Origin,
		Redactions:  h.Redactions,
		Meta:        h.Meta,
		ClockOrigin: FormatTime(origin),
	}
	if !h.Created.IsZero() {
		ext.Created = FormatTime(h.Created)
	}
	rawExt, err := json.Marshal(ext)
	if err != nil {
		return rep, fmt.Errorf("har: %w", err)
	}
	w, err := NewWriter(out, Log{
		Version: "1.2",
		Creator: Creator{Name: CreatorName, Version: version},
		Comment: opts.Comment,
		Custom:  Custom{"_reprise": rawExt},
	})
	if err != nil {
		return rep, err
	}
	x := &exporter{origin: origin, w: w, rep: &rep, pages: map[string]time.Time{}, open: map[uint64]*traffic.WSConn{}}
	for {
		r, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("read corpus: %w", err)
		}
		if err := x.record(r); err != nil {
			return rep, err
		}
	}
	// Connections still open at the end, in start order.
	var rest []*traffic.WSConn
	for _, c := range x.open {
		rest = append(rest, c)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Open.Start < rest[j].Open.Start })
	for _, c := range rest {
		if err := x.writeWS(c); err != nil {
			return rep, err
		}
	}
	var pages []Page
	for id, t := range x.pages {
		pages = append(pages, Page{StartedDateTime: FormatTime(t), ID: id, Title: id})
	}
	sort.Slice(pages, func(i, j int) bool {
		if pages[i].StartedDateTime != pages[j].StartedDateTime {
			return x.pages[pages[i].ID].Before(x.pages[pages[j].ID])
		}
		return pages[i].ID < pages[j].ID
	})
	if err := w.Close(pages); err != nil {
		return rep, err
	}
	return rep, nil
}

type exporter struct {
	origin time.Time
	w      *Writer
	rep    *ExportReport
	pages  map[string]time.Time
	open   map[uint64]*traffic.WSConn
}

func (x *exporter) record(r traffic.Record) error {
	switch r.Kind {
	case traffic.KindExchange:
		e := x.exchangeEntry(r.Exchange, false)
		if err := x.w.WriteEntry(e); err != nil {
			return err
		}
		x.rep.Entries++
		x.rep.Exchanges++
	case traffic.KindWSOpen:
		if prev, ok := x.open[r.WSOpen.ConnID]; ok {
			// The id is reused: the earlier connection ended unseen.
			if err := x.writeWS(prev); err != nil {
				return err
			}
		}
		x.open[r.WSOpen.ConnID] = &traffic.WSConn{Open: *r.WSOpen}
	case traffic.KindWSMessage:
		c, ok := x.open[r.WSMessage.ConnID]
		if !ok {
			x.rep.Orphans++
			return nil
		}
		c.Messages = append(c.Messages, *r.WSMessage)
	case traffic.KindWSClose:
		c, ok := x.open[r.WSClose.ConnID]
		if !ok {
			x.rep.Orphans++
			return nil
		}
		cl := *r.WSClose
		c.Close = &cl
		return x.writeWS(c)
	}
	return nil
}

func (x *exporter) writeWS(c *traffic.WSConn) error {
	delete(x.open, c.Open.ConnID)
	e := x.wsEntry(c)
	if err := x.w.WriteEntry(e); err != nil {
		return err
	}
	x.rep.Entries++
	x.rep.WSConns++
	x.rep.WSMessages += len(c.Messages)
	return nil
}

func (x *exporter) at(d time.Duration) time.Time { return x.origin.Add(d) }

// exchangeEntry converts an exchange; ws says it is a WebSocket upgrade.
func (x *exporter) exchangeEntry(ex *traffic.Exchange, ws bool) *Entry {
	q := &ex.Request
	e := &Entry{
		StartedDateTime: FormatTime(x.at(ex.Start)),
		Time:            Millis(ex.Timing.Total),
		Timings: Timings{
			Send:    Millis(ex.Timing.Send),
			Wait:    Millis(ex.Timing.Wait),
			Receive: Millis(ex.Timing.Receive),
		},
	}
	if rest := ex.Timing.Total - ex.Timing.Send - ex.Timing.Wait - ex.Timing.Receive; rest > 0 {
		// HAR's time is the sum of the phases: what the recorder did not
		// split goes into blocked.
		e.Timings.Blocked = Millis(rest)
	}
	ext := &Extension{Flow: ex.Flow, Flags: ex.Flags, Error: ex.Error, Client: ex.Client, Server: ex.Server}
	if ex.ConnID != 0 {
		e.Connection = itoa(int64(ex.ConnID))
	}
	if ex.Server != "" {
		if host, _, err := net.SplitHostPort(ex.Server); err == nil {
			e.ServerIPAddress = host
		} else {
			e.ServerIPAddress = ex.Server
		}
	}

	// Request.
	rawURL, over := requestURL(q, ws)
	if over != nil {
		ext.Request = over
	}
	e.Request = Request{
		Method:      q.Method,
		URL:         rawURL,
		HTTPVersion: q.Proto,
		Headers:     nameValues(q.Header),
		Cookies:     requestCookies(q.Header),
		QueryString: queryString(q.URL),
		HeadersSize: "-1",
		BodySize:    Int(q.Body.Size),
	}
	if NormalizeProto(q.Proto) != q.Proto {
		ext.req().Proto = ptr(q.Proto)
	}
	if len(q.Body.Data) > 0 {
		pd := &PostData{MimeType: q.Header.Get("Content-Type")}
		if utf8.Valid(q.Body.Data) {
			pd.Text = Text(q.Body.Data)
		} else {
			pd.Text = Text(base64.StdEncoding.EncodeToString(q.Body.Data))
			pd.Encoding = "base64"
		}
		e.Request.PostData = pd
	}
	derived := deriveRequestSize(e.Request.BodySize, len(q.Body.Data))
	if derived != q.Body.Size {
		ext.req().Size = ptr(q.Body.Size)
	}
	if (derived > int64(len(q.Body.Data))) != q.Body.Truncated {
		ext.req().Truncated = ptr(q.Body.Truncated)
	}

	// Response.
	if p := ex.Response; p != nil {
		x.response(e, ex, p, ext)
	} else {
		ext.NoResponse = true
		e.Response = Response{Status: "0", HTTPVersion: "", Content: Content{Size: "0", MimeType: "x-unknown"}, HeadersSize: "-1", BodySize: "-1"}
	}
	if ex.Error != "" {
		e.Response.Error = json.RawMessage(jsonString(ex.Error))
	}

	// Notes.
	for _, k := range slices.Sorted(maps.Keys(ex.Notes)) {
		v := ex.Notes[k]
		switch {
		case k == NotePageref:
			e.Pageref = v
			if t, ok := x.pages[v]; !ok || x.at(ex.Start).Before(t) {
				x.pages[v] = x.at(ex.Start)
			}
		case k == NoteComment:
			e.Comment = v
		case k == "_resourceType" && isJSONString(v):
			e.ResourceType = rawString(json.RawMessage(v))
		case k == "_priority" && isJSONString(v):
			e.Priority = rawString(json.RawMessage(v))
		case k == "_initiator" && json.Valid([]byte(v)):
			e.Initiator = json.RawMessage(v)
		case len(k) > 1 && k[0] == '_' && !knownEntryFields[k] && json.Valid([]byte(v)):
			if e.Custom == nil {
				e.Custom = Custom{}
			}
			e.Custom[k] = json.RawMessage(v)
		default:
			if ext.Notes == nil {
				ext.Notes = map[string]string{}
			}
			ext.Notes[k] = v
		}
	}
	e.Reprise = ext
	return e
}

func (x *Extension) req() *ExtMessage {
	if x.Request == nil {
		x.Request = &ExtMessage{}
	}
	return x.Request
}

func (x *Extension) resp() *ExtMessage {
	if x.Response == nil {
		x.Response = &ExtMessage{}
	}
	return x.Response
}

func ptr[T any](v T) *T { return &v }

func isJSONString(v string) bool {
	return len(v) >= 2 && v[0] == '"' && json.Valid([]byte(v))
}

// response fills the HAR response of e from p.
func (x *exporter) response(e *Entry, ex *traffic.Exchange, p *traffic.Response, ext *Extension) {
	e.Response = Response{
		Status:      Int(int64(p.Status)),
		StatusText:  p.Reason,
		HTTPVersion: p.Proto,
		Headers:     nameValues(p.Header),
		Cookies:     responseCookies(p.Header),
		RedirectURL: p.Header.Get("Location"),
		HeadersSize: "-1",
		BodySize:    Int(p.Body.Size),
	}
	if NormalizeProto(p.Proto) != p.Proto {
		ext.resp().Proto = ptr(p.Proto)
	}
	if len(p.Interim) > 0 {
		ext.Interim = append([]int(nil), p.Interim...)
	}
	mimeType := p.Header.Get("Content-Type")
	if mimeType == "" {
		mimeType = "x-unknown"
	}
	data := p.Body.Data
	decoded, cut := false, false
	if len(data) > 0 && ex.Notes[NoteResponseBody] != "decoded" && len(coding.Parse(p.Header.Values("Content-Encoding")...)) > 0 {
		res, err := coding.Body(p.Header, p.Body, maxDecoded)
		switch {
		case err != nil:
			// Kept as sent, said so for the importer, and counted by cause.
			ext.resp().WireEncoded = true
			x.rep.undecoded(err.Error())
		default:
			data, decoded = res.Data, true
			x.rep.Decoded++
			if !res.Complete {
				// The decoded start of a cut body: its full size is
				// unknown.
				cut = true
				x.rep.DecodedCut++
			}
		}
	}
	c := Content{MimeType: mimeType}
	if len(data) > 0 {
		if utf8.Valid(data) {
			c.Text = Text(data)
		} else {
			c.Text = Text(base64.StdEncoding.EncodeToString(data))
			c.Encoding = "base64"
		}
	}
	switch {
	case cut:
		c.Size = Int(int64(len(data)))
		ext.resp().Size = ptr(int64(-1))
		ext.resp().Truncated = ptr(true)
	case decoded:
		c.Size = Int(int64(len(data)))
		if p.Body.Size >= 0 {
			c.Compression = Int(int64(len(data)) - p.Body.Size)
		}
	default:
		size := p.Body.Size
		if size < int64(len(data)) {
			size = int64(len(data))
		}
		c.Size = Int(size)
		derived := deriveResponseSize(c.Size, e.Response.BodySize, len(data))
		if derived != p.Body.Size {
			ext.resp().Size = ptr(p.Body.Size)
		}
		if (derived > int64(len(data))) != p.Body.Truncated {
			ext.resp().Truncated = ptr(p.Body.Truncated)
		}
	}
	e.Response.Content = c
}

// wsEntry converts a WebSocket connection to a Chrome-style entry.
func (x *exporter) wsEntry(c *traffic.WSConn) *Entry {
	up := c.Open.Upgrade
	up.ConnID = c.Open.ConnID
	e := x.exchangeEntry(&up, true)
	if e.ResourceType == "" {
		e.ResourceType = "websocket"
	}
	ext := e.Reprise
	if c.Open.Start != up.Start {
		ext.WSStart = ptr(int64(c.Open.Start))
	}
	var hdr traffic.Fields
	if up.Response != nil {
		hdr = up.Response.Header
	}
	if hdr.Get("Sec-WebSocket-Protocol") != c.Open.Subprotocol {
		ext.Subprotocol = ptr(c.Open.Subprotocol)
	}
	if hdr.Get("Sec-WebSocket-Extensions") != c.Open.Extensions {
		ext.Extensions = ptr(c.Open.Extensions)
	}
	e.WebSocketMessages = make([]WebSocketMessage, 0, len(c.Messages))
	for i := range c.Messages {
		m := &c.Messages[i]
		hm := WebSocketMessage{Type: "receive", Time: Seconds(x.at(m.Start)), Opcode: Int(int64(m.Opcode))}
		if m.FromClient {
			hm.Type = "send"
		}
		switch {
		case m.Opcode == traffic.OpBinary:
			hm.Data = Text(base64.StdEncoding.EncodeToString(m.Payload))
		case utf8.Valid(m.Payload):
			hm.Data = Text(m.Payload)
		default:
			hm.Data = Text(base64.StdEncoding.EncodeToString(m.Payload))
			hm.Encoding = "base64"
		}
		if m.Size != int64(len(m.Payload)) {
			hm.Size = Int(m.Size)
		}
		hm.Truncated = m.Truncated
		hm.Compressed = m.Compressed
		if m.Frames != 1 {
			hm.Frames = Int(int64(m.Frames))
		}
		e.WebSocketMessages = append(e.WebSocketMessages, hm)
	}
	if cl := c.Close; cl != nil {
		raw, _ := json.Marshal(WebSocketClose{Time: Seconds(x.at(cl.Start)), FromClient: cl.FromClient, Code: cl.Code, Reason: cl.Reason, Error: cl.Error})
		e.WebSocketClose = raw
	} else {
		e.WebSocketClose = json.RawMessage("null")
	}
	return e
}

// requestURL builds the absolute URL of a request and the overrides the
// importer needs when that URL does not give back its parts.
func requestURL(q *traffic.Request, ws bool) (string, *ExtMessage) {
	scheme := q.Scheme
	if scheme == "" {
		scheme = "http"
	}
	var raw string
	if !strings.HasPrefix(q.URL, "/") && strings.Contains(q.URL, "://") {
		raw = q.URL
	} else {
		host := q.Host
		if host == "" {
			host = "localhost"
		}
		target := q.URL
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		s := scheme
		if ws {
			switch scheme {
			case "http":
				s = "ws"
			case "https":
				s = "wss"
			}
		}
		raw = s + "://" + host + target
	}
	gs, gh, gt, err := splitURL(raw)
	hs, _ := httpScheme(gs)
	var over *ExtMessage
	set := func() *ExtMessage {
		if over == nil {
			over = &ExtMessage{}
		}
		return over
	}
	if err != nil || gt != q.URL {
		set().URL = ptr(q.URL)
	}
	if err != nil || gh != q.Host {
		set().Host = ptr(q.Host)
	}
	if err != nil || hs != q.Scheme {
		set().Scheme = ptr(q.Scheme)
	}
	return raw, over
}

func nameValues(f traffic.Fields) []NameValue {
	out := make([]NameValue, 0, len(f))
	for _, h := range f {
		out = append(out, NameValue{Name: h.Name, Value: h.Value})
	}
	return out
}

func requestCookies(f traffic.Fields) []Cookie {
	out := []Cookie{}
	for _, line := range f.Values("Cookie") {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cs {
			out = append(out, Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return out
}

func responseCookies(f traffic.Fields) []Cookie {
	out := []Cookie{}
	for _, line := range f.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		hc := Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = FormatTime(c.Expires)
		}
		out = append(out, hc)
	}
	return out
}

// queryString splits a target's query into ordered name/value pairs.
func queryString(target string) []NameValue {
	out := []NameValue{}
	_, q, ok := strings.Cut(target, "?")
	if !ok || q == "" {
		return out
	}
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		n, v, _ := strings.Cut(part, "=")
		if un, err := url.QueryUnescape(n); err == nil {
			n = un
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, NameValue{Name: n, Value: v})
	}
	return out
}

// maxDecoded bounds a decoded body, so a compression bomb in a corpus
// cannot exhaust memory on export.
const maxDecoded = 256 << 20
