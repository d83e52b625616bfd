// Package analysis derives, once per corpus record, what every later stage
// of a replay reads about it: the parsed request target, the route
// template and labels of its endpoint, its request and response bodies
// read through their content coding, the JSON shape of the recorded
// response, the values the record sends and returns (with where they
// appear), which of them the client made, and the recorded user it
// belongs to.
//
// Before this package each consumer (identities, correlation, the engine,
// the endpoint filter, metrics) parsed the same URL, walked the same JSON
// and looked up the same route on its own, for every copy and round of
// every record. Now the schedule asks an Analyzer for the Facts of a
// record when it reads it; the Facts are shared by every copy and round
// of the record and never change.
//
// # Ownership
//
// An Analyzer is used by one goroutine, the one that reads the schedule
// (Analyzer.Record is called in schedule order: the classification of
// client-made values depends on it). Facts are immutable once returned and
// safe to read from any goroutine.
//
// # Client-made values
//
// Each value's origin is decided where the corpus first shows it (the
// first pass over a position classifies it, in schedule order). A value
// is client-made when it is id-like (8 to 512 bytes with letters and
// digits, no spaces; not a URL, date or time) and first appears in a
// request body or a client WebSocket message, or as the last path segment
// of a PUT: session tags, message localIds, machine and artifact ids, kv
// keys, ackIds. A value first seen in a response is server-made; one first
// sent in a URL that found it (a resource that existed before the
// recording) stays shared; one first sent in a URL that got a 404 (a
// lookup before a create) becomes client-made when a body later sends it.
// The key and challenge of a login (a body with a signature or password)
// are kept whole. Enumerations ("manual", "encrypted"), numbers and
// timestamps are not id-like. Facts.Vary lists a record's client-made
// values and redaction placeholders, longest first: what package correlate
// gives a variant per copy.
package analysis
