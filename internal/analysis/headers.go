package analysis

import (
	"net/http"
	"net/url"
	"strings"
)

// Place is where outside a JSON body a response carries a value: a
// HeaderPlace or an HTMLPlace. The live response's value at the same
// place is the one correlation carries in.
type Place interface{ place() }

func (HeaderPlace) place() {}
func (HTMLPlace) place()   {}

// HeaderPlace is where in a response's headers a value is, so that the
// value at the same place of a live response can be found: the header
// (canonical name) and, for a cookie, its name, for a URL, the path
// segment (from 1) or the query parameter.
type HeaderPlace struct {
	Header string
	Key    string
	Seg    int
}

// EachHeaderValue calls fn with each value a response header carries that
// a later request may send back, and its place: the cookie a Set-Cookie
// sets, the path segments and query values of a Location or
// Content-Location (a created resource), the opaque part of an ETag, and
// the whole value of a header whose name says token or csrf. Other
// headers (dates, lengths, request ids) carry none.
func EachHeaderValue(name, value string, fn func(HeaderPlace, string)) {
	// Names are compared without allocating: this runs on every header
	// of every recorded response.
	switch {
	case strings.EqualFold(name, "Set-Cookie"):
		if cn, cv, ok := SetCookie(value); ok && cv != "" {
			fn(HeaderPlace{Header: "Set-Cookie", Key: cn}, cv)
		}
	case strings.EqualFold(name, "Location"), strings.EqualFold(name, "Content-Location"):
		u, err := url.Parse(strings.TrimSpace(value))
		if err != nil {
			return
		}
		canonical := http.CanonicalHeaderKey(name)
		for i, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
			if seg != "" {
				fn(HeaderPlace{Header: canonical, Seg: i + 1}, seg)
			}
		}
		for k, vs := range u.Query() {
			if len(vs) > 0 && vs[0] != "" {
				fn(HeaderPlace{Header: canonical, Key: k}, vs[0])
			}
		}
	case strings.EqualFold(name, "ETag"):
		if tag := entityTag(value); tag != "" {
			fn(HeaderPlace{Header: "Etag"}, tag)
		}
	case containsFold(name, "token") || containsFold(name, "csrf") || containsFold(name, "xsrf"):
		if v := strings.TrimSpace(value); v != "" {
			fn(HeaderPlace{Header: http.CanonicalHeaderKey(name)}, v)
		}
	}
}

// containsFold reports whether s contains sub (lower case ASCII), case
// ignored.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// HeaderValue returns the value at place in live response headers h (the
// last header of the name that has one), as EachHeaderValue finds it.
func HeaderValue(h http.Header, place HeaderPlace) (string, bool) {
	var found string
	ok := false
	for _, v := range h.Values(place.Header) {
		EachHeaderValue(place.Header, v, func(p HeaderPlace, s string) {
			if p == place {
				found, ok = s, true
			}
		})
	}
	return found, ok
}

// EachRequestHeaderValue calls fn with the values inside a request header
// that a response's headers may have made (beside the header's whole
// value): each cookie of a Cookie header, each entity tag of an If-Match,
// If-None-Match or If-Range.
func EachRequestHeaderValue(name, value string, fn func(string)) {
	switch {
	case strings.EqualFold(name, "Cookie"):
		EachCookie(value, func(_, cv string) { fn(cv) })
	case strings.EqualFold(name, "If-Match"), strings.EqualFold(name, "If-None-Match"), strings.EqualFold(name, "If-Range"):
		for part := range strings.SplitSeq(value, ",") {
			if tag := entityTag(part); tag != "" {
				fn(tag)
			}
		}
	}
}

// entityTag is the opaque part of an entity tag (W/"x" or "x" gives x).
func entityTag(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return ""
}

// EachCookie calls fn with the name and value of each cookie of a Cookie
// header value ("a=1; sid=x"), quotes around a value left out.
func EachCookie(header string, fn func(name, value string)) {
	for part := range strings.SplitSeq(header, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && name != "" {
			fn(name, unquoteCookie(value))
		}
	}
}

// SetCookie returns the name and value of the cookie a Set-Cookie header
// value sets ("sid=x; Path=/; HttpOnly"), quotes around the value left out.
func SetCookie(header string) (name, value string, ok bool) {
	first, _, _ := strings.Cut(header, ";")
	name, value, ok = strings.Cut(strings.TrimSpace(first), "=")
	if !ok || name == "" {
		return "", "", false
	}
	return name, unquoteCookie(strings.TrimSpace(value)), true
}

func unquoteCookie(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}
