package har

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Log is the metadata of a HAR file's "log" object: everything but its
// entries, which a Reader streams and a Writer writes one at a time.
type Log struct {
	// Version is the HAR version the producer claims ("1.2", "1.1").
	Version string  `json:"version"`
	Creator Creator `json:"creator"`
	// Browser is absent in files written by proxies and API clients.
	Browser *Creator `json:"browser,omitempty"`
	Pages   []Page   `json:"pages,omitempty"`
	Comment string   `json:"comment,omitempty"`
	// Custom holds the log's "_"-prefixed fields.
	Custom Custom `json:"-"`
}

// Creator names the program that wrote the file (creator) or the browser
// whose traffic it holds (browser).
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// Page is one page load; entries point at it through Entry.Pageref.
type Page struct {
	StartedDateTime string      `json:"startedDateTime"`
	ID              string      `json:"id"`
	Title           string      `json:"title"`
	PageTimings     PageTimings `json:"pageTimings"`
	Comment         string      `json:"comment,omitempty"`
}

// PageTimings holds a page's load milestones in milliseconds from its
// start (-1 or absent when unknown).
type PageTimings struct {
	OnContentLoad Number `json:"onContentLoad,omitempty"`
	OnLoad        Number `json:"onLoad,omitempty"`
	Comment       string `json:"comment,omitempty"`
}

// Entry is one HTTP request and its response; for a WebSocket, the
// upgrade request with the connection's messages in WebSocketMessages
// (the Chrome DevTools extension).
type Entry struct {
	Pageref string `json:"pageref,omitempty"`
	// StartedDateTime is the ISO 8601 instant the request started, as
	// written; Started parses it.
	StartedDateTime string `json:"startedDateTime"`
	// Time is the total time of the request in milliseconds.
	Time     Number          `json:"time"`
	Request  Request         `json:"request"`
	Response Response        `json:"response"`
	Cache    json.RawMessage `json:"cache"`
	Timings  Timings         `json:"timings"`
	// ServerIPAddress is the server's IP address (no port).
	ServerIPAddress string `json:"serverIPAddress,omitempty"`
	// Connection identifies the TCP connection (Chrome: a connection id;
	// Firefox: the port).
	Connection string `json:"connection,omitempty"`
	Comment    string `json:"comment,omitempty"`

	// ResourceType is Chrome's and Playwright's resource class ("document",
	// "fetch", "websocket", ...).
	ResourceType string `json:"_resourceType,omitempty"`
	// Initiator is Chrome's raw initiator (a string or an object with a
	// call stack).
	Initiator json.RawMessage `json:"_initiator,omitempty"`
	// Priority is Chrome's request priority ("High", "VeryHigh", ...).
	Priority string `json:"_priority,omitempty"`
	// WebSocketMessages holds a WebSocket connection's messages in the
	// Chrome DevTools format; nil when the field is absent.
	WebSocketMessages []WebSocketMessage `json:"_webSocketMessages,omitempty"`
	// WebSocketClose is how the connection ended (a reprise extension);
	// JSON null means the recording stopped with the connection open.
	WebSocketClose json.RawMessage `json:"_webSocketClose,omitempty"`
	// Reprise carries what a corpus record holds and HAR has no field for
	// (a reprise extension; see Extension).
	Reprise *Extension `json:"_reprise,omitempty"`

	// Custom holds every other "_"-prefixed field of the entry, raw.
	Custom Custom `json:"-"`
}

// Started parses StartedDateTime. It accepts RFC 3339 with any number of
// fraction digits, a space instead of the "T", and a missing zone (taken
// as UTC).
func (e *Entry) Started() (time.Time, error) { return ParseTime(e.StartedDateTime) }

// timeLayouts are tried in order by ParseTime.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// The range of times a corpus offset can hold (Unix nanoseconds in an
// int64).
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseTime parses a HAR date-time (see Entry.Started). Times before 1970
// or after 2261 are refused: no recording holds them, and offsets between
// them would not fit a corpus.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("startedDateTime missing")
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Before(minTime) || !t.Before(maxTime) {
				return time.Time{}, fmt.Errorf("startedDateTime %q is outside the years 1970 to 2261", s)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("startedDateTime %q is not an ISO 8601 date-time", s)
}

// FormatTime writes t as a HAR date-time: RFC 3339 in UTC with up to
// nanosecond precision.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Request is a HAR request.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize Number      `json:"headersSize"`
	BodySize    Number      `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
}

// Response is a HAR response. Status 0 (Chrome) or -1 (Playwright) means
// no response arrived.
type Response struct {
	Status      Number      `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize Number      `json:"headersSize"`
	BodySize    Number      `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	// TransferSize is Chrome's bytes on the wire, headers included.
	TransferSize Number `json:"_transferSize,omitempty"`
	// Error is Chrome's network error ("net::ERR_FAILED"), a string, an
	// object or null depending on the producer.
	Error json.RawMessage `json:"_error,omitempty"`
	// FailureText is Playwright's error for a failed request.
	FailureText string `json:"_failureText,omitempty"`
}

// NameValue is a header, query parameter or form field.
type NameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

// Cookie is a request or response cookie.
type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// PostData is a request body: Text, or Params for forms whose producer
// split them.
type PostData struct {
	MimeType string  `json:"mimeType"`
	Params   []Param `json:"params,omitempty"`
	Text     Text    `json:"text,omitempty"`
	// Encoding is "base64" when Text is base64. It is not in HAR 1.2 but
	// common (martian, Reqable; proposed for 1.3).
	Encoding string `json:"encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Param is a posted form field or file.
