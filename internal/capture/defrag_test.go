package capture

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/reprise/reprise/internal/traffic"
)

// fragmentV4 splits an Ethernet/IPv4 frame into fragments of at most size
// payload bytes (a multiple of 8), in order.
func fragmentV4(p Packet, size int, id uint16) []Packet {
	eth, ip := p.Data[:14], p.Data[14:]
	ihl := int(ip[0]&0x0f) * 4
	payload := ip[ihl:]
	var out []Packet
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		h := append([]byte(nil), ip[:ihl]...)
		binary.BigEndian.PutUint16(h[2:], uint16(ihl+end-off))
		binary.BigEndian.PutUint16(h[4:], id)
		ff := uint16(off / 8)
		if end < len(payload) {
			ff |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(h[6:], ff)
		data := append(append(append([]byte(nil), eth...), h...), payload[off:end]...)
		out = append(out, Packet{Data: data, Timestamp: p.Timestamp, Length: len(data), LinkType: LinkEthernet})
	}
	return out
}

// toV6 turns an Ethernet/IPv4/TCP frame into Ethernet/IPv6/TCP (the TCP
// checksum is left as it was: the decoder does not check it).
func toV6(p Packet) Packet {
	ip := p.Data[14:]
	ihl := int(ip[0]&0x0f) * 4
	seg := ip[ihl:binary.BigEndian.Uint16(ip[2:])]
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(seg)))
	h[6], h[7] = 6, 64
	h[8+15], h[24+15] = ip[15], ip[19] // fd00::1 and fd00::2 for 10.0.0.1 and 10.0.0.2
	h[8], h[24] = 0xfd, 0xfd
	eth := append([]byte(nil), p.Data[:14]...)
	eth[12], eth[13] = 0x86, 0xdd
	data := append(append(eth, h...), seg...)
	return Packet{Data: data, Timestamp: p.Timestamp, Length: len(data), LinkType: LinkEthernet}
}

// fragmentV6 splits an Ethernet/IPv6/TCP frame with a fragment header.
func fragmentV6(p Packet, size int, id uint32) []Packet {
	eth, ip := p.Data[:14], p.Data[14:]
	seg := ip[40:]
	var out []Packet
	for off := 0; off < len(seg); off += size {
		end := min(off+size, len(seg))
		h := append([]byte(nil), ip[:40]...)
		h[6] = 44
		binary.BigEndian.PutUint16(h[4:], uint16(8+end-off))
		fh := make([]byte, 8)
		fh[0] = 6
		of := uint16(off/8) << 3
		if end < len(seg) {
			of |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], of)
		binary.BigEndian.PutUint32(fh[4:], id)
		data := append(append(append(append([]byte(nil), eth...), h...), fh...), seg[off:end]...)
		out = append(out, Packet{Data: data, Timestamp: p.Timestamp, Length: len(data), LinkType: LinkEthernet})
	}
	return out
}

// A request whose TCP segment travelled as IP fragments, out of order,
// imports whole from IPv4 and from IPv6 with Config.Defragment; without
// it, or with a fragment missing, the fragments are counted as lost and
// the exchange is not invented.
func TestDefragment(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 250) // 4000 bytes
	build := func() ([]Packet, int) {
		g := newConvo()
		g.mss = 8000
		c := g.conn(40000, true)
		c.send(true, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"+body)
		big := len(g.pkts) - 1
		c.send(false, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
		c.close()
		return g.pkts, big
	}
	for _, tc := range []struct {
		name             string
		v6, defrag, lose bool
		wantWhole        bool
	}{
		{"ipv4", false, true, false, true},
		{"ipv6", true, true, false, true},
		{"ipv4 without defragmenting", false, false, false, false},
		{"ipv4 fragment missing", false, true, true, false},
		{"ipv6 fragment missing", true, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts, big := build()
			if tc.v6 {
				for i := range pkts {
					pkts[i] = toV6(pkts[i])
				}
			}
			var frags []Packet
			if tc.v6 {
				frags = fragmentV6(pkts[big], 1448, 77)
			} else {
				frags = fragmentV4(pkts[big], 1480, 77)
			}
			if len(frags) != 3 {
				t.Fatalf("%d fragments", len(frags))
			}
			// last first, then the first, then the middle one
			frags = []Packet{frags[2], frags[0], frags[1]}
			if tc.lose {
				frags = frags[:2]
			}
			var all []Packet
			all = append(all, pkts[:big]...)
			all = append(all, frags...)
			all = append(all, pkts[big+1:]...)
			recs, st := process(t, all, Config{Defragment: tc.defrag})
			xs := exchanges(recs)
			if st.Fragments != int64(len(frags)) {
				t.Errorf("fragments %d, want %d", st.Fragments, len(frags))
			}
			if tc.wantWhole {
				if len(xs) != 1 || xs[0].Request.URL != "/upload" || string(xs[0].Request.Body.Data) != body ||
					xs[0].Response == nil || xs[0].Response.Status != 201 || xs[0].Has(traffic.FlagIncomplete) {
					t.Fatalf("exchanges %v", xs)
				}
				if st.Reassembled != 1 || st.FragsLost != 0 {
					t.Errorf("reassembled %d, lost %d; want 1 and 0", st.Reassembled, st.FragsLost)
				}
				return
			}
			for _, x := range xs {
				if string(x.Request.Body.Data) == body {
					t.Fatalf("the request was imported whole from %d of its fragments: %v", len(frags), xs)
				}
			}
			if st.Reassembled != 0 || st.FragsLost != int64(len(frags)) {
				t.Errorf("reassembled %d, lost %d; want 0 and %d", st.Reassembled, st.FragsLost, len(frags))
			}
		})
	}
}
