package capture

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// fuzzAddrs are the addresses fuzzed packets are built from; the seeds'
// expressions name them, so matches and misses are both reachable.
var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
	netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.9"),
	netip.MustParseAddr("::1"), netip.MustParseAddr("fe80::1"),
	netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("::ffff:10.0.0.1"),
}

// fuzzPacket is a well-formed IPv4 or IPv6 packet (from the IP header)
// with a whole TCP or UDP header, so every load a compiled filter makes
// is in bounds and the verdict depends on the expression alone.
type fuzzPacket struct {
	v6           bool
	proto        byte
	src, dst     netip.Addr
	sport, dport uint16
	fragOff      uint16 // IPv4 fragment offset (non-zero: not a first fragment)
}

func (p fuzzPacket) bytes() []byte {
	if p.v6 {
		b := make([]byte, 40+20)
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:], 20)
		b[6] = p.proto
		s, d := p.src.As16(), p.dst.As16()
		copy(b[8:24], s[:])
		copy(b[24:40], d[:])
		binary.BigEndian.PutUint16(b[40:], p.sport)
		binary.BigEndian.PutUint16(b[42:], p.dport)
		b[52] = 0x50
		return b
	}
	b := make([]byte, 20+20)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], 40)
	binary.BigEndian.PutUint16(b[6:], p.fragOff&0x1fff)
	b[8] = 64
	b[9] = p.proto
	s, d := p.src.As4(), p.dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[20:], p.sport)
	binary.BigEndian.PutUint16(b[22:], p.dport)
	b[32] = 0x50
	return b
}

// matches is the reference meaning of a parsed filter, written from the
// grammar's documentation rather than from the code generator.
func (n filterNode) matches(p fuzzPacket) bool {
	tcp := p.proto == 6
	switch n.kind {
	case "true":
		return true
	case "and":
		return n.a.matches(p) && n.b.matches(p)
	case "or":
		return n.a.matches(p) || n.b.matches(p)
	case "not":
		return !n.a.matches(p)
	case "ip":
		return !p.v6
	case "ip6":
		return p.v6
	case "tcp":
		return tcp
	case "port":
		if !tcp || (!p.v6 && p.fragOff&0x1fff != 0) {
			return false
		}
		return (n.dir != "dst" && p.sport == n.port) || (n.dir != "src" && p.dport == n.port)
	case "host":
		if n.addr.Is4() == p.v6 {
			return false
		}
		return (n.dir != "dst" && p.src == n.addr) || (n.dir != "src" && p.dst == n.addr)
	}
	panic("unknown filter node " + n.kind)
}

// FuzzFilter checks the --filter compiler: no input crashes it, every
// expression it accepts assembles into a program the BPF virtual machine
// validates, and that program gives the same verdict on a packet as the
// expression's reference meaning.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"", "tcp", "ip6 && tcp", "tcp port 8080", "dst port 80", "src port 5000",
		"host 10.0.0.1 and port 80", "src host ::1 or (ip and not port 22)",
		"not (dst host 2001:db8::7 || src host 192.168.1.9)", "!tcp", "host ::ffff:10.0.0.1",
		"((port 80 or port 443) and not host 127.0.0.1)", "tcp src port 80 and tcp dst port 5000",
		"udp port 53", "port 70000", "(port 80", "net 10.0.0.0/8",
	} {
		f.Add(s, false, byte(6), byte(0), byte(1), uint16(5000), uint16(80), uint16(0))
	}
	f.Add("port 80", true, byte(6), byte(4), byte(6), uint16(80), uint16(5000), uint16(0))
	f.Add("port 80", false, byte(6), byte(0), byte(1), uint16(5000), uint16(80), uint16(7))
	f.Add("tcp or ip6", false, byte(17), byte(2), byte(3), uint16(53), uint16(53), uint16(0))
	f.Fuzz(func(t *testing.T, expr string, v6 bool, proto, src, dst byte, sport, dport, frag uint16) {
		if len(expr) > 2000 {
			return // a flag value, not a program
		}
		prog, err := compileFilter(expr, 65535)
		if err != nil {
			return
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%q compiled to a program the VM rejects: %v", expr, err)
		}
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatalf("%q compiled to a program that does not assemble: %v", expr, err)
		}
		ps := &filterParser{toks: tokenize(expr)}
		n := filterNode{kind: "true"}
		if len(ps.toks) > 0 {
			if n, err = ps.expr(); err != nil {
				t.Fatalf("%q compiled but does not parse: %v", expr, err)
			}
		}
		pick := func(i byte) netip.Addr {
			// An IPv6 packet carries IPv6 addresses, an IPv4 one IPv4.
			half := len(fuzzAddrs) / 2
			if v6 {
				return fuzzAddrs[half+int(i)%half]
			}
			return fuzzAddrs[int(i)%half]
		}
		p := fuzzPacket{v6: v6, proto: 17, src: pick(src), dst: pick(dst), sport: sport, dport: dport, fragOff: frag}
		if proto%2 == 0 {
			p.proto = 6
		}
		got, err := vm.Run(p.bytes())
		if err != nil {
			t.Fatalf("%q on %+v: %v", expr, p, err)
		}
		if want := n.matches(p); (got > 0) != want {
			t.Fatalf("%q on %+v: program says %v, the expression means %v", expr, p, got > 0, want)
		}
	})
}
