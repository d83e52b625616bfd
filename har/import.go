package har

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// Options configure Import. The zero value imports everything.
type Options struct {
	// Hosts keeps only entries whose URL host matches one of these: a host
	// ("api.example.com", any port), a host and port ("localhost:8787"),
	// or a wildcard ("*.example.com", subdomains only). Empty keeps all.
	Hosts []string
	// PathPrefixes keeps only entries whose URL path starts with one of
	// these ("/v1/"). Empty keeps all.
	PathPrefixes []string
	// MaxBody is how many bytes of each body and WebSocket message are
	// kept (DefaultMaxBody when 0); the rest is cut and marked Truncated.
	MaxBody int
	// MaxEntry is the largest entry, in bytes of JSON, that is decoded
	// (DefaultMaxEntry when 0); larger entries are skipped and reported.
	MaxEntry int
	// Now gives the corpus creation time (time.Now when nil).
	Now func() time.Time
}

// Input is one HAR file to import. Open is called twice: the importer
// reads every input once to find the clock origin and the order of the
// entries, then again to convert them.
type Input struct {
	// Name names the input in reports and flows (the file's base name).
	Name string
	Open func() (io.ReadCloser, error)
}

// FileInput returns the Input for a HAR file on disk.
func FileInput(path string) Input {
	return Input{Name: filepath.Base(path), Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// BytesInput returns the Input for a HAR held in memory. data must not
// change until the import ends.
func BytesInput(name string, data []byte) Input {
	return Input{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// Skip is an entry that did not become a record, and why.
type Skip struct {
	File   string
	Index  int
	URL    string
	Reason string
}

// String reads "FILE: entry N (URL): reason".
func (s Skip) String() string {
	if s.URL != "" {
		return fmt.Sprintf("%s: entry %d (%s): %s", s.File, s.Index, s.URL, s.Reason)
	}
	return fmt.Sprintf("%s: entry %d: %s", s.File, s.Index, s.Reason)
}

// Report says what an import did.
type Report struct {
	Files int
	// Entries counts the entries read (skipped and filtered ones too).
	Entries    int
	Exchanges  int
	WSConns    int
	WSMessages int
	// Filtered counts entries left out by Hosts or PathPrefixes.
	Filtered int
	// Truncated counts bodies and messages cut at MaxBody.
	Truncated int
	// Skipped lists every entry that could not be imported.
	Skipped []Skip
	// Header is the corpus header the records were written under.
	Header traffic.Header
}

// Summary is a one-line account of the import.
func (r Report) Summary() string {
	s := fmt.Sprintf("read %d entries from %d file(s): %d exchanges, %d websocket connections (%d messages), %d skipped",
		r.Entries, r.Files, r.Exchanges, r.WSConns, r.WSMessages, len(r.Skipped))
	if r.Filtered > 0 {
		s += fmt.Sprintf(", %d filtered out", r.Filtered)
	}
	if r.Truncated > 0 {
		s += fmt.Sprintf(", %d bodies truncated", r.Truncated)
	}
	return s
}

// Import converts HAR files into traffic records. It reads every input
// twice: first to find the clock origin (the earliest startedDateTime of
// the entries kept) and how far the entries stray from start order, then
// to convert them. After the first pass it calls open with the corpus
// header and writes every record to the Sink it returns, in Start order;
// it does not close the Sink.
//
// Entries that cannot become records are skipped and listed in the
// Report; the error is for inputs that are not HAR files, I/O failures and
// a Sink that fails.
func Import(ctx context.Context, inputs []Input, opts Options, open func(traffic.Header) (traffic.Sink, error)) (Report, error) {
	var rep Report
	if len(inputs) == 0 {
		return rep, errors.New("har: no input files")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxEntry <= 0 {
		opts.MaxEntry = DefaultMaxEntry
	}
	plan, err := scanInputs(ctx, inputs, opts)
	if err != nil {
		return rep, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	h := traffic.Header{
		Version:     traffic.FormatVersion,
		Created:     now().UTC(),
		Source:      "har",
		Origin:      plan.origin,
		ClockOrigin: plan.clock.UTC(),
		Meta:        map[string]string{},
	}
	if x := plan.ext; x != nil {
		if x.Origin != "" {
			h.Origin = x.Origin
		}
		h.Redactions = append([]string(nil), x.Redactions...)
		for k, v := range x.Meta {
			h.Meta[k] = v
		}
		if x.Source != "" && x.Source != "har" {
			h.Meta["har.exported-from"] = x.Source
		}
	}
	var names []string
	for _, in := range inputs {
		names = append(names, in.Name)
	}
	h.Meta["har.files"] = strings.Join(names, ",")
	if plan.creator != "" {
		h.Meta["har.creator"] = plan.creator
	}
	rep.Header = h
	sink, err := open(h)
	if err != nil {
		return rep, err
	}
	im := &importer{
		opts:   opts,
		origin: plan.clock,
		lag:    plan.lag,
		sink:   sink,
		conns:  map[string]uint64{},
		used:   map[uint64]bool{},
		rep:    &rep,
	}
	for _, in := range inputs {
		if err := im.file(ctx, in); err != nil {
			return rep, err
		}
	}
	if err := im.flush(ctx, true); err != nil {
		return rep, err
	}
	return rep, nil
}

// plan is what the first pass learns.
type plan struct {
	clock   time.Time
	lag     time.Duration
	origin  string
	creator string
	ext     *LogExtension
}

// scanInputs is the first pass.
func scanInputs(ctx context.Context, inputs []Input, opts Options) (plan, error) {
	var p plan
	var maxStart time.Time
	first := true
	originSet := map[string]bool{}
	for _, in := range inputs {
		rc, err := in.Open()
		if err != nil {
			return p, err
		}
		r, err := NewReader(rc, WithMaxEntry(opts.MaxEntry))
		if err != nil {
			rc.Close()
			return p, fmt.Errorf("%s: %w", in.Name, err)
		}
		for {
			if err := ctx.Err(); err != nil {
				rc.Close()
				return p, err
			}
			raw, _, err := r.NextRaw()
			if err == io.EOF {
				break
			}
			var ee *EntryError
			if errors.As(err, &ee) {
				continue
			}
			if errors.Is(err, ErrTruncated) {
				// The second pass reports it where it stops.
				break
			}
			if err != nil {
				rc.Close()
				return p, fmt.Errorf("%s: %w", in.Name, err)
			}
			started, rawURL := peekStartAndURL(raw)
			t, err := ParseTime(started)
			if err != nil {
				continue
			}
			scheme, host, target, err := splitURL(rawURL)
			if err != nil || host == "" || !keep(opts, host, target) {
				continue
			}
			if s, ok := httpScheme(scheme); ok {
				originSet[s+"://"+host] = true
			}
			if first || t.Before(p.clock) {
				p.clock = t
			}
			if first || t.After(maxStart) {
				maxStart = t
			}
			if lag := maxStart.Sub(t); lag > p.lag {
				p.lag = lag
			}
			first = false
		}
		log := r.Log()
		rc.Close()
		if p.creator == "" && log.Creator.Name != "" {
			p.creator = strings.TrimSpace(log.Creator.Name + " " + log.Creator.Version)
		}
		if raw, ok := log.Custom["_reprise"]; ok && p.ext == nil {
			var x LogExtension
			if json.Unmarshal(raw, &x) == nil {
				p.ext = &x
			}
		}
	}
	if p.ext != nil && p.ext.ClockOrigin != "" {
		if t, err := ParseTime(p.ext.ClockOrigin); err == nil && (first || !t.After(p.clock)) {
			p.clock = t
		}
	}
	if first && p.clock.IsZero() {
		p.clock = time.Unix(0, 0).UTC()
	}
	if len(originSet) == 1 {
		for o := range originSet {
			p.origin = o
		}
	}
	return p, nil
}

// peekStartAndURL pulls startedDateTime and request.url out of an
// entry's JSON without decoding the rest (the first pass only needs them).
func peekStartAndURL(raw []byte) (started, rawURL string) {
	objectFields(raw, func(k string, v []byte) {
		switch k {
		case "startedDateTime":
			started = rawString(v)
		case "request":
			objectFields(v, func(k string, v []byte) {
				if k == "url" {
					rawURL = rawString(v)
				}
			})
		}
	})
	return started, rawURL
}

// keep applies the host and path filters.
func keep(opts Options, host, target string) bool {
	if len(opts.Hosts) > 0 {
		ok := false
		for _, h := range opts.Hosts {
			if hostMatch(host, h) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(opts.PathPrefixes) > 0 {
		path := target
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		for _, p := range opts.PathPrefixes {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	return true
}

// hostMatch matches a URL authority against a --host pattern.
func hostMatch(host, pattern string) bool {
	host, pattern = strings.ToLower(host), strings.ToLower(strings.TrimSpace(pattern))
	if host == pattern {
		return true
	}
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name = host[:i]
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	pattern = strings.TrimSuffix(strings.TrimPrefix(pattern, "["), "]")
	if strings.HasPrefix(pattern, "*.") {
		return strings.HasSuffix(name, pattern[1:])
	}
	return name == pattern
}

// importer is the second pass.
type importer struct {
	opts   Options
	origin time.Time
	lag    time.Duration
	sink   traffic.Sink
	rep    *Report

	conns map[string]uint64
	used  map[uint64]bool
	next  uint64

	pending  recHeap
	seq      uint64
	maxStart time.Duration
	started  bool
}

func (im *importer) file(ctx context.Context, in Input) error {
	rc, err := in.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := NewReader(rc, WithMaxEntry(im.opts.MaxEntry))
	if err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	im.rep.Files++
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		var ee *EntryError
		if errors.As(err, &ee) {
			im.rep.Entries++
			im.rep.Skipped = append(im.rep.Skipped, Skip{File: in.Name, Index: ee.Index, URL: ee.URL, Reason: ee.Reason})
			continue
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
		if err != nil {
			// A file cut short: what came before is imported, the tail is
			// reported as skipped.
			im.rep.Skipped = append(im.rep.Skipped, Skip{File: in.Name, Index: r.Index(),
				Reason: strings.TrimPrefix(err.Error(), fmt.Sprintf("har: entry %d: ", r.Index()))})
			return nil
		}
		im.rep.Entries++
		idx := r.Index() - 1
		recs, filtered, reason := im.convert(in.Name, e)
		if filtered {
			im.rep.Filtered++
			continue
		}
		if reason != "" {
			im.rep.Skipped = append(im.rep.Skipped, Skip{File: in.Name, Index: idx, URL: e.Request.URL, Reason: reason})
			continue
		}
		if err := im.push(ctx, recs); err != nil {
			return err
		}
	}
}

// connID maps an entry's connection to a ConnID: a numeric connection id
// is kept when free, others get the next free number. An empty connection
// gets 0 unless fresh is set (WebSockets need their own id).
func (im *importer) connID(file, conn string, fresh bool) uint64 {
	if conn == "" {
		if !fresh {
			return 0
		}
		return im.alloc()
	}
	key := file + "\x00" + conn
	if id, ok := im.conns[key]; ok {
		return id
	}
	id, err := strconv.ParseUint(conn, 10, 64)
	if err != nil || id == 0 || im.used[id] {
		id = im.alloc()
	}
	im.used[id] = true
	im.conns[key] = id
	return id
}

func (im *importer) alloc() uint64 {
	for {
		im.next++
		if !im.used[im.next] {
			im.used[im.next] = true
			return im.next
		}
	}
}

// convert turns one entry into records. filtered reports an entry left
// out by the filters; reason says why an entry cannot be imported.
func (im *importer) convert(file string, e *Entry) (recs []traffic.Record, filtered bool, reason string) {
	q := &e.Request
	if strings.TrimSpace(q.Method) == "" {
		return nil, false, "request.method missing"
	}
	if q.URL == "" {
		return nil, false, "request.url missing"
	}
	scheme, host, target, err := splitURL(q.URL)
	if err != nil {
		return nil, false, err.Error()
	}
	hs, ok := httpScheme(scheme)
	if !ok {
		return nil, false, fmt.Sprintf("url scheme %q is not http, https, ws or wss (nothing to replay)", scheme)
	}
	if host == "" {
		return nil, false, "url has no host"
	}
	if !keep(im.opts, host, target) {
		return nil, true, ""
	}
	started, err := e.Started()
	if err != nil {
		return nil, false, err.Error()
	}
	x := e.Reprise
	ex := traffic.Exchange{
		Start: started.Sub(im.origin),
		Request: traffic.Request{
			Method: q.Method,
			URL:    target,
			Host:   host,
			Scheme: hs,
			Proto:  NormalizeProto(q.HTTPVersion),
			Header: fields(q.Headers),
		},
	}
	if len(q.Cookies) > 0 && !ex.Request.Header.Has("Cookie") {
		var parts []string
		for _, c := range q.Cookies {
			parts = append(parts, c.Name+"="+c.Value)
		}
		ex.Request.Header = append(ex.Request.Header, traffic.Field{Name: "Cookie", Value: strings.Join(parts, "; ")})
	}
	body, err := requestBody(q, ex.Request.Header)
	if err != nil {
		return nil, false, err.Error()
	}
	var cut bool
	ex.Request.Body, cut = capBody(body, im.opts.MaxBody)
	if cut {
		im.rep.Truncated++
	}

	// Response.
	p := &e.Response
	status, hasStatus := parseStatus(p.Status)
	if !hasStatus || status <= 0 {
		if !hasStatus {
			status = 0
		}
		ex.Flags |= traffic.FlagNoResponse
		ex.Error = fmt.Sprintf("har: no response (status %d)", status)
		if pe := producerError(p); pe != "" {
			ex.Error += ": " + pe
		}
	} else {
		resp := &traffic.Response{
			Status: status,
			Reason: p.StatusText,
			Proto:  NormalizeProto(p.HTTPVersion),
			Header: fields(p.Headers),
		}
		data := decodeText(p.Content.Text, p.Content.Encoding)
		resp.Body = traffic.Body{Data: data, Size: deriveResponseSize(p.Content.Size, p.BodySize, len(data))}
		resp.Body.Truncated = resp.Body.Size > int64(len(data))
		resp.Body, cut = capBody(resp.Body, im.opts.MaxBody)
		if cut {
			im.rep.Truncated++
		}
		if len(data) > 0 && !isIdentity(resp.Header.Get("Content-Encoding")) && !(x != nil && x.Response != nil && x.Response.WireEncoded) {
			setNote(&ex, NoteResponseBody, "decoded")
		}
		ex.Response = resp
		if pe := producerError(p); pe != "" {
			ex.Error = pe
		}
	}
	ex.Timing = timing(e)
	ex.Server = e.ServerIPAddress
	if e.Pageref != "" {
		setNote(&ex, NotePageref, e.Pageref)
	}
	if e.Comment != "" {
		setNote(&ex, NoteComment, e.Comment)
	}
	if e.ResourceType != "" && !(isWSEntry(e) && strings.EqualFold(e.ResourceType, "websocket")) {
		// A WebSocket's "websocket" is said by its records' kind.
		setNote(&ex, "_resourceType", jsonString(e.ResourceType))
	}
	if len(e.Initiator) > 0 && string(e.Initiator) != "null" {
		setNote(&ex, "_initiator", string(compactRaw(e.Initiator)))
	}
	if e.Priority != "" {
		setNote(&ex, "_priority", jsonString(e.Priority))
	}
	for k, v := range e.Custom {
		setNote(&ex, k, string(v))
	}
	ex.Flow = file
	if e.Pageref != "" {
		ex.Flow = file + "#" + e.Pageref
	}

	isWS := isWSEntry(e)
	if status == 101 && !isWS {
		ex.Flags |= traffic.FlagUpgrade
	}
	ex.ConnID = im.connID(file, e.Connection, isWS)
	if x != nil {
		applyExtension(&ex, x)
	}
	if !isWS {
		im.rep.Exchanges++
		return []traffic.Record{{Kind: traffic.KindExchange, Exchange: &ex}}, false, ""
	}
	return im.websocket(e, ex, started), false, ""
}

// isWSEntry reports whether an entry is a WebSocket connection: it has
// messages, or it switched protocols and says it is a WebSocket (ws URL,
// resource type, Upgrade header or an empty message list).
func isWSEntry(e *Entry) bool {
	if len(e.WebSocketMessages) > 0 {
		return true
	}
	if st, ok := parseStatus(e.Response.Status); !ok || st != 101 {
		return false
	}
	scheme, _, _, _ := splitURL(e.Request.URL)
	if scheme == "ws" || scheme == "wss" || strings.EqualFold(e.ResourceType, "websocket") || e.WebSocketMessages != nil {
		return true
	}
	for _, h := range e.Request.Headers {
		if strings.EqualFold(h.Name, "Upgrade") && strings.EqualFold(strings.TrimSpace(h.Value), "websocket") {
			return true
		}
	}
	for _, h := range e.Response.Headers {
		if strings.EqualFold(h.Name, "Upgrade") && strings.EqualFold(strings.TrimSpace(h.Value), "websocket") {
			return true
		}
	}
	return false
}

// setNote sets a note, creating the map.
func setNote(x *traffic.Exchange, k, v string) {
	if x.Notes == nil {
		x.Notes = map[string]string{}
	}
	x.Notes[k] = v
}

// applyExtension restores what the "_reprise" field records exactly.
func applyExtension(ex *traffic.Exchange, x *Extension) {
	ex.Flow = x.Flow
	ex.Flags = x.Flags
	ex.Error = x.Error
	ex.Client = x.Client
	ex.Server = x.Server
	if x.NoResponse {
		ex.Response = nil
	} else if ex.Response == nil {
		ex.Response = &traffic.Response{}
	}
	if ex.Response != nil {
		ex.Response.Interim = append([]int(nil), x.Interim...)
		if len(ex.Response.Interim) == 0 {
			ex.Response.Interim = nil
		}
	}
	// Notes without a HAR field come back; HAR-held notes stay.
	for k, v := range x.Notes {
		if ex.Notes == nil {
			ex.Notes = map[string]string{}
		}
		ex.Notes[k] = v
	}
	if m := x.Request; m != nil {
		q := &ex.Request
		if m.URL != nil {
			q.URL = *m.URL
		}
		if m.Host != nil {
			q.Host = *m.Host
		}
		if m.Scheme != nil {
			q.Scheme = *m.Scheme
		}
		if m.Proto != nil {
			q.Proto = *m.Proto
		}
		if m.Size != nil {
			q.Body.Size = *m.Size
		}
		if m.Truncated != nil {
			q.Body.Truncated = *m.Truncated
		}
	}
	if m := x.Response; m != nil && ex.Response != nil {
		p := ex.Response
		if m.Proto != nil {
			p.Proto = *m.Proto
		}
		if m.Size != nil {
			p.Body.Size = *m.Size
		}
		if m.Truncated != nil {
			p.Body.Truncated = *m.Truncated
		}
	}
}

// timing reads an entry's timings; -1 (not applicable) reads as 0
// (unknown).
func timing(e *Entry) traffic.Timing {
	ms := func(n Number) time.Duration {
		d, ok := n.Duration(time.Millisecond)
		if !ok || d < 0 {
			return 0
		}
		return d
	}
	return traffic.Timing{
		Send:    ms(e.Timings.Send),
		Wait:    ms(e.Timings.Wait),
		Receive: ms(e.Timings.Receive),
		Total:   ms(e.Time),
	}
}

// websocket turns a WebSocket entry into open, message and close records.
func (im *importer) websocket(e *Entry, up traffic.Exchange, started time.Time) []traffic.Record {
	open := &traffic.WSOpen{
		Flow:    up.Flow,
		ConnID:  up.ConnID,
		Start:   up.Start,
		Upgrade: up,
	}
	if up.Response != nil {
		open.Subprotocol = up.Response.Header.Get("Sec-WebSocket-Protocol")
		open.Extensions = up.Response.Header.Get("Sec-WebSocket-Extensions")
	}
	if x := e.Reprise; x != nil {
		if x.Subprotocol != nil {
			open.Subprotocol = *x.Subprotocol
		}
		if x.Extensions != nil {
			open.Extensions = *x.Extensions
		}
		if x.WSStart != nil {
			open.Start = time.Duration(*x.WSStart)
		}
	}
	recs := []traffic.Record{{Kind: traffic.KindWSOpen, WSOpen: open}}
	last := open.Start
	for _, m := range e.WebSocketMessages {
		msg := &traffic.WSMessage{
			Flow:       open.Flow,
			ConnID:     open.ConnID,
			Start:      open.Start,
			FromClient: strings.EqualFold(m.Type, "send"),
			Opcode:     traffic.OpText,
			Frames:     1,
		}
		if op, ok := m.Opcode.Int(); ok && op >= 0 && op < 16 {
			msg.Opcode = traffic.Opcode(op)
		}
		if msg.Opcode == traffic.OpBinary || strings.EqualFold(m.Encoding, "base64") {
			msg.Payload = decodeText(m.Data, "base64")
		} else {
			msg.Payload = decodeText(m.Data, "")
		}
		msg.Size = int64(len(msg.Payload))
		if n, ok := m.Size.Int(); ok {
			msg.Size = n
		}
		msg.Truncated = m.Truncated
		msg.Compressed = m.Compressed
		if n, ok := m.Frames.Int(); ok {
			msg.Frames = int(n)
		}
		if max := im.opts.MaxBody; len(msg.Payload) > max {
			msg.Payload = msg.Payload[:max:max]
			msg.Truncated = true
			im.rep.Truncated++
		}
		if t, ok := messageTime(m.Time, started); ok {
			msg.Start = t.Sub(im.origin)
		}
		if msg.Start < open.Start {
			msg.Start = open.Start
		}
		if msg.Start > last {
			last = msg.Start
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindWSMessage, WSMessage: msg})
	}
	im.rep.WSConns++
	im.rep.WSMessages += len(e.WebSocketMessages)
	raw := strings.TrimSpace(string(e.WebSocketClose))
	switch {
	case raw == "null":
		// Recorded as still open.
	case raw != "":
		var c WebSocketClose
		json.Unmarshal(e.WebSocketClose, &c)
		cl := &traffic.WSClose{Flow: open.Flow, ConnID: open.ConnID, Start: last, FromClient: c.FromClient, Code: c.Code, Reason: c.Reason, Error: c.Error}
		if v, ok := c.Time.Duration(time.Second); ok {
			cl.Start = time.Unix(0, int64(v)).Sub(im.origin)
		}
		if cl.Start < open.Start {
			cl.Start = open.Start
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: cl})
	default:
		// HAR does not say how the connection ended: it ended when the
		// entry's time ran out, or after its last message.
		end := open.Start
		if d, ok := e.Time.Duration(time.Millisecond); ok && d > 0 {
			end = started.Add(d).Sub(im.origin)
		}
		if end < last {
			end = last
		}
		recs = append(recs, traffic.Record{Kind: traffic.KindWSClose, WSClose: &traffic.WSClose{
			Flow: open.Flow, ConnID: open.ConnID, Start: end, Code: traffic.CloseNoStatus,
		}})
	}
	return recs
}

// push queues records and writes those no later entry can precede.
func (im *importer) push(ctx context.Context, recs []traffic.Record) error {
	if len(recs) == 0 {
		return nil
	}
	entryStart := recs[0].Start()
	if !im.started || entryStart > im.maxStart {
		im.maxStart = entryStart
		im.started = true
	}
	for _, r := range recs {
		im.seq++
		heap.Push(&im.pending, pendingRecord{rec: r, start: r.Start(), seq: im.seq})
	}
	return im.flush(ctx, false)
}

// flush writes queued records up to the release point (all with all).
func (im *importer) flush(ctx context.Context, all bool) error {
	limit := im.maxStart - im.lag
	for im.pending.Len() > 0 {
		top := im.pending[0]
		if !all && top.start > limit {
			return nil
		}
		heap.Pop(&im.pending)
		if err := im.sink.Write(ctx, top.rec); err != nil {
			return fmt.Errorf("write record: %w", err)
		}
	}
	return nil
}

type pendingRecord struct {
	rec   traffic.Record
	start time.Duration
	seq   uint64
}

type recHeap []pendingRecord

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	if h[i].start != h[j].start {
		return h[i].start < h[j].start
	}
	return h[i].seq < h[j].seq
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(pendingRecord)) }
func (h *recHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
