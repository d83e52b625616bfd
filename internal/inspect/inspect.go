// Package inspect summarises a corpus for people: what it holds, over what
// time, from which flows, which content codings its bodies use (and which
// cannot be decoded), and how its WebSocket connections behaved; and dumps
// records as JSON lines for other tools, bodies content-decoded.
package inspect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// Summary describes a corpus.
type Summary struct {
	Header    traffic.Header
	Records   int64
	Exchanges int64
	Flows     int
	// Users are the recorded users the flows belong to (a login on a
	// pooled connection, the requests after it and the sockets its
	// tickets opened are one user).
	Users *analysis.Users
	First time.Duration
	Last  time.Duration
	// Disorder is the furthest a record comes after a later-starting one
	// (schedule.Survey.Disorder): a recorder writes an exchange when it
	// ends, so a long one comes after those that started during it.
	Disorder   time.Duration
	Statuses   map[int]int64
	Errors     map[string]int64
	Incomplete int64
	Late       int64
	Truncated  int64 // bodies cut at the recorder's cap
	Endpoints  map[string]int64
	// Codings counts request and response bodies by their
	// Content-Encoding ("gzip", "gzip, br"); bodies without one are not
	// counted.
	Codings map[string]int64
	// Undecodable counts coded bodies that could not be decoded, by cause
	// ("br: corrupt stream").
	Undecodable map[string]int64
	WS          []WSSummary
	// Orphans counts WebSocket records whose connection was not opened in
	// the corpus.
	Orphans int64
}

// WSSummary describes one WebSocket connection.
type WSSummary struct {
	ConnID uint64
	Flow   string
	URL    string
	// Endpoint names the connection's route ("WS /v1/updates").
	Endpoint   string
	Extensions string
	Start      time.Duration
	End        time.Duration // zero when the corpus holds no close
	Closed     bool
	CloseCode  int
	CloseBy    string
	// Messages by direction ("client", "server") then type ("text",
	// "binary", "ping", ...).
	Messages map[string]map[string]int64
}

// Options tunes Summarize.
type Options struct {
	// Endpoint names a request's route; nil uses method and path.
	Endpoint func(method, path string) string
	// MaxDecoded caps the decoded size of one content-coded body
	// (coding.DefaultMax when 0); a body over it counts as undecodable.
	MaxDecoded int64
}

// Summarize reads src to its end.
func Summarize(ctx context.Context, src traffic.Source, header traffic.Header, opts Options) (*Summary, error) {
	if opts.Endpoint == nil {
		opts.Endpoint = func(m, p string) string { return m + " " + p }
	}
	s := &Summary{Header: header, Statuses: map[int]int64{}, Errors: map[string]int64{}, Endpoints: map[string]int64{},
		Codings: map[string]int64{}, Undecodable: map[string]int64{}}
	countBody := func(h traffic.Fields, b traffic.Body) {
		cs := coding.Parse(h.Values("Content-Encoding")...)
		if len(cs) == 0 || len(b.Data) == 0 {
			return
		}
		s.Codings[coding.Format(cs)]++
		if _, err := coding.DecodeCodings(cs, b.Data, opts.MaxDecoded); err != nil {
			s.Undecodable[err.Error()]++
		}
	}
	flows := map[string]bool{}
	uf := analysis.NewUserFinder()
	ws := map[uint64]int{}
	first := true
	for {
		rec, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		if rec.Kind == traffic.KindHeader {
			continue
		}
		s.Records++
		at := rec.Start()
		if first || at < s.First {
			s.First = at
		}
		if first || at > s.Last {
			s.Last = at
		} else {
			s.Disorder = max(s.Disorder, s.Last-at)
		}
		first = false
		flows[rec.Flow()] = true
		uf.AddRecord(rec)
		switch rec.Kind {
		case traffic.KindExchange:
			x := rec.Exchange
			s.Exchanges++
			s.Endpoints[opts.Endpoint(x.Request.Method, x.Request.Path())]++
			if x.Response != nil {
				s.Statuses[x.Response.Status]++
				if x.Response.Body.Truncated {
					s.Truncated++
				}
				countBody(x.Response.Header, x.Response.Body)
			}
			if x.Request.Body.Truncated {
				s.Truncated++
			}
			countBody(x.Request.Header, x.Request.Body)
			if x.Error != "" {
				s.Errors[x.Error]++
			}
			if x.Has(traffic.FlagIncomplete) {
				s.Incomplete++
			}
			if x.Has(traffic.FlagLate) {
				s.Late++
			}
		case traffic.KindWSOpen:
			o := rec.WSOpen
			ws[o.ConnID] = len(s.WS)
			s.WS = append(s.WS, WSSummary{ConnID: o.ConnID, Flow: o.Flow, URL: o.Upgrade.Request.URL, Extensions: o.Extensions,
				Endpoint: opts.Endpoint(wsMethod, o.Upgrade.Request.Path()),
				Start:    o.Start, Messages: map[string]map[string]int64{}})
		case traffic.KindWSMessage:
			m := rec.WSMessage
			i, ok := ws[m.ConnID]
			if !ok {
				s.Orphans++
				continue
			}
			dir := "server"
			if m.FromClient {
				dir = "client"
			}
			if s.WS[i].Messages[dir] == nil {
				s.WS[i].Messages[dir] = map[string]int64{}
			}
			s.WS[i].Messages[dir][m.Opcode.String()]++
		case traffic.KindWSClose:
			c := rec.WSClose
			i, ok := ws[c.ConnID]
			if !ok {
				s.Orphans++
				continue
			}
			w := &s.WS[i]
			w.Closed, w.End, w.CloseCode = true, c.Start, c.Code
			w.CloseBy = "server"
			if c.FromClient {
				w.CloseBy = "client"
			}
		}
	}
	s.Flows = len(flows)
	s.Users = uf.Users()
	return s, nil
}

