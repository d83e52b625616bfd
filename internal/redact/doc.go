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
package redact
