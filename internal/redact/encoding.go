package redact

import (
	"errors"

	"github.com/reprise/reprise/internal/coding"
)

// decode undoes a Content-Encoding (one coding or a stacked list such as
// "gzip, br"). complete is false when the data ended before the encoded
// stream did (a body cut at the recorder's cap) or turned corrupt after a
// readable start: the bytes decoded so far are returned, to be searched.
// A decoded size over max, an unknown coding or data that is corrupt from
// its first byte is an error whose text names the coding and the problem
// ("br: corrupt stream").
func decode(ce string, data []byte, max int64) (out []byte, complete bool, err error) {
	res, err := coding.Decode(ce, data, max)
	if err != nil {
		if errors.Is(err, coding.ErrCorrupt) && len(res.Data) > 0 {
			// Corrupt after a readable start: search what was readable,
			// but say the stream is not whole.
			return res.Data, false, nil
		}
		return nil, false, err
	}
	return res.Data, res.Complete, nil
}

// encode applies a Content-Encoding, the codings of a list in order.
func encode(ce string, data []byte) ([]byte, error) {
	return coding.Encode(ce, data)
}
