// Package correlate carries dynamic values through a replay: it learns,
// in schedule order, which values a response returned that a later request
// of the same flow sends back (a created session's id, a token, a
// WebSocket ticket), makes that request wait for the live response, and
// substitutes the live value for the recorded one.
//
// A value is dynamic when it is a JSON string in a recorded response body,
// 8 to 512 bytes long, containing a digit, and was not sent by the client
// before (client-made ids such as a session tag stay as recorded). The
// first response that returned a value is its producer; the value is found
// in the live response at the same JSON path. Values unique enough to name
// their producer anywhere (redaction placeholders, random ids of 20 bytes
// or more) also link across flows: a WebSocket ticket fetched by a user's
// request and presented by a connection the recorder keyed apart. Later requests are searched
// for the value in their path, query, header values and body.
//
// When a producer fails (no response, or an error status), the requests
// that depend on it are not sent and are counted as "dependency failed",
// so one root failure is not reported as a cascade of 404s.
//
// Redaction placeholders ("<redacted:1a2b3c4d>", package redact) are
// identity handles: a placeholder token that a login response returned is
// replaced by the live token when the login succeeds, and sent as recorded
// when it does not (for --auth-token or a permissive server to resolve).
// A request whose body holds a placeholder that no response supplies is
// skipped when the placeholder stands for a proof of identity (a login
// signature, a password, a private key): the server could only refuse it,
// and skipped requests are reported beside the accounting. Any other
// secret (an encryption key the server only stores) is replaced by a
// stand-in of the usual shape: base64 of a hash of the placeholder, the
// same for every occurrence.
package correlate
