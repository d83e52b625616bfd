package traffic

import (
	"strconv"
	"strings"
	"time"
)

// FormatVersion is the version of the record model written by this build.
// Readers refuse records from a newer major version.
const FormatVersion = 1

// Kind says which payload a Record carries.
type Kind uint8

// Record kinds. The numeric values are part of the corpus format.
const (
	KindHeader    Kind = 1
	KindExchange  Kind = 2
	KindWSOpen    Kind = 3
	KindWSMessage Kind = 4
	KindWSClose   Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindHeader:
		return "header"
	case KindExchange:
		return "exchange"
	case KindWSOpen:
		return "ws-open"
	case KindWSMessage:
		return "ws-message"
	case KindWSClose:
		return "ws-close"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one item of a corpus: exactly one of its pointers is set,
// matching Kind.
type Record struct {
	Kind      Kind
	Header    *Header
	Exchange  *Exchange
	WSOpen    *WSOpen
	WSMessage *WSMessage
	WSClose   *WSClose
}

// Start is the record's offset from the corpus clock origin (zero for a
// header).
func (r Record) Start() time.Duration {
	switch r.Kind {
	case KindExchange:
		return r.Exchange.Start
	case KindWSOpen:
		return r.WSOpen.Start
	case KindWSMessage:
		return r.WSMessage.Start
	case KindWSClose:
		return r.WSClose.Start
	}
	return 0
}

// Flow is the record's flow key (empty for a header).
func (r Record) Flow() string {
	switch r.Kind {
	case KindExchange:
		return r.Exchange.Flow
	case KindWSOpen:
		return r.WSOpen.Flow
	case KindWSMessage:
		return r.WSMessage.Flow
	case KindWSClose:
		return r.WSClose.Flow
	}
	return ""
}

// Header describes a corpus: where it came from and what was done to it.
type Header struct {
	// Version is the record model version (FormatVersion when written).
	Version int
	// Created is when the corpus was started.
	Created time.Time
	// Source names the producer: "proxy", "sniff", "pcap", "har", ...
	Source string
	// Origin is the recorded upstream, for example "http://localhost:8787".
	// Replay refuses to target it unless told to.
	Origin string
	// ClockOrigin is the wall-clock instant of offset zero.
	ClockOrigin time.Time
	// Redactions lists the redaction rules applied before writing, so replay
	// knows which values it must substitute (for example "header:authorization").
	Redactions []string
	// Meta holds free-form producer notes (command line, tool version, ...).
	Meta map[string]string
}

// Field is one header line, kept in recorded order and case.
type Field struct {
	Name  string
	Value string
}

// Fields is an ordered header list.
type Fields []Field

// Get returns the first value of the named field (case-insensitive).
func (f Fields) Get(name string) string {
	for _, h := range f {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Values returns every value of the named field (case-insensitive).
func (f Fields) Values(name string) []string {
	var out []string
	for _, h := range f {
		if strings.EqualFold(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

// Has reports whether the named field is present.
func (f Fields) Has(name string) bool {
	for _, h := range f {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// Set replaces every value of name with one value, appending if absent.
func (f Fields) Set(name, value string) Fields {
	out := f.Del(name)
	return append(out, Field{Name: name, Value: value})
}

// Del removes every field called name and returns the shortened list. It
// does not modify f's backing array.
func (f Fields) Del(name string) Fields {
	out := make(Fields, 0, len(f))
	for _, h := range f {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

// Clone returns a copy that shares nothing with f.
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	return append(Fields(nil), f...)
}

// Body is a message body as recorded.
type Body struct {
	// Data is the recorded bytes, possibly cut at the recorder's size cap.
	// Content-Encoding is kept as sent (a gzip body stays gzip).
	Data []byte
	// Size is the full length of the body on the wire (decoded from chunked
	// transfer coding), which is more than len(Data) when Truncated.
	// -1 when unknown.
	Size int64
	// Truncated reports that Data holds only the first bytes of the body.
	Truncated bool
}

// Request is an HTTP request as recorded.
type Request struct {
	Method string
	// URL is the request target as sent: origin-form path and query
	// ("/v1/sessions?limit=10"); absolute-form for proxy requests.
	URL string
	// Host is the Host header (or :authority).
	Host string
	// Scheme is "http" or "https" as seen by the recorder.
	Scheme string
	// Proto is the protocol version ("HTTP/1.1", "HTTP/2.0").
	Proto  string
	Header Fields
	Body   Body
}

// Path returns the URL's path without the query.
func (r *Request) Path() string {
	u := r.URL
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			u = rest[j:]
		} else {
			u = "/"
		}
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// Response is an HTTP response as recorded.
type Response struct {
	Status int
	Reason string
	Proto  string
	Header Fields
	Body   Body
	// Interim holds 1xx responses received before the final one.
	Interim []int
}

// Timing holds durations measured by the recorder. Zero means unknown.
type Timing struct {
	// Send is the time to send the request (first to last request byte).
	Send time.Duration
	// Wait is the time from the last request byte to the first response
	// byte (time to first byte).
	Wait time.Duration
	// Receive is the time from the first to the last response byte.
	Receive time.Duration
	// Total is the time from the first request byte to the last response
	// byte.
	Total time.Duration
}

// Exchange flags.
const (
	// FlagIncomplete marks an exchange the recorder could not see whole
	// (packets lost, connection cut, capture started mid-stream).
	FlagIncomplete uint32 = 1 << iota
	// FlagNoResponse marks a request whose response was never seen.
	FlagNoResponse
	// FlagLate marks a record that reached the writer later than its
	// reorder window, so it may sit after records that started later.
	FlagLate
	// FlagRedacted marks a record in which a redaction rule changed something.
	FlagRedacted
	// FlagUpgrade marks an exchange that switched protocols to something
	// other than WebSocket (raw stream afterwards, not recorded).
	FlagUpgrade
)

// Exchange is one HTTP request and its response.
type Exchange struct {
	// Flow groups the records whose relative order replay keeps.
	Flow string
	// ConnID identifies the client connection the exchange used, unique
	// within the corpus (0 when unknown).
	ConnID uint64
	// Start is the offset of the first request byte from the clock origin.
	Start    time.Duration
	Request  Request
	Response *Response
	Timing   Timing
	// Error is a short classification of a failure the recorder saw
	// ("upstream: connection refused"); empty when none.
	Error string
	Flags uint32
	// Client and Server are transport addresses when known ("10.0.0.1:5123").
	Client string
	Server string
	// Notes carries producer-specific annotations (HAR comment, initiator).
	Notes map[string]string
}

// Has reports whether every bit of flag is set.
func (e *Exchange) Has(flag uint32) bool { return e.Flags&flag == flag }

// Opcode is a WebSocket opcode (RFC 6455 section 5.2).
type Opcode uint8

// WebSocket opcodes.
const (
	OpContinuation Opcode = 0
	OpText         Opcode = 1
	OpBinary       Opcode = 2
	OpClose        Opcode = 8
	OpPing         Opcode = 9
	OpPong         Opcode = 10
)

func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(o)) + ")"
}

// IsControl reports whether o is a control opcode (close, ping, pong).
func (o Opcode) IsControl() bool { return o >= 8 }

// WSOpen starts a WebSocket connection: the upgrade exchange.
type WSOpen struct {
	Flow string
	// ConnID identifies the connection; WSMessage and WSClose refer to it.
	ConnID uint64
	Start  time.Duration
	// Upgrade is the HTTP exchange that opened the connection (request with
	// Upgrade: websocket, response normally 101).
	Upgrade Exchange
	// Subprotocol and Extensions are what the server accepted
	// ("permessage-deflate; client_max_window_bits").
	Subprotocol string
	Extensions  string
}

// WSMessage is one WebSocket message, fragments folded together and
// permessage-deflate undone.
type WSMessage struct {
	Flow   string
	ConnID uint64
	// Start is when the message's first frame was seen.
	Start time.Duration
	// FromClient is true for client-to-server messages.
	FromClient bool
	Opcode     Opcode
	Payload    []byte
	// Size is the payload length before any truncation by the recorder.
	Size int64
	// Truncated reports that Payload was cut at the recorder's size cap.
	Truncated bool
	// Compressed reports that the message was sent with permessage-deflate
	// (RSV1); Payload is the decompressed message.
	Compressed bool
	// Frames is the number of frames the message was sent in (1 when
	// unfragmented).
	Frames int
}

// WSClose ends a WebSocket connection.
type WSClose struct {
	Flow   string
	ConnID uint64
	Start  time.Duration
	// FromClient tells who sent the close frame first (or who dropped).
	FromClient bool
	// Code and Reason come from the close frame; Code is 1006 (abnormal)
	// when the connection ended without one.
	Code   int
	Reason string
	// Error describes an abnormal end ("read: connection reset by peer").
	Error string
}

// Close codes of RFC 6455 section 7.4 used by the recorders.
const (
	CloseNormal   = 1000
	CloseNoStatus = 1005
	CloseAbnormal = 1006
)
