package capture

import (
	"errors"
	"time"
)

// errFragmentHeld reports a fragment kept for reassembly: its datagram is
// not whole yet.
var errFragmentHeld = errors.New("IP fragment held for reassembly")

// Bounds of IP reassembly: datagrams waiting for their fragments, and
// how long (in capture time) one waits before its fragments are dropped.
const (
	maxFragDatagrams = 1024
	fragTimeout      = 30 * time.Second
	maxDatagram      = 65535
)

type fragKey struct {
	v6       bool
	src, dst [16]byte
	id       uint32
}

type fragDatagram struct {
	first     time.Time
	proto     byte // of the offset-0 fragment (0 until it arrives)
	haveFirst bool
	total     int // payload length, -1 until the last fragment arrives
	data      []byte
	have      []span // received ranges, sorted, merged
	frags     int64
}

type span struct{ from, to int }

// defragmenter reassembles IPv4 and IPv6 datagrams from their fragments
// (the IP payload, that is the TCP segment), for pcap import: RFC 791 and
// RFC 8200 reassembly keyed by addresses and identification, fragments in
// any order, overlaps resolved by the later fragment, bounded in
// datagrams, size and time.
type defragmenter struct {
	m     map[fragKey]*fragDatagram
	order []fragKey // first-seen order, for the timeout and eviction
	// Reassembled counts whole datagrams; Lost counts fragments of
	// datagrams dropped incomplete (timed out, evicted or inconsistent).
	Reassembled, Lost int64
}

func newDefragmenter() *defragmenter {
	return &defragmenter{m: map[fragKey]*fragDatagram{}}
}

// add takes one fragment: its payload at byte offset off, more telling
// whether later fragments follow, proto the transport protocol that the
// first fragment names. It returns the whole payload and its protocol
// once the datagram is complete (valid until the next call).
func (d *defragmenter) add(ts time.Time, k fragKey, off int, more bool, proto byte, payload []byte) ([]byte, byte, bool) {
	d.expire(ts)
	dg := d.m[k]
	if dg == nil {
		for len(d.m) >= maxFragDatagrams && len(d.order) > 0 {
			d.drop(d.order[0])
			d.order = d.order[1:]
		}
		if len(d.order) > 4*maxFragDatagrams {
			// Forget the keys of datagrams completed long ago.
			live := d.order[:0]
			for _, o := range d.order {
				if d.m[o] != nil {
					live = append(live, o)
				}
			}
			d.order = live
		}
		dg = &fragDatagram{first: ts, total: -1}
		d.m[k] = dg
		d.order = append(d.order, k)
	}
	dg.frags++
	end := off + len(payload)
	if end > maxDatagram || (!more && dg.total >= 0 && end != dg.total) || (dg.total >= 0 && end > dg.total) ||
		(more && len(payload)%8 != 0) {
		// Impossible or contradicting fragments: the datagram cannot be
		// trusted.
		d.drop(k)
		return nil, 0, false
	}
	if !more {
		dg.total = end
	}
	if off == 0 {
		dg.proto, dg.haveFirst = proto, true
	}
	if len(dg.data) < end {
		dg.data = append(dg.data, make([]byte, end-len(dg.data))...)
	}
	copy(dg.data[off:], payload)
	dg.have = addSpan(dg.have, span{off, end})
	if dg.total < 0 || !dg.haveFirst || len(dg.have) != 1 || dg.have[0] != (span{0, dg.total}) {
		return nil, 0, false
	}
	delete(d.m, k)
	d.Reassembled++
	return dg.data[:dg.total], dg.proto, true
}

// addSpan inserts s into the sorted, merged list.
func addSpan(have []span, s span) []span {
	out := have[:0:0]
	for _, h := range have {
		switch {
		case h.to < s.from:
			out = append(out, h)
		case s.to < h.from:
			out = append(out, s)
			s = h
		default:
			s = span{min(s.from, h.from), max(s.to, h.to)}
		}
	}
	return append(out, s)
}

func (d *defragmenter) drop(k fragKey) {
	if dg := d.m[k]; dg != nil {
		d.Lost += dg.frags
		delete(d.m, k)
	}
}

// expire drops datagrams older than the timeout (and forgets completed
// ones at the head of the order).
func (d *defragmenter) expire(now time.Time) {
	for len(d.order) > 0 {
		dg := d.m[d.order[0]]
		if dg != nil && now.Sub(dg.first) < fragTimeout {
			return
		}
		if dg != nil {
			d.drop(d.order[0])
		}
		d.order = d.order[1:]
	}
}

// close drops what is still incomplete.
func (d *defragmenter) close() {
	for k := range d.m {
		d.drop(k)
	}
	d.order = nil
}
