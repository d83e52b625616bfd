package analysis

import (
	"bytes"

	"golang.org/x/net/html"
)

// HTMLPlace is where in an HTML page a value is: the content of a <meta>
// or the value of an <input>, by the element's name.
type HTMLPlace struct {
	Tag, Name string
}

// maxHTML bounds the page EachHTMLValue reads.
const maxHTML = 4 << 20

// EachHTMLValue calls fn with each value an HTML page carries that a later
// request may send back, and its place: the content of a named <meta> (a
// CSRF token in <meta name="csrf-token">) and the value of a named <input>
// (a hidden form field: an authenticity token, a form's id). A page past
// 4 MiB is read up to there.
func EachHTMLValue(page []byte, fn func(HTMLPlace, string)) {
	z := html.NewTokenizer(bytes.NewReader(page[:min(len(page), maxHTML)]))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !hasAttr {
				continue
			}
			var tag, valueAttr string
			switch string(name) {
			case "meta":
				tag, valueAttr = "meta", "content"
			case "input":
				tag, valueAttr = "input", "value"
			default:
				continue
			}
			var elemName, value string
			for {
				k, v, more := z.TagAttr()
				switch string(k) {
				case "name":
					elemName = string(v)
				case valueAttr:
					value = string(v)
				}
				if !more {
					break
				}
			}
			if elemName != "" && value != "" {
				fn(HTMLPlace{Tag: tag, Name: elemName}, value)
			}
		}
	}
}

// HTMLValue returns the value at place in a live page (the last element
// of the name), as EachHTMLValue finds it.
func HTMLValue(page []byte, place HTMLPlace) (string, bool) {
	var found string
	ok := false
	EachHTMLValue(page, func(p HTMLPlace, v string) {
		if p == place {
			found, ok = v, true
		}
	})
	return found, ok
}