// wsMethod is the pseudo-method naming WebSocket endpoints, as the
// replay report does ("WS /v1/updates").
const wsMethod = "WS"

// DefaultConnections is how many WebSocket connections WriteText lists
// unless told to list them all.
const DefaultConnections = 10

// TextOptions tune WriteText. The zero value lists the first
// DefaultConnections WebSocket connections after their summary.
type TextOptions struct {
	// AllConnections lists every WebSocket connection.
	AllConnections bool
}

// WriteText prints s for people: the corpus, its exchanges, endpoints,
// and its WebSocket connections summed up (by endpoint, messages by
// direction and type, how they ended), then the connections one by one,
// the first DefaultConnections unless o.AllConnections.
func (s *Summary) WriteText(w io.Writer, o TextOptions) error {
	h := s.Header
	p := &printer{w: w}
	p.f("source        %s\n", orDash(h.Source))
	p.f("origin        %s\n", orDash(h.Origin))
	if !h.Created.IsZero() {
		p.f("created       %s\n", h.Created.Format(time.RFC3339))
	}
	if len(h.Redactions) > 0 {
		p.f("redactions    %s\n", strings.Join(h.Redactions, ", "))
	} else {
		p.f("redactions    none\n")
	}
	span := s.Last - s.First
	p.f("records       %d over %s, %d users (%d flows)\n", s.Records, span.Round(time.Millisecond), s.Users.Len(), s.Flows)
	rate := 0.0
	if span > 0 {
		rate = float64(s.Exchanges) / span.Seconds()
	}
	p.f("exchanges     %d (%.1f/s)", s.Exchanges, rate)
	if s.Incomplete > 0 {
		p.f(", %d incomplete", s.Incomplete)
	}
	if s.Late > 0 {
		p.f(", %d written late", s.Late)
	}
	if s.Truncated > 0 {
		p.f(", %d bodies truncated", s.Truncated)
	}
	p.f("\n")
	if s.Disorder > 0 {
		window := schedule.ReorderWindow(s.Disorder, 0)
		p.f("order         up to %s out of start order (a recorder writes an exchange when it ends); a replay re-sorts within %s\n", s.Disorder.Round(time.Millisecond), window.Round(time.Millisecond))
	}
	if len(s.Statuses) > 0 {
		var parts []string
		for _, st := range sortedInts(s.Statuses) {
			parts = append(parts, fmt.Sprintf("%d×%d", st, s.Statuses[st]))
		}
		p.f("statuses      %s\n", strings.Join(parts, " "))
	}
	for _, e := range sortedByCount(s.Errors) {
		p.f("error         %s ×%d\n", e, s.Errors[e])
	}
	if len(s.Codings) > 0 {
		var parts []string
		for _, c := range sortedByCount(s.Codings) {
			parts = append(parts, fmt.Sprintf("%s×%d", strings.ReplaceAll(c, ", ", ","), s.Codings[c]))
		}
		p.f("codings       %s (bodies; --jsonl shows them decoded)\n", strings.Join(parts, " "))
	}
	for _, e := range sortedByCount(s.Undecodable) {
		p.f("undecodable   %s ×%d (shown as recorded)\n", e, s.Undecodable[e])
	}
	if len(s.Endpoints) > 0 {
		p.f("\nendpoints\n")
		for _, e := range sortedByCount(s.Endpoints) {
			p.f("  %-48s %d\n", e, s.Endpoints[e])
		}
	}
	if len(s.WS) > 0 {
		s.writeWS(p, o)
	}
	if s.Orphans > 0 {
		p.f("\n%d WebSocket records belong to connections not opened in this corpus\n", s.Orphans)
	}
	return p.err
}

