package traffic

import "time"

// ResultKind says what a Result measures.
type ResultKind uint8

// Result kinds.
const (
	// ResultHTTP is one replayed HTTP exchange.
	ResultHTTP ResultKind = iota + 1
	// ResultWSConnect is one WebSocket handshake (connecting time).
	ResultWSConnect
	// ResultWSSession is one WebSocket connection from open to close,
	// with its message counts.
	ResultWSSession
	// ResultWSRoundTrip is a client message answered by a matching server
	// message (ackId, rpc-request/rpc-response).
	ResultWSRoundTrip
	// ResultWSPush is the delivery of a server push that followed an HTTP
	// mutation in the same flow.
	ResultWSPush
	// ResultWSSend is one client message sent on schedule (or not).
	ResultWSSend
)

func (k ResultKind) String() string {
	switch k {
	case ResultHTTP:
		return "http"
	case ResultWSConnect:
		return "ws-connect"
	case ResultWSSession:
		return "ws-session"
	case ResultWSRoundTrip:
		return "ws-roundtrip"
	case ResultWSPush:
		return "ws-push"
	case ResultWSSend:
		return "ws-send"
	}
	return "result"
}

// Reasons a scheduled event was not sent (Result.NotSent).
// Error kinds of a result (Result.Error): the transport's failure, as the
// engine classifies it at its source.
const (
	ErrRefused  = "refused"
	ErrReset    = "reset"
	ErrTimeout  = "timeout"
	ErrEOF      = "eof"
	ErrDNS      = "dns"
	ErrTLS      = "tls"
	ErrProtocol = "protocol"
	ErrCanceled = "canceled"
	ErrOther    = "other"
	// ErrCut: still in flight when a run with a duration ended, past its
	// grace period.
	ErrCut = "cut at run end"
)

// Overload reports whether the result is a sign of a target that cannot
// keep up: a timeout, a reset or refused connection, a connection closed
// before the answer, a request still in flight when the run ended, an
// answer of 429 or 5xx the recording did not have, or a request the
// client's in-flight limit kept back.
func (r *Result) Overload() bool {
	switch r.Error {
	case ErrTimeout, ErrReset, ErrRefused, ErrEOF, ErrCut:
		return true
	}
	if r.NotSent == NotSentInFlight {
		return true
	}
	return (r.Status == 429 || r.Status >= 500) && r.Status != r.Expected
}

const (
	NotSentInFlight   = "in-flight limit"
	NotSentRunEnded   = "run ended"
	NotSentDependency = "dependency failed"
	NotSentNoConn     = "connection not open"
)

// Result is the outcome of one scheduled event of a replay. Offsets are
// from the run's start on the engine's monotonic clock.
type Result struct {
	Kind ResultKind
	// Endpoint is the route template, "GET /v1/sessions/{id}".
	Endpoint string
	// Label splits the endpoint further ("session-scoped" for a
	// WebSocket's client type); "" for none.
	Label string
	// Flow is the recorded flow (a client connection or credential) of
	// the event.
	Flow string
	// Seq is the schedule sequence number of the event the result is
	// for (schedule.Event.Seq; a session's and its messages' results
	// carry their connection's open event): results of one event in two
	// lanes of a run pair by it.
	Seq uint64
	// Copy is the traffic copy (0-based) under --multiply, or the virtual
	// user; Round is the copy's round or the VU's iteration
	// (schedule.Event.Copy and Round), for the results of scheduled
	// events (zero for round trips and pushes).
	Copy, Round int
	// Intended is when the event was scheduled to fire.
	Intended time.Duration
	// Sent is when it actually went out (zero with NotSent).
	Sent time.Duration
	// Latency runs from Intended to completion: what a user waiting on the
	// schedule saw, queueing included (coordinated-omission safe).
	Latency time.Duration
	// Service runs from Sent to completion: the server's share.
	Service time.Duration
	// Connecting is the time spent dialing (TCP; for a WebSocket, the
	// whole handshake), zero on a reused connection.
	Connecting time.Duration
	// The phases of an HTTP request as k6 names them, from its actual send:
	// Blocked waiting for a connection from the pool (before dialing, or
	// until a reused one is handed over), TLSHandshaking, Sending the
	// request, Waiting for the first response byte and Receiving the rest.
	// Zero when a phase did not happen (or the request failed before it).
	Blocked, TLSHandshaking, Sending, Waiting, Receiving time.Duration
	// Resent is set when the HTTP client wrote the request a second time,
	// on a new connection, after the kept-alive one it first used closed
	// without answering (what Go's transport, like browsers, does for
	// idempotent requests): the target may have seen it twice.
	Resent bool
	// Status is the HTTP status (101 for a WebSocket upgrade), 0 on error.
	Status int
	// Expected is the recorded status, for checks (0 when unknown).
	Expected int
	// Error classifies a failure ("refused", "reset", "timeout", ...);
	// empty on success. An HTTP error status is not an Error.
	Error string
	// NotSent gives the reason an event never went out (NotSent* values).
	NotSent       string
	BytesSent     int64
	BytesReceived int64
	// WebSocket session counts (ResultWSSession).
	MsgsSent     int
	MsgsReceived int
	// MsgsRecorded is how many server messages the corpus holds for the
	// connection.
	MsgsRecorded int
	// Shape is the JSON shape of the response body (package jsonshape:
	// keys and value types, values left out), empty when the body was not
	// JSON or not examined; ExpectedShape is the recorded response's.
	Shape         string
	ExpectedShape string
}

// Failed reports whether the result counts as failed (http_req_failed): a
// transport error, an event never sent, a 5xx status, or a 4xx status
// other than the recorded one. A 4xx the recording also got (a client
// asking for something missing) is the traffic behaving as recorded, as
// k6's expectedStatuses would say; checks still compare every status.
func (r *Result) Failed() bool {
	if r.Error != "" || r.NotSent != "" || r.Status >= 500 {
		return true
	}
	return r.Status >= 400 && r.Status != r.Expected
}
