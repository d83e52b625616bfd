package capture

import (
	"net"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
)

type layersTCP = layers.TCP

func parseIP(s string) net.IP {
	ip := net.ParseIP(s)
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// ipPacket builds a minimal IPv4 or IPv6 TCP packet (from the IP header).
func ipPacket(v6 bool, src, dst string, sport, dport uint16, proto byte) []byte {
	g := newConvo()
	c := g.conn(sport, false)
	c.sport = dport
	c.cli = parseIP(src)
	c.srv = parseIP(dst)
	if v6 {
		b := make([]byte, 40+20)
		b[0] = 0x60
		b[4], b[5] = 0, 20
		b[6] = proto
		copy(b[8:24], parseIP(src).To16())
		copy(b[24:40], parseIP(dst).To16())
		b[40], b[41], b[42], b[43] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		b[52] = 0x50 // data offset: 20 bytes
		return b
	}
	c.packet(true, &layersTCP{}, nil)
	pkt := g.pkts[len(g.pkts)-1].Data[14:]
	pkt[9] = proto
	return pkt
}

func TestCompileFilter(t *testing.T) {
	v4 := func(src, dst string, sp, dp uint16) []byte { return ipPacket(false, src, dst, sp, dp, 6) }
	v6 := func(src, dst string, sp, dp uint16) []byte { return ipPacket(true, src, dst, sp, dp, 6) }
	udp := ipPacket(false, "10.0.0.1", "10.0.0.2", 5000, 8080, 17)
	frag := v4("10.0.0.1", "10.0.0.2", 5000, 8080)
	frag = append([]byte(nil), frag...)
	frag[7] = 10 // fragment offset
	tests := []struct {
		expr    string
		match   [][]byte
		noMatch [][]byte
	}{
		{"tcp port 8080",
			[][]byte{v4("10.0.0.1", "10.0.0.2", 5000, 8080), v4("10.0.0.2", "10.0.0.1", 8080, 5000), v6("::1", "::1", 5000, 8080)},
			[][]byte{v4("10.0.0.1", "10.0.0.2", 5000, 80), udp, frag, v6("::1", "::1", 5000, 80)}},
		{"dst port 8080",
			[][]byte{v4("10.0.0.1", "10.0.0.2", 5000, 8080)},
			[][]byte{v4("10.0.0.2", "10.0.0.1", 8080, 5000)}},
		{"host 10.0.0.9 and port 80",
			[][]byte{v4("10.0.0.9", "10.0.0.2", 5000, 80), v4("10.0.0.2", "10.0.0.9", 80, 5000)},
			[][]byte{v4("10.0.0.1", "10.0.0.2", 5000, 80), v4("10.0.0.9", "10.0.0.2", 5000, 81)}},
		{"src host ::1 or (ip and not port 22)",
			[][]byte{v6("::1", "::2", 1, 2), v4("10.0.0.1", "10.0.0.2", 5000, 80)},
			[][]byte{v6("::2", "::1", 1, 2), v4("10.0.0.1", "10.0.0.2", 5000, 22)}},
		{"ip6 && tcp", [][]byte{v6("::1", "::2", 1, 2)}, [][]byte{v4("10.0.0.1", "10.0.0.2", 1, 2)}},
		{"", [][]byte{udp, v6("::1", "::2", 1, 2)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			prog, err := compileFilter(tc.expr, 65535)
			if err != nil {
				t.Fatal(err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range tc.match {
				if n, err := vm.Run(p); err != nil || n == 0 {
					t.Errorf("packet %d not matched (%v)", i, err)
				}
			}
			for i, p := range tc.noMatch {
				if n, err := vm.Run(p); err != nil || n != 0 {
					t.Errorf("packet %d matched (%v)", i, err)
				}
			}
		})
	}
}

func TestCompileFilterErrors(t *testing.T) {
	for _, expr := range []string{"udp port 53", "host example.com", "port 70000", "tcp port", "(port 80", "port 80 or", "net 10.0.0.0/8", "ether host 1:2:3:4:5:6", "host fe80::1%eth0"} {
		t.Run(expr, func(t *testing.T) {
			_, err := CompileFilter(expr, 65535)
			if err == nil {
				t.Fatalf("%q compiled", expr)
			}
			if !strings.Contains(err.Error(), expr) {
				t.Errorf("error %q does not name the filter", err)
			}
		})
	}
}

func TestPayloadOnlyFilter(t *testing.T) {
	g := newConvo()
	c := g.conn(40000, true) // SYN, SYN-ACK, ACK
	c.send(true, "GET / HTTP/1.1\r\n\r\n")
	c.packet(false, &layersTCP{}, nil) // pure ACK
	c.close()                          // FIN, FIN, ACK
	want := []bool{true, true, false, true, false, true, true, false}
	prog, err := compileFilterOpts("tcp port 80", 65535, true)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range g.pkts {
		n, err := vm.Run(p.Data[14:])
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) != want[i] {
			t.Errorf("packet %d: accepted %v, want %v", i, n > 0, want[i])
		}
	}
	v6 := ipPacket(true, "::1", "::1", 5000, 80, 6)
	if n, _ := vm.Run(v6); n != 0 {
		t.Error("IPv6 pure ACK accepted")
	}
	v6[53] = 0x02 // SYN
	if n, _ := vm.Run(v6); n == 0 {
		t.Error("IPv6 SYN rejected")
	}
}
