//go:build race

package main

// raceEnabled is set under the race detector, which slows the replay
// down several times: timing-bound tests skip.
const raceEnabled = true
