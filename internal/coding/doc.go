// Package coding is the one place that knows HTTP content codings (RFC 9110
// section 8.4): it decodes a body given its Content-Encoding, encodes one,
// and negotiates a coding from a request's Accept-Encoding.
//
// # Codings
//
//	identity        no coding
//	gzip, x-gzip    RFC 1952; several members in a row are one body
//	deflate         RFC 1950 zlib-wrapped deflate as RFC 9110 says, or raw
//	                RFC 1951 deflate as some servers send it (told apart
//	                by the zlib header)
//	br              Brotli, RFC 7932
//	zstd            Zstandard, RFC 8878, windows up to 8 MiB (RFC 9659)
//
// A Content-Encoding value may list several codings ("gzip, br"): they were
// applied in that order, so Decode undoes them in reverse, and Encode
// applies them in order.
//
// # Decoding
//
// Decode and Body never hold more than the decoded-size cap in memory: a
// body that decodes to more is an error of kind ErrTooLarge. A body that ends
// before its encoded stream does (a recorder's size cap cut it) is not an
// error: what decoded is returned with Complete false. Failures are *Error
// values whose kind callers branch on with errors.Is (ErrUnsupported,
// ErrCorrupt, ErrTooLarge) and whose text a note can show as it is
// ("br: corrupt stream"). On ErrCorrupt the result still holds what decoded
// before the damage.
//
// Decoders and encoders are pooled and reset between uses (gzip, zlib,
// flate and Brotli readers and writers, zstd decoders and encoders with a
// concurrency of one, which start no goroutines), so a call costs no
// per-call decoder set-up beyond the first.
//
// # Negotiation
//
// Negotiate picks the coding a server should answer with from the
// Accept-Encoding values of a request (RFC 9110 section 12.5.3): q-values,
// "*" for any coding not named, "identity;q=0" and "*;q=0" refusing an
// uncoded answer. Ties go to the server's order of preference.
package coding
