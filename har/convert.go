package har

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// DefaultMaxBody is the number of body bytes the importer keeps per
// request, response or WebSocket message by default. Longer bodies are cut
// and marked Truncated.
const DefaultMaxBody = 64 << 20

// Note keys the importer sets on exchanges.
const (
	// NotePageref holds the entry's pageref.
	NotePageref = "pageref"
	// NoteComment holds the entry's comment.
	NoteComment = "comment"
	// NoteResponseBody is "decoded" when the response body is the content
	// after HTTP content decoding although the headers still name a
	// Content-Encoding: HAR producers store decoded bodies.
	NoteResponseBody = "har.response-body"
)

// splitURL cuts an absolute URL into scheme, authority and origin-form
// target (path and query, fragment dropped).
func splitURL(raw string) (scheme, host, target string, err error) {
	i := strings.Index(raw, "://")
	if j := strings.IndexByte(raw, ':'); j > 0 && j < i {
		// blob:https://..., view-source:http://...
		return strings.ToLower(raw[:j]), "", "", nil
	}
	if i <= 0 {
		if j := strings.IndexByte(raw, ':'); j > 0 && !strings.ContainsAny(raw[:j], "/?#") {
			return strings.ToLower(raw[:j]), "", "", nil
		}
		return "", "", "", fmt.Errorf("url %q is not absolute (no scheme://host)", raw)
	}
	scheme = strings.ToLower(raw[:i])
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host = rest[:end]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	target = rest[end:]
	if h := strings.IndexByte(target, '#'); h >= 0 {
		target = target[:h]
	}
	if target == "" || target[0] == '?' {
		target = "/" + target
	}
	return scheme, host, target, nil
}

// httpScheme maps a URL scheme to the scheme of the HTTP request that
// carries it (a WebSocket upgrade is an HTTP request).
func httpScheme(s string) (string, bool) {
	switch s {
	case "http", "ws":
		return "http", true
	case "https", "wss":
		return "https", true
	}
	return s, false
}

// NormalizeProto maps the httpVersion spellings of HAR producers to the
// protocol names of traffic records: "http/2.0", "h2" and "HTTP/2" become
// "HTTP/2.0", "h3" becomes "HTTP/3.0", "1.1" becomes "HTTP/1.1". Values
// that name no version ("", "unknown", garbage) become "".
func NormalizeProto(v string) string {
	s := strings.ToUpper(strings.TrimSpace(v))
	switch s {
	case "HTTP/1.1", "1.1", "HTTP/1.1.0":
		return "HTTP/1.1"
	case "HTTP/1.0", "1.0", "HTTP/1":
		return "HTTP/1.0"
	case "HTTP/0.9", "0.9":
		return "HTTP/0.9"
	case "HTTP/2", "HTTP/2.0", "H2", "H2C", "2", "2.0", "SPDY/3.1":
		return "HTTP/2.0"
	case "HTTP/3", "HTTP/3.0", "H3", "3", "3.0":
		return "HTTP/3.0"
	}
	if strings.HasPrefix(s, "H3-") || strings.HasPrefix(s, "HTTP/3") {
		return "HTTP/3.0"
	}
	return ""
}

// fields converts HAR headers to ordered fields, leaving out HTTP/2
// pseudo-headers (":path", ":authority", ...): the request line and Host
// carry them.
func fields(h []NameValue) traffic.Fields {
	if len(h) == 0 {
		return nil
	}
	out := make(traffic.Fields, 0, len(h))
	for _, nv := range h {
		if strings.HasPrefix(nv.Name, ":") || nv.Name == "" {
			continue
		}
		out = append(out, traffic.Field{Name: nv.Name, Value: nv.Value})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decodeText returns a body's bytes: base64-decoded when encoding says
// so (and the text decodes), else the text's bytes.
func decodeText(t Text, encoding string) []byte {
	if t == "" {
		return nil
	}
	if strings.EqualFold(strings.TrimSpace(encoding), "base64") {
		s := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(t))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return b
			}
		}
	}
	return []byte(t)
}

// bodySize derives a body's full size from the sizes a HAR gives and the
// bytes it holds.
func bodySize(declared int64, known bool, n int) int64 {
	switch {
	case known && declared >= int64(n):
		return declared
	case n > 0:
		return int64(n)
	case known && declared < 0:
		return -1
	case known:
		return declared
	}
	return -1
}

// deriveRequestSize is the request body size the importer takes from a
// HAR request holding n body bytes.
func deriveRequestSize(body Number, n int) int64 {
	size, known := body.Int()
	return bodySize(size, known, n)
}

// deriveResponseSize is the response body size the importer takes from a
// HAR response holding n body bytes: content.size, else bodySize.
func deriveResponseSize(content, body Number, n int) int64 {
	size, known := content.Int()
	if !known || size <= 0 {
		if bs, ok := body.Int(); ok && bs > 0 {
			size, known = bs, true
		}
	}
	return bodySize(size, known, n)
}

