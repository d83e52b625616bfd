//go:build !race

package jsonshape

const raceEnabled = false