// wsGroup sums up the connections of one endpoint.
type wsGroup struct {
	name                          string
	conns, client, server         int64
	byClient, byServer, openAtEnd int64
}

func (s *Summary) writeWS(p *printer, o TextOptions) {
	all := map[string]map[string]int64{"client": {}, "server": {}}
	groups := map[string]*wsGroup{}
	var order []string
	for _, c := range s.WS {
		name := c.Endpoint
		if name == "" {
			name = "WS " + c.URL
		}
		g := groups[name]
		if g == nil {
			g = &wsGroup{name: name}
			groups[name] = g
			order = append(order, name)
		}
		g.conns++
		for dir, byType := range c.Messages {
			for typ, n := range byType {
				all[dir][typ] += n
				if dir == "client" {
					g.client += n
				} else {
					g.server += n
				}
			}
		}
		switch {
		case !c.Closed:
			g.openAtEnd++
		case c.CloseBy == "client":
			g.byClient++
		default:
			g.byServer++
		}
	}
	var total wsGroup
	for _, g := range groups {
		total.client += g.client
		total.server += g.server
		total.byClient += g.byClient
		total.byServer += g.byServer
		total.openAtEnd += g.openAtEnd
	}
	p.f("\nwebsocket     %d connections, %d client messages, %d server messages\n", len(s.WS), total.client, total.server)
	p.f("  messages    client %s; server %s\n", counts(all["client"]), counts(all["server"]))
	p.f("  ended       %d closed by the client, %d by the server, %d open at the corpus's end\n", total.byClient, total.byServer, total.openAtEnd)
	sort.SliceStable(order, func(i, j int) bool {
		if groups[order[i]].conns != groups[order[j]].conns {
			return groups[order[i]].conns > groups[order[j]].conns
		}
		return order[i] < order[j]
	})
	nameW := len("endpoint")
	for _, n := range order {
		nameW = max(nameW, utf8.RuneCountInString(n))
	}
	p.f("  %-*s  %11s  %11s  %11s\n", nameW, "endpoint", "connections", "client msgs", "server msgs")
	for _, n := range order {
		g := groups[n]
		p.f("  %-*s  %11d  %11d  %11d\n", nameW, n, g.conns, g.client, g.server)
	}
	list := s.WS
	if !o.AllConnections && len(list) > DefaultConnections {
		list = list[:DefaultConnections]
		p.f("\n  connections: the first %d of %d (--ws-connections lists them all)\n", len(list), len(s.WS))
	} else {
		p.f("\n  connections\n")
	}
	for _, c := range list {
		end := "open at end"
		if c.Closed {
			end = fmt.Sprintf("closed %d by %s after %s", c.CloseCode, c.CloseBy, (c.End - c.Start).Round(time.Millisecond))
		}
		p.f("  #%-4d %-14s %s\n", c.ConnID, flowLabel(c.Flow), c.URL)
		p.f("        client %s; server %s; %s", counts(c.Messages["client"]), counts(c.Messages["server"]), end)
		if c.Extensions != "" {
			p.f("; %s", c.Extensions)
		}
		p.f("\n")
	}
}