// capBody cuts data at max bytes.
func capBody(b traffic.Body, max int) (traffic.Body, bool) {
	if max > 0 && len(b.Data) > max {
		b.Data = b.Data[:max:max]
		b.Truncated = true
		if b.Size < int64(len(b.Data)) {
			b.Size = -1
		}
		return b, true
	}
	return b, false
}

// requestBody builds the request body from postData: its text, or its
// params encoded as the mime type says.
func requestBody(q *Request, header traffic.Fields) (traffic.Body, error) {
	pd := q.PostData
	if pd == nil || pd.Text != "" || len(pd.Params) == 0 {
		var data []byte
		if pd != nil {
			data = decodeText(pd.Text, pd.Encoding)
		}
		b := traffic.Body{Data: data, Size: deriveRequestSize(q.BodySize, len(data))}
		b.Truncated = b.Size > int64(len(data))
		return b, nil
	}
	data, err := encodeParams(pd, header)
	if err != nil {
		return traffic.Body{}, err
	}
	return traffic.Body{Data: data, Size: int64(len(data))}, nil
}

// encodeParams rebuilds a form body from postData.params.
func encodeParams(pd *PostData, header traffic.Fields) ([]byte, error) {
	mt := pd.MimeType
	if ct := header.Get("Content-Type"); ct != "" {
		mt = ct
	}
	media, params, _ := mime.ParseMediaType(mt)
	if media == "multipart/form-data" {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if b := params["boundary"]; b != "" {
			if err := w.SetBoundary(b); err != nil {
				return nil, fmt.Errorf("postData: multipart boundary: %w", err)
			}
		}
		for _, p := range pd.Params {
			h := make(map[string][]string)
			disp := `form-data; name="` + escapeQuotes(p.Name) + `"`
			if p.FileName != "" {
				disp += `; filename="` + escapeQuotes(p.FileName) + `"`
			}
			h["Content-Disposition"] = []string{disp}
			if p.ContentType != "" {
				h["Content-Type"] = []string{p.ContentType}
			}
			pw, err := w.CreatePart(h)
			if err != nil {
				return nil, err
			}
			pw.Write([]byte(p.Value))
		}
		w.Close()
		return buf.Bytes(), nil
	}
	var parts []string
	for _, p := range pd.Params {
		parts = append(parts, url.QueryEscape(p.Name)+"="+url.QueryEscape(string(p.Value)))
	}
	return []byte(strings.Join(parts, "&")), nil
}

func escapeQuotes(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }

// rawString returns a JSON string's value, or "" for other JSON.
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, err := unquote(raw)
	if err != nil {
		return ""
	}
	return s
}

// producerError is the failure text a producer attached to an entry.
func producerError(r *Response) string {
	if s := rawString(r.Error); s != "" {
		return s
	}
	raw := bytes.TrimSpace(r.Error)
	if len(raw) > 0 && raw[0] == '{' {
		var obj struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		}
		if json.Unmarshal(raw, &obj) == nil {
			switch {
			case obj.Message != "" && obj.Code != "":
				return obj.Code + ": " + obj.Message
			case obj.Message != "":
				return obj.Message
			case obj.Code != "":
				return obj.Code
			}
		}
	}
	return r.FailureText
}

// jsonString encodes s as JSON without HTML escaping, the form the
// exporter writes.
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// isIdentity reports whether a Content-Encoding value names no coding.
func isIdentity(ce string) bool {
	for _, c := range strings.Split(ce, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && c != "identity" {
			return false
		}
	}
	return true
}

// messageTime converts a _webSocketMessages time to an instant. Chrome
// and mitmproxy write seconds since the epoch, Playwright milliseconds:
// the reading closer to the entry's start wins.
func messageTime(n Number, started time.Time) (time.Time, bool) {
	if f, ok := n.Float(); !ok || f <= 0 {
		return time.Time{}, false
	}
	var best time.Time
	found := false
	var bestGap time.Duration
	for _, unit := range []time.Duration{time.Second, time.Millisecond} {
		v, ok := n.Duration(unit)
		if !ok {
			continue
		}
		t := time.Unix(0, int64(v))
		gap := t.Sub(started)
		if gap < 0 {
			gap = -gap
		}
		if !found || gap < bestGap {
			best, bestGap, found = t, gap, true
		}
	}
	return best, found
}

// parseStatus returns an entry's status; ok is false when it is absent.
func parseStatus(n Number) (int, bool) {
	v, ok := n.Int()
	if !ok || v > 999 || v < -1000 {
		return 0, false
	}
	return int(v), true
}

// itoa is strconv.Itoa for int64.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
