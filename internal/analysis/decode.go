package analysis

import (
	"github.com/reprise/reprise/internal/coding"
	"github.com/reprise/reprise/internal/traffic"
)

// maxDecoded caps a recorded body read through its content coding.
const maxDecoded = 16 << 20

// readBody reads a recorded body through its content coding: the decoded
// bytes (the recorded ones when it has none), with the coding named, and,
// when it cannot be read, why (the recorded bytes are then not used: they
// are not what the client read). A stream cut by the recorder's cap gives
// what it held, marked truncated.
func readBody(h traffic.Fields, b traffic.Body) Body {
	out := Body{Data: b.Data, Truncated: b.Truncated}
	if len(b.Data) == 0 || !h.Has("Content-Encoding") {
		return out
	}
	res, err := coding.Body(h, b, maxDecoded)
	out.Coding = res.Coding()
	out.Truncated = !res.Complete
	if err != nil {
		out.Data, out.Undecoded = nil, err.Error()
		return out
	}
	out.Data = res.Data
	return out
}