func flowLabel(f string) string {
	if len(f) > 14 {
		return f[:13] + "…"
	}
	return f
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedByCount(m) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedInts(m map[int]int64) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func sortedByCount(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// JSONLReport says what WriteJSONL wrote.
type JSONLReport struct {
	// Records is the number of lines written.
	Records int64
	// Decoded counts bodies written content-decoded, by coding.
	Decoded map[string]int64
	// Undecodable counts content-coded bodies written as recorded because
	// they could not be decoded, by cause ("br: corrupt stream").
	Undecodable map[string]int64
}

// UndecodableTotal is the number of bodies that could not be decoded.
func (r JSONLReport) UndecodableTotal() int64 {
	var n int64
	for _, v := range r.Undecodable {
		n += v
	}
	return n
}

// UndecodableSummary names the causes with their counts ("br: corrupt
// stream ×2, compress: unsupported content coding ×1"), most frequent first.
func (r JSONLReport) UndecodableSummary() string {
	var parts []string
	for _, c := range sortedByCount(r.Undecodable) {
		parts = append(parts, fmt.Sprintf("%s ×%d", c, r.Undecodable[c]))
	}
	return strings.Join(parts, ", ")
}

// WriteJSONL writes every record of src as one JSON object per line.
// Bodies and payloads are text when they are valid UTF-8, else base64 with
// an "_b64" suffix on the field name. A body with a Content-Encoding is
// written decoded, with "coding" naming it, "encoded_size" its recorded
// length and "incomplete" true when it was cut; one that cannot be decoded
// is written as recorded with "decode_error" saying why. maxDecoded caps
// one decoded body (coding.DefaultMax when 0).
func WriteJSONL(ctx context.Context, src traffic.Source, w io.Writer, maxDecoded int64) (JSONLReport, error) {
	rep := JSONLReport{Decoded: map[string]int64{}, Undecodable: map[string]int64{}}
	j := &jsonl{rep: &rep, max: maxDecoded}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		rec, err := src.Next(ctx)
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
		if err := enc.Encode(j.record(rec)); err != nil {
			return rep, err
		}
		rep.Records++
	}
}

// jsonl converts records, decoding bodies and counting what it did.
type jsonl struct {
	rep *JSONLReport
	max int64
}

func (j *jsonl) record(r traffic.Record) map[string]any {
	out := map[string]any{"kind": r.Kind.String()}
	switch r.Kind {
	case traffic.KindHeader:
		out["header"] = r.Header
	case traffic.KindExchange:
		out["exchange"] = j.exchange(r.Exchange)
	case traffic.KindWSOpen:
		o := r.WSOpen
		out["flow"], out["conn"], out["start_ns"] = o.Flow, o.ConnID, int64(o.Start)
		out["upgrade"] = j.exchange(&o.Upgrade)
		out["extensions"], out["subprotocol"] = o.Extensions, o.Subprotocol
	case traffic.KindWSMessage:
		m := r.WSMessage
		out["flow"], out["conn"], out["start_ns"] = m.Flow, m.ConnID, int64(m.Start)
		out["from_client"], out["opcode"], out["frames"], out["compressed"] = m.FromClient, m.Opcode.String(), m.Frames, m.Compressed
		putBytes(out, "payload", m.Payload)
		if m.Truncated {
			out["truncated"], out["size"] = true, m.Size
		}
	case traffic.KindWSClose:
		c := r.WSClose
		out["flow"], out["conn"], out["start_ns"] = c.Flow, c.ConnID, int64(c.Start)
		out["from_client"], out["code"], out["reason"] = c.FromClient, c.Code, c.Reason
		if c.Error != "" {
			out["error"] = c.Error
		}
	}
	return out
}

func (j *jsonl) exchange(x *traffic.Exchange) map[string]any {
	q := map[string]any{"method": x.Request.Method, "url": x.Request.URL, "host": x.Request.Host, "proto": x.Request.Proto, "headers": fieldList(x.Request.Header)}
	j.body(q, x.Request.Header, x.Request.Body)
	out := map[string]any{"flow": x.Flow, "conn": x.ConnID, "start_ns": int64(x.Start), "request": q,
		"timing_ns": map[string]int64{"send": int64(x.Timing.Send), "wait": int64(x.Timing.Wait), "receive": int64(x.Timing.Receive), "total": int64(x.Timing.Total)}}
	if p := x.Response; p != nil {
		resp := map[string]any{"status": p.Status, "reason": p.Reason, "proto": p.Proto, "headers": fieldList(p.Header)}
		j.body(resp, p.Header, p.Body)
		out["response"] = resp
	}
	if x.Error != "" {
		out["error"] = x.Error
	}
	if x.Flags != 0 {
		out["flags"] = x.Flags
	}
	if len(x.Notes) > 0 {
		out["notes"] = x.Notes
	}
	return out
}

func fieldList(f traffic.Fields) [][2]string {
	out := make([][2]string, 0, len(f))
	for _, h := range f {
		out = append(out, [2]string{h.Name, h.Value})
	}
	return out
}

// body puts a message body into m, decoded when it has a content coding.
func (j *jsonl) body(m map[string]any, h traffic.Fields, b traffic.Body) {
	cs := coding.Parse(h.Values("Content-Encoding")...)
	if len(cs) > 0 && len(b.Data) > 0 {
		name := coding.Format(cs)
		m["coding"] = name
		res, err := coding.Body(h, b, j.max)
		if err == nil {
			j.rep.Decoded[name]++
			putBytes(m, "body", res.Data)
			m["encoded_size"] = len(b.Data)
			if !res.Complete {
				m["incomplete"] = true
			}
			if b.Truncated {
				m["truncated"], m["size"] = true, b.Size
			}
			return
		}
		j.rep.Undecodable[err.Error()]++
		m["decode_error"] = err.Error()
	}
	putBytes(m, "body", b.Data)
	if b.Truncated {
		m["truncated"], m["size"] = true, b.Size
	}
}

func putBytes(m map[string]any, key string, p []byte) {
	if len(p) == 0 {
		return
	}
	if utf8.Valid(p) {
		m[key] = string(p)
		return
	}
	m[key+"_b64"] = base64.StdEncoding.EncodeToString(p)
}
