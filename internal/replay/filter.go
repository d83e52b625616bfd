package replay

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/reprise/reprise/internal/engine"
	"github.com/reprise/reprise/internal/schedule"
	"github.com/reprise/reprise/internal/traffic"
)

// Filter picks the part of a corpus a replay sends, by endpoint: what
// --only and --skip say. A pattern is "[METHOD ]PATH", METHOD being an
// HTTP method or WS (WebSocket connections), PATH a route template or a
// path in which "*" stands for any characters ("/" included):
//
//	GET /health              one endpoint
//	/v1/sessions*            every method on the sessions API
//	POST /v1/sessions/*      its POSTs below a session
//	WS /v1/updates           the update stream's connections (and their messages)
//
// A pattern matches a request when it matches its route template
// ("GET /v1/sessions/{id}") or its path.
type Filter struct {
	only, skip []pattern
}

type pattern struct {
	text   string
	method string   // "" for any
	parts  []string // the path split at its "*"s
}

// ParseFilter reads the --only and --skip patterns.
func ParseFilter(only, skip []string) (*Filter, error) {
	f := &Filter{}
	for _, set := range []struct {
		flag string
		in   []string
		out  *[]pattern
	}{{"--only", only, &f.only}, {"--skip", skip, &f.skip}} {
		for _, s := range set.in {
			p, err := parsePattern(s)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", set.flag, s, err)
			}
			*set.out = append(*set.out, p)
		}
	}
	return f, nil
}

func parsePattern(s string) (pattern, error) {
	p := pattern{text: s}
	fields := strings.Fields(s)
	switch {
	case len(fields) == 1:
	case len(fields) == 2 && isMethod(fields[0]):
		p.method = strings.ToUpper(fields[0])
		fields = fields[1:]
	default:
		return p, fmt.Errorf("want [METHOD ]PATH, for example 'GET /health' or '/v1/sessions*'")
	}
	path := fields[0]
	if !strings.HasPrefix(path, "/") && path != "*" {
		return p, fmt.Errorf("the path must start with / (or be *)")
	}
	p.parts = strings.Split(path, "*")
	return p, nil
}

func isMethod(s string) bool {
	switch strings.ToUpper(s) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "WS":
		return true
	}
	return false
}

func (p pattern) match(method, template, path string) bool {
	if p.method != "" && p.method != method {
		return false
	}
	return glob(p.parts, template) || glob(p.parts, path)
}

// glob matches s against literal parts separated by "*" (any bytes).
func glob(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

// Keep reports whether the request (method "WS" for a WebSocket upgrade)
// whose route template is endpoint ("GET /v1/sessions/{id}") and whose
// recorded target is rawURL is replayed.
func (f *Filter) Keep(method, endpoint, rawURL string) bool {
	if f == nil {
		return true
	}
	method = strings.ToUpper(method)
	template := endpoint
	if i := strings.IndexByte(template, ' '); i >= 0 {
		template = template[i+1:]
	}
	// A request target ("/a//b?q"; not url.Parse, which reads "//b" as a
	// host), or an absolute URL as HAR imports can carry.
	path := rawURL
	if !strings.HasPrefix(path, "/") {
		if u, err := url.Parse(rawURL); err == nil {
			path = u.Path
		}
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	keep := len(f.only) == 0
	for _, p := range f.only {
		if p.match(method, template, path) {
			keep = true
			break
		}
	}
	for _, p := range f.skip {
		if p.match(method, template, path) {
			return false
		}
	}
	return keep
}

// IsZero reports whether the filter keeps everything.
func (f *Filter) IsZero() bool { return f == nil || len(f.only)+len(f.skip) == 0 }

// filtered passes on the events the filter keeps; a WebSocket
// connection left out takes its messages and close with it.
type filtered struct {
	src     engine.Events
	f       *Filter
	dropped map[uint64]bool
	left    int64 // events left out
}

func (e *filtered) Next(ctx context.Context) (schedule.Event, error) {
	for {
		ev, err := e.src.Next(ctx)
		if err != nil {
			return ev, err
		}
		switch rec := ev.Record; rec.Kind {
		case traffic.KindExchange:
			q := rec.Exchange.Request
			if !e.f.Keep(q.Method, ev.Facts.Endpoint.Name, q.URL) {
				e.left++
				continue
			}
		case traffic.KindWSOpen:
			u := rec.WSOpen.Upgrade.Request.URL
			if !e.f.Keep("WS", ev.Facts.Endpoint.Name, u) {
				e.dropped[rec.WSOpen.ConnID] = true
				e.left++
				continue
			}
		case traffic.KindWSMessage:
			if e.dropped[rec.WSMessage.ConnID] {
				e.left++
				continue
			}
		case traffic.KindWSClose:
			if e.dropped[rec.WSClose.ConnID] {
				delete(e.dropped, rec.WSClose.ConnID)
				continue
			}
		}
		return ev, nil
	}
}
