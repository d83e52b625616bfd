// Package routes infers route templates such as "GET /v1/sessions/{id}/messages"
// from the request paths of a corpus, so that metrics and reports group
// requests per endpoint instead of per URL.
//
// A Learner is fed (method, target) pairs, one per recorded request (Learn
// does this for a whole traffic.Source, WebSocket upgrades under the
// pseudo-method "WS"). Its Router method freezes what it learned into a
// Router, which maps any (method, target) to an endpoint name
// "METHOD /template". A Router is read-only and safe for concurrent use.
//
// # Normalisation
//
// The query string and fragment are dropped; an absolute URL
// ("https://host/p") keeps only its path; empty segments are dropped, so
// "/a//b/" and "/a/b" are the same route; a path deeper than MaxDepth
// segments keeps its first MaxDepth-1 segments and ends in "*". Methods are
// upper-cased; a method that is not an HTTP token becomes "OTHER".
//
// # Inference
//
// Parameters are found in two ways.
//
// By shape, segment by segment: all digits; a UUID; hex of 8 characters or
// more with a digit (or 16 or more); digits with separators (dates, versions
// such as "1.9.1"); mixed letters and digits of 8 characters or more with at
// least two digits; base64-like tokens (20 or more characters with upper and
// lower case letters mixed, or with '+', '=' padding); anything containing
// '@'; anything longer than 64 characters. Version segments ("v1", "v2.1")
// are never parameters. A segment with a file extension whose base name
// looks like an id ("app-4b6b8e7d11eb.js") is a {file} parameter.
//
// By cardinality, node by node in the prefix tree of all paths (methods
// merged, since a parameter is a position in the path), for the literal
// children left after the shape rules:
//
//  1. Enumerations: siblings of the same skeleton (letters -> a, digits -> 9)
//     that contain a digit, at least EnumMin of them ("machine-7",
//     "machine-12"), become a parameter.
//  2. Look-alikes: siblings with the same signature (the methods seen on
//     them and the names of their own children), at least SiblingMin of
//     them, become a parameter (kv keys read with GET).
//  3. Many values: when MaxLiterals or more distinct literals remain, all of
//     them become a parameter.
//
// Children merged into a parameter have their subtrees merged, and the
// rules run again below. Literals always win over the parameter when
// routing ("/v2/sessions/active" beside "/v2/sessions/{id}").
//
// A parameter is named {key} after a segment "kv", "key", "keys" or
// "keyvalue"; {file} when every value folded into it had a file extension;
// {id} otherwise.
//
// # Bounded cardinality
//
// A Learner keeps at most LiteralCap distinct literals under one node (the
// rest count as the parameter), so memory stays bounded on any corpus. When
// more than MaxEndpoints endpoints remain after inference (a HAR of a site
// with thousands of static files), the busiest keep their template, the next
// groups are folded into a coarser "METHOD /first-segment/*", and the rest
// into "OTHER". Router.Route never invents names beyond these, a method
// unseen on a known template, and a coarse "METHOD /prefix/*" for the
// deepest known prefix of a path it has never seen (or "OTHER").
//
// Everything is deterministic: the same pairs in any order give the same
// Router (ties are broken by name, never by map order).
package routes
