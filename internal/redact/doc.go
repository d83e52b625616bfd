// Package redact removes secrets from traffic records before they reach
// disk. A Redactor rewrites records; a Sink wraps any traffic.Sink so every
// recorder shares one implementation.
//
// # Rules
//
// A rule is TARGET:PATTERN, matched case-insensitively, '*' matching any
// run of characters:
//
//	header:NAME    a header's value (request and response, WebSocket
//	               upgrade included)
//	query:NAME     a query parameter in the request target, the upgrade
//	               URL, Referer/Location/Origin/Content-Location headers,
//	               and application/x-www-form-urlencoded bodies
//	json:A.B.C     a JSON value whose key path ends with A.B.C (arrays are
//	               transparent), in JSON bodies, text WebSocket messages
//	               and JSON documents carried inside JSON strings
//
// Compose adds user rules to the defaults; "!RULE" removes one. The rules
// applied are recorded in traffic.Header.Redactions.
//
// Defaults (DefaultRules): the Authorization, Proxy-Authorization, Cookie
// and Set-Cookie headers; the query parameters token, ticket,
// access_token, api_key, key, secret, password and signature; the JSON
// fields token, ticket, secret, password, dataEncryptionKey, accessToken,
// refreshToken, apiKey, signature, privateKey, access_token, refresh_token
// and client_secret. publicKey and challenge are kept: a public key is
// public by design and identifies the account that replay must act as, and
// a challenge is a nonce worthless without its signature; the signature
// proves possession of a private key and is redacted.
//
// # Placeholders
//
// A secret is replaced by "<redacted:HASH>", HASH being the first 8 hex
// digits of HMAC-SHA256(salt, secret). The same secret gives the same
// placeholder everywhere in a corpus (a bearer token in a header, a token
// query parameter and a token JSON field all map to one value), so replay
// can substitute consistently and flows stay distinguishable. The salt is
// random per Redactor and never written, so placeholders cannot be
// brute-forced or linked across corpora.
//
// Shapes: authorization-style values keep their scheme ("Bearer
// <redacted:1a2b3c4d>"); Cookie keeps cookie names; Set-Cookie keeps the
// name and attributes; query values are percent-encoded placeholders
// (decoding to the placeholder); JSON values become JSON strings, whatever
// their type (null stays null), so documents stay valid. JSON is rewritten
// on the byte level: key order, spacing and number spelling are kept.
// Input that is not well-formed JSON (socket.io frames such as
// 42["event",{...}], JavaScript, broken documents) goes through a lenient
// scanner that replaces the value of every matching "key": value pair.
//
// # Bodies
//
// Bodies are searched by Content-Type: JSON types, form-urlencoded,
// multipart (lenient scan) and other text types (JSON if it looks like
// JSON, else the lenient scan). Binary types are left alone.
// Content-Encoding gzip, deflate, br and zstd bodies are decoded, redacted
// and re-encoded with the same coding. A compressed body that cannot be
// decoded, or that was cut at the recorder's cap and holds a secret, is
// dropped from the record (Data emptied, Truncated set, a note in
// Exchange.Notes): a secret that could not be removed is never written.
// When a whole body changes length, Body.Size and a recorded
// Content-Length header are updated.
//
// Changed exchanges (and upgrade exchanges) get traffic.FlagRedacted.
//
// # Echoes
//
// A value a rule replaces (a header's credential, a cookie, a query or
// form parameter, a JSON field) is remembered by the Redactor and
// replaced, by the same placeholder, wherever else it appears: in every
// part of the same exchange (its URL, any header, the decoded request
// and response bodies, whichever part the rule found it in) and in every
// later record (exchanges, WebSocket upgrades and text messages). Servers
// echo request URLs in error messages and pagination links; a secret
// echoed there would otherwise reach the corpus in clear.
//
// Echoes are found in any of the secret's encodings, undone up to three
// deep and mixed freely: literal, percent-encoded (query- or
// path-escaped, either hex case, '+' for a space), JSON-escaped ("\/",
// "\"", "\uXXXX" in either hex case, surrogate pairs) and HTML character
// references ("&amp;", "&#43;", "&#x2B;"). In a URL, a form body or a
// URL-valued header the placeholder is percent-encoded; elsewhere it is
// percent-encoded when the echo was, else written as is. In JSON an echo
// is matched inside one string (a quote or backslash of the secret only
// matches escaped), so documents stay valid; an echo outside strings (a
// number) becomes a JSON string. Binary bodies and messages are left
// alone, as by the rules.
//
// A value is searched for when it has at least 8 bytes, 8 ASCII letters
// or digits in a row (the anchor: the last 8 of the longest such run is
// what the search looks for) and 6 different bytes: shorter or
// repetitive values ("dark", "00000000") are replaced only where a rule
// finds them, since they would match unrelated data. Values longer than
// 1 KiB are not searched for.
//
// The set is bounded (WithMaxSecrets, DefaultMaxSecrets = 4096 secrets,
// a few MiB at most): past the bound, the secret found least recently is
// forgotten, and its later echoes are no longer replaced (the rules still
// replace it where they find it). WithMaxSecrets(0) turns the search off.
// An echo that precedes the record where a rule first finds its secret is
// not replaced: records are redacted in the order they arrive. In a body
// or message cut at the recorder's cap, an echo running into the cut is
// replaced up to it; if the cut falls before the echo's anchor, the part
// of the secret before the cut stays.
//
// The search probes the text every 4 bytes in two counting filters, so
// text without echoes costs about a nanosecond per byte whatever the
// number of secrets known. Confirming a hit decodes a bounded number of
// characters; text built to exhaust that bound gets the unconfirmed part
// of the echo replaced from the anchor on.
package redact
