//go:build !race

package main

// raceEnabled is set under the race detector.
const raceEnabled = false
