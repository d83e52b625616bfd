package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/reprise/reprise/internal/traffic"
)

// CorpusID identifies a corpus by its header: a hash of its version,
// creation and clock origin times (to the nanosecond), source, origin,
// redactions and notes, "sha256:" and 16 hex digits. It costs no read
// beyond the header, is the same for every copy of the file whatever its
// name, and differs between two recordings. Results documents carry it
// (metrics.Meta.CorpusID) so merge can tell runs of other corpora.
func CorpusID(h traffic.Header) string {
	d := sha256.New()
	var num [8]byte
	putInt := func(v int64) {
		binary.LittleEndian.PutUint64(num[:], uint64(v))
		d.Write(num[:])
	}
	putStr := func(s string) {
		putInt(int64(len(s)))
		d.Write([]byte(s))
	}
	putTime := func(t time.Time) {
		if t.IsZero() {
			putInt(0)
			return
		}
		putInt(t.UnixNano()) // the instant, whatever the time zone
	}
	putInt(int64(h.Version))
	putTime(h.Created)
	putTime(h.ClockOrigin)
	putStr(h.Source)
	putStr(h.Origin)
	putInt(int64(len(h.Redactions)))
	for _, r := range h.Redactions {
		putStr(r)
	}
	keys := slices.Sorted(maps.Keys(h.Meta))
	putInt(int64(len(keys)))
	for _, k := range keys {
		putStr(k)
		putStr(h.Meta[k])
	}
	return "sha256:" + hex.EncodeToString(d.Sum(nil)[:8])
}
