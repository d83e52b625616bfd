// Package har reads and writes HAR 1.2 (HTTP Archive) files and converts
// them to and from reprise's traffic records, WebSocket messages included.
//
// Browser DevTools (Chrome, Firefox, Safari), Playwright, mitmproxy,
// Charles, Fiddler and Insomnia save HAR; importing one builds a corpus
// from a browser session with no proxy, and exporting a corpus lets any of
// those tools open it.
//
// # Reading
//
// Reader walks the JSON structure down to log.entries with its own
// byte-level scanner and hands encoding/json one entry at a time, so a
// file of any size is read in the memory of its largest entry. Cutting
// out each entry before decoding it also lets the Reader skip an entry
// that is malformed or larger than the limit (WithMaxEntry) and go on
// with the next, which a json.Decoder token walk cannot do after a syntax
// error. Reading is tolerant of what real producers write:
//
//   - a UTF-8 byte order mark, UTF-16 with a byte order mark, leading space;
//   - fields left out or null, numbers written as strings ("status": "200"),
//     values of the wrong type (left at zero);
//   - bytes that are not UTF-8 in bodies (kept byte for byte: Text);
//   - times with any number of fraction digits (kept exactly: Number);
//   - status 0 (Chrome) and -1 (Playwright) for requests that got no
//     response, httpVersion "", "h3", "http/2.0", "unknown" or garbage;
//   - HAR 1.1 files; any other major version is refused (ErrVersion).
//
// # Import (HAR -> records)
//
// Import reads its inputs twice: first to find the clock origin (the
// earliest startedDateTime of the entries kept) and how far entries stray
// from start order, then to convert them; it writes records in Start
// order, holding back only records that a later entry could precede.
//
//	startedDateTime            Exchange.Start = startedDateTime - origin (ns)
//	time                       Timing.Total (-1 reads as 0, unknown)
//	timings.send/wait/receive  Timing.Send/Wait/Receive
//	request.method, url        Request.Method; url split into Scheme
//	                           (ws -> http, wss -> https), Host and the
//	                           origin-form URL (fragment dropped)
//	request.httpVersion        Request.Proto, normalised (NormalizeProto)
//	request.headers            Request.Header in order, HTTP/2 pseudo-headers
//	                           (":path", ...) left out; cookies[] become a
//	                           Cookie header only when none was recorded
//	request.postData           text (base64 when "encoding" says so), else
//	                           params encoded as urlencoded or multipart
//	request.bodySize           Body.Size; Truncated when larger than the text
//	response.status <= 0       Response nil, FlagNoResponse, Error
//	                           "har: no response (status N)[: producer error]"
//	response.*                 Status, Reason, Proto, Header, Body (content.text,
//	                           base64 when content.encoding is "base64");
//	                           Size from content.size, else bodySize
//	response._error, _failureText  Exchange.Error
//	connection                 ConnID (a free numeric id is kept, others are
//	                           numbered; a WebSocket without one gets its own)
//	serverIPAddress            Exchange.Server
//	pageref, comment           Notes["pageref"], Notes["comment"]
//	_resourceType, _initiator,
//	_priority and every other
//	"_" field                  Notes["_name"] = the field's raw JSON
//
// Flows: an entry's Flow is its file's name plus "#" and its pageref
// ("session.har#page_1"), or the file's name alone. A page is one user's
// causally ordered actions; the connection is not used because HTTP/2 and
// browser connection pools spread one user's dependent requests over
// connections, which would break the ordering replay keeps inside a flow.
//
// HAR bodies are stored decoded: when a response body comes with a
// Content-Encoding other than identity, the importer keeps the header as
// recorded and sets Notes["har.response-body"] = "decoded".
//
// WebSockets: an entry with _webSocketMessages, or with status 101 and a
// ws/wss URL, _resourceType "websocket" or an Upgrade: websocket header,
// becomes a WSOpen (the entry as upgrade exchange, Subprotocol and
// Extensions from the response headers), one WSMessage per message
// (FromClient for type "send"; Opcode; Payload: text, or base64 for
// binary; Start from the message's wall-clock time, in seconds for Chrome
// and mitmproxy or milliseconds for Playwright, whichever lies nearer the
// entry's start; Frames 1) and a WSClose. HAR does not record how a
// connection ended, so unless a reprise "_webSocketClose" says otherwise
// the close is at the entry's end (startedDateTime + time, or its last
// message) with code 1005.
//
// Entries that cannot become records are skipped and listed in the
// Report with their index, URL and reason: not an object, invalid JSON,
// larger than the entry limit, no method, no or a relative URL, a scheme
// other than http(s)/ws(s) (data:, blob:, chrome-extension:), no or an
// unreadable startedDateTime. A file cut short imports up to its last
// whole entry and reports the rest.
//
// # Export (records -> HAR)
//
// Export writes a HAR 1.2 file entry by entry (Writer): the log head, one
// entry per line as records come, WebSocket connections as one
// Chrome-style entry each (ws/wss URL, status 101, _resourceType
// "websocket", _webSocketMessages with Unix times in seconds) once their
// close is read, and the pages last. Times keep every nanosecond: numbers
// are written as exact decimals (startedDateTime with up to nine fraction
// digits, timings in milliseconds with six). Bodies that are not UTF-8
// are written base64 with "encoding": "base64" (content, and postData
// where the field is a common extension); content-encoded response bodies
// (gzip, x-gzip, deflate, br, zstd and stacked lists, decoded by
// internal/coding) are written decoded, as HAR means them and browsers
// write them. A body cut at the recorder's cap is written as its decoded
// start, marked truncated in "_reprise". A body that cannot be decoded (an
// unknown coding, corrupt data) is written as sent, base64, with
// "_reprise" wireEncoded, and counted in ExportReport.Undecoded by cause
// ("br: corrupt stream").
//
// What a record holds and HAR has no field for travels in reprise
// extensions that other tools ignore: the log's "_reprise" (the corpus
// header: clock origin, origin, redactions, meta), each entry's "_reprise"
// (flow, flags, error, client and server addresses, notes, interim
// statuses, and body sizes, targets or protocols the importer would not
// derive), "_webSocketClose" (time, code, reason, who closed; null for a
// connection still open) and per message "_size", "_truncated",
// "_compressed", "_frames" and "_encoding". Import restores records from
// them exactly, so corpus -> HAR -> corpus keeps every field; the one
// intended change is a content-encoded response body, which comes back
// decoded and noted as above.
package har
