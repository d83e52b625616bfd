// Package corpus reads and writes reprise corpora: streams of traffic
// records in a zstd container.
//
// # File layout (container version 1)
//
// A corpus is a valid zstd stream (RFC 8878): its own metadata rides in
// skippable frames, so `zstd -dc corpus.rpz` prints the raw record stream.
// All integers in frame headers are little-endian.
//
//	header frame  skippable 0x184D2A50: "REPRISE\x00", container version
//	              (1 byte), reserved (1 byte), one header record
//	block*        skippable 0x184D2A51 descriptor (32 bytes: compressed
//	              size u32, raw size u32, records u32, CRC-32C u32 of the
//	              descriptor (CRC zeroed) and the compressed bytes, min
//	              start i64, max start i64)
//	              followed by one zstd frame holding whole records
//	index?        skippable 0x184D2A52: block count, per block (offset,
//	              records, raw size, frame size, min start, max start) as
//	              varints, record counts by kind, then the index's own
//	              offset (u64) and "RPRSIDX1"
//
// Blocks are independently decodable (about 1 MiB of raw records each), so
// a reader can seek by the index and decode in parallel, and a crash loses
// at most the block being written. The index is an optimisation: a corpus
// without one (recorder killed) reads to its last whole block, and the
// Reader reports the cut tail.
//
// # Records
//
// A record is: kind (1 byte), payload length (uvarint), payload. Payload
// fields are written in a fixed order per kind (see codec.go): strings and
// byte slices as uvarint length plus bytes, integers as (u)varints,
// durations as varint nanoseconds, times as varint Unix nanoseconds. New
// fields are only ever appended, and a decoder ignores payload bytes past
// the fields it knows, so minor additions stay readable by older builds;
// an incompatible change bumps traffic.FormatVersion, which readers check.
//
// Files are created 0600 under NAME.partial and renamed to NAME on Close.
package corpus
