//go:build race

package jsonshape

// raceEnabled: the race detector makes sync.Pool drop what it is given.
const raceEnabled = true
