package capture

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Reasons a packet is not passed to TCP reassembly. They are counted, not
// errors: a capture holds all sorts of traffic.
var (
	errNotIP       = errors.New("not IPv4 or IPv6")
	errNotTCP      = errors.New("not TCP")
	errFragment    = errors.New("IP fragment")
	errShort       = errors.New("packet shorter than its headers")
	errLinkType    = errors.New("unsupported link type")
	errBadIPHeader = errors.New("malformed IP header")
)

// decoder turns link-layer frames into TCP segments without allocating:
// one layers.TCP is reused for every packet.
type decoder struct {
	tcp  layers.TCP
	flow gopacket.Flow
	// defrag, when set, reassembles IP fragments; without it they are
	// counted and skipped (errFragment).
	defrag *defragmenter
	ts     time.Time // of the packet being decoded, for defrag
	// fragment reports that the packet was an IP fragment (skipped, held
	// or completing its datagram).
	fragment bool
	// cut reports that the capture kept fewer bytes than the IP header
	// announced (snap length): the TCP payload is partial.
	cut bool
}

// ethertypes
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100
	etherQinQ  = 0x88a8
	etherQinQ2 = 0x9100
)

// decode parses one frame of the given link type. On success d.tcp and
// d.flow describe the segment.
func (d *decoder) decode(linkType uint32, data []byte) error {
	d.cut, d.fragment = false, false
	switch linkType {
	case LinkEthernet:
		if len(data) < 14 {
			return errShort
		}
		et := binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for et == etherVLAN || et == etherQinQ || et == etherQinQ2 {
			if len(data) < 4 {
				return errShort
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
		return d.network(et, data)
	case LinkLinuxSLL:
		if len(data) < 16 {
			return errShort
		}
		return d.network(binary.BigEndian.Uint16(data[14:16]), data[16:])
	case LinkSLL2:
		if len(data) < 20 {
			return errShort
		}
		return d.network(binary.BigEndian.Uint16(data[0:2]), data[20:])
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return errShort
		}
		fam := binary.LittleEndian.Uint32(data[:4])
		if linkType == LinkLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data[:4])
		}
		switch fam {
		case 2:
			return d.network(etherIPv4, data[4:])
		case 10, 24, 28, 30:
			return d.network(etherIPv6, data[4:])
		}
		return errNotIP
	case LinkRaw, LinkRawAlt1, LinkRawAlt2, LinkIPv4, LinkIPv6:
		return d.raw(data)
	}
	return errLinkType
}

// raw decodes a packet that starts with its IP header.
func (d *decoder) raw(data []byte) error {
	if len(data) < 1 {
		return errShort
	}
	switch data[0] >> 4 {
	case 4:
		return d.network(etherIPv4, data)
	case 6:
		return d.network(etherIPv6, data)
	}
	return errNotIP
}

func (d *decoder) network(ethertype uint16, data []byte) error {
	switch ethertype {
	case etherIPv4:
		if len(data) < 20 {
			return errShort
		}
		if data[0]>>4 != 4 {
			return errBadIPHeader
		}
		ihl := int(data[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(data[2:4]))
		if ihl < 20 || total < ihl {
			return errBadIPHeader
		}
		if flagsFrag := binary.BigEndian.Uint16(data[6:8]); flagsFrag&0x3fff != 0 {
			d.fragment = true
			if d.defrag == nil || len(data) < total {
				return errFragment // a cut fragment cannot be reassembled
			}
			var k fragKey
			copy(k.src[:], data[12:16])
			copy(k.dst[:], data[16:20])
			k.id = uint32(binary.BigEndian.Uint16(data[4:6]))<<8 | uint32(data[9])
			seg, proto, ok := d.defrag.add(d.ts, k, int(flagsFrag&0x1fff)*8, flagsFrag&0x2000 != 0, data[9], data[ihl:total])
			if !ok {
				return errFragmentHeld
			}
			if proto != 6 {
				return errNotTCP
			}
			d.flow = gopacket.NewFlow(layers.EndpointIPv4, data[12:16], data[16:20])
			return d.transport(seg)
		}
		if data[9] != 6 {
			return errNotTCP
		}
		if len(data) < ihl {
			return errShort
		}
		if total <= len(data) {
			data = data[:total] // drop link-layer padding
		} else {
			d.cut = true
		}
		d.flow = gopacket.NewFlow(layers.EndpointIPv4, data[12:16], data[16:20])
		return d.transport(data[ihl:])
	case etherIPv6:
		if len(data) < 40 {
			return errShort
		}
		if data[0]>>4 != 6 {
			return errBadIPHeader
		}
		plen := int(binary.BigEndian.Uint16(data[4:6]))
		next := data[6]
		src, dst := data[8:24], data[24:40]
		payload := data[40:]
		if plen != 0 {
			if plen <= len(payload) {
				payload = payload[:plen]
			} else {
				d.cut = true
			}
		}
		for {
			switch next {
			case 6:
				d.flow = gopacket.NewFlow(layers.EndpointIPv6, src, dst)
				return d.transport(payload)
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(payload) < 8 {
					return errShort
				}
				l := (int(payload[1]) + 1) * 8
				if l > len(payload) {
					return errShort
				}
				next, payload = payload[0], payload[l:]
			case 51: // authentication header
				if len(payload) < 8 {
					return errShort
				}
				l := (int(payload[1]) + 2) * 4
				if l > len(payload) {
					return errShort
				}
				next, payload = payload[0], payload[l:]
			case 44:
				d.fragment = true
				if d.defrag == nil || d.cut || len(payload) < 8 {
					return errFragment
				}
				var k fragKey
				k.v6 = true
				copy(k.src[:], src)
				copy(k.dst[:], dst)
				k.id = binary.BigEndian.Uint32(payload[4:8])
				offFlags := binary.BigEndian.Uint16(payload[2:4])
				seg, proto, ok := d.defrag.add(d.ts, k, int(offFlags>>3)*8, offFlags&1 != 0, payload[0], payload[8:])
				if !ok {
					return errFragmentHeld
				}
				next, payload = proto, seg
			default:
				return errNotTCP
			}
		}
	}
	return errNotIP
}

func (d *decoder) transport(data []byte) error {
	if len(data) < 20 {
		return errShort
	}
	if int(data[12]>>4)*4 > len(data) {
		return errShort
	}
	return d.tcp.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
}