type Param struct {
	Name        string `json:"name"`
	Value       Text   `json:"value,omitempty"`
	FileName    string `json:"fileName,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Content is a response body. Text is the body after HTTP content
// decoding, base64 when Encoding says so.
type Content struct {
	Size        Number `json:"size"`
	Compression Number `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        Text   `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Timings are the phases of a request in milliseconds; -1 means not
// applicable or unknown.
type Timings struct {
	Blocked Number `json:"blocked,omitempty"`
	DNS     Number `json:"dns,omitempty"`
	Connect Number `json:"connect,omitempty"`
	Send    Number `json:"send"`
	Wait    Number `json:"wait"`
	Receive Number `json:"receive"`
	SSL     Number `json:"ssl,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// WebSocketMessage is one message of Entry.WebSocketMessages, in the
// format Chrome DevTools introduced and mitmproxy and Playwright share.
type WebSocketMessage struct {
	// Type is "send" (client to server) or "receive".
	Type string `json:"type"`
	// Time is the wall-clock instant in seconds since the Unix epoch
	// (Chrome, mitmproxy) or milliseconds (Playwright); MessageTime tells.
	Time Number `json:"time"`
	// Opcode is the WebSocket opcode (1 text, 2 binary).
	Opcode Number `json:"opcode"`
	// Data is the payload: text for text messages, base64 for binary ones.
	Data Text `json:"data"`

	// The fields below are reprise extensions, written only when they
	// differ from the default.

	// Encoding is "base64" when a non-binary message's Data is base64
	// (its payload was not valid UTF-8).
	Encoding string `json:"_encoding,omitempty"`
	// Size is the payload length before truncation (default len(payload)).
	Size Number `json:"_size,omitempty"`
	// Truncated says the payload was cut by the recorder.
	Truncated bool `json:"_truncated,omitempty"`
	// Compressed says the message was sent with permessage-deflate.
	Compressed bool `json:"_compressed,omitempty"`
	// Frames is the number of frames the message took (default 1).
	Frames Number `json:"_frames,omitempty"`
}

// WebSocketClose is the reprise "_webSocketClose" entry field.
type WebSocketClose struct {
	// Time is the wall-clock instant in seconds since the Unix epoch.
	Time       Number `json:"time"`
	FromClient bool   `json:"fromClient,omitempty"`
	Code       int    `json:"code"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Extension is the "_reprise" entry field: what a reprise corpus record
// holds that HAR has no field for, or holds differently. An importer that
// finds it restores the record exactly; other tools ignore it.
type Extension struct {
	Flow  string `json:"flow,omitempty"`
	Flags uint32 `json:"flags,omitempty"`
	// Error is the record's failure classification, verbatim.
	Error  string `json:"error,omitempty"`
	Client string `json:"client,omitempty"`
	Server string `json:"server,omitempty"`
	// NoResponse says the record had no response at all (the HAR response
	// is a placeholder with status 0).
	NoResponse bool  `json:"noResponse,omitempty"`
	Interim    []int `json:"interim,omitempty"`
	// Notes are the record's notes that have no HAR field.
	Notes map[string]string `json:"notes,omitempty"`
	// Request and Response hold values the importer would not derive
	// from the HAR fields (absolute-form targets, body sizes, ...).
	Request  *ExtMessage `json:"request,omitempty"`
	Response *ExtMessage `json:"response,omitempty"`
	// WebSocket open details, when they differ from the upgrade headers.
	Subprotocol *string `json:"subprotocol,omitempty"`
	Extensions  *string `json:"extensions,omitempty"`
	// WSStart is the WebSocket open offset in nanoseconds, when it differs
	// from the upgrade exchange's start.
	WSStart *int64 `json:"wsStart,omitempty"`
}

// ExtMessage overrides derived request or response values.
type ExtMessage struct {
	URL       *string `json:"url,omitempty"`
	Host      *string `json:"host,omitempty"`
	Scheme    *string `json:"scheme,omitempty"`
	Proto     *string `json:"proto,omitempty"`
	Size      *int64  `json:"size,omitempty"`
	Truncated *bool   `json:"truncated,omitempty"`
	// WireEncoded says the body is as sent, still content-encoded (the
	// exporter could not decode it).
	WireEncoded bool `json:"wireEncoded,omitempty"`
}

// LogExtension is the "_reprise" log field: the corpus header an export
// came from, so that a re-import keeps its clock origin and redactions.
type LogExtension struct {
	Version     int               `json:"version,omitempty"`
	Source      string            `json:"source,omitempty"`
	Origin      string            `json:"origin,omitempty"`
	Created     string            `json:"created,omitempty"`
	ClockOrigin string            `json:"clockOrigin,omitempty"`
	Redactions  []string          `json:"redactions,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

// Custom maps "_"-prefixed field names to their raw JSON values.
type Custom map[string]json.RawMessage

// Keys returns the field names in sorted order.
func (c Custom) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
