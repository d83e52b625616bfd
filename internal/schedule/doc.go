// Package schedule turns a corpus into a timed plan: events in intended
// send order, each with its offset from the start of the run.
//
// Corpus time is compressed by Speed (10 runs ten times faster), starts at
// the first record, and is filtered by shard. Records are re-sorted by
// start within a bounded reorder window, so a corpus written in completion
// order still replays in start order; a record that arrives later than the
// window is scheduled at once and counted as Late. Reading is streamed:
// the plan never holds more than the window of corpus time in memory.
package schedule
