package capture

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// CompileFilter compiles a capture filter to classic BPF for packets that
// start with their IP header (what a SOCK_DGRAM packet socket delivers).
// It accepts a subset of tcpdump's syntax, enough to pick the HTTP traffic
// of a service:
//
//	expr      = term { ("or" | "||") term }
//	term      = factor { ("and" | "&&") factor }
//	factor    = ("not" | "!") factor | "(" expr ")" | primitive
//	primitive = "tcp" | "ip" | "ip6"
//	          | ["tcp"] ["src" | "dst"] "port" NUMBER
//	          | ["src" | "dst"] "host" ADDRESS      (IPv4 or IPv6 literal)
//
// "port" matches TCP only (the capture decodes nothing else) and, like
// tcpdump, only IPv6 packets without extension headers and unfragmented
// IPv4 packets. Host names, "net", "portrange" and the link-level
// primitives of tcpdump are not supported: pure Go has no libpcap
// compiler, and an unsupported word is an error, never ignored.
//
// snapLen is the length the filter accepts (what the kernel keeps).
func CompileFilter(expr string, snapLen uint32) ([]bpf.RawInstruction, error) {
	prog, err := compileFilter(expr, snapLen)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	return raw, nil
}

func compileFilter(expr string, snapLen uint32) ([]bpf.Instruction, error) {
	return compileFilterOpts(expr, snapLen, false)
}

// compileFilterOpts compiles expr; with payloadOnly it also rejects TCP
// segments that carry no payload and no SYN, FIN or RST (pure ACKs and
// window updates), which a passive HTTP recorder has no use for.
func compileFilterOpts(expr string, snapLen uint32, payloadOnly bool) ([]bpf.Instruction, error) {
	ps := &filterParser{toks: tokenize(expr)}
	var n filterNode
	if len(ps.toks) == 0 {
		n = filterNode{kind: "true"}
	} else {
		var err error
		n, err = ps.expr()
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", expr, err)
		}
		if ps.pos < len(ps.toks) {
			return nil, fmt.Errorf("filter %q: unexpected %q", expr, ps.toks[ps.pos])
		}
	}
	if payloadOnly {
		n = join("and", n, filterNode{kind: "payload"})
	}
	g := &filterGen{}
	t, f := g.label(), g.label()
	g.gen(n, t, f)
	g.mark(t)
	g.emit(bpf.RetConstant{Val: snapLen})
	g.mark(f)
	g.emit(bpf.RetConstant{Val: 0})
	prog, err := g.resolve()
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	return prog, nil
}

func tokenize(s string) []string {
	s = strings.NewReplacer("(", " ( ", ")", " ) ", "&&", " and ", "||", " or ", "!", " not ").Replace(s)
	return strings.Fields(s)
}

type filterNode struct {
	kind string // and, or, not, true, tcp, ip, ip6, port, host
	dir  string // "", "src", "dst"
	port uint16
	addr netip.Addr
	a, b *filterNode
}

type filterParser struct {
	toks []string
	pos  int
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos])
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *filterParser) expr() (filterNode, error) { return p.chain("or", p.term) }

func (p *filterParser) term() (filterNode, error) { return p.chain("and", p.factor) }

// chain parses operands joined by op, left to right.
func (p *filterParser) chain(op string, operand func() (filterNode, error)) (filterNode, error) {
	a, err := operand()
	if err != nil {
		return a, err
	}
	for p.peek() == op {
		p.next()
		b, err := operand()
		if err != nil {
			return b, err
		}
		a = join(op, a, b)
	}
	return a, nil
}

// join makes the node "a op b".
func join(op string, a, b filterNode) filterNode {
	return filterNode{kind: op, a: &a, b: &b}
}

func (p *filterParser) factor() (filterNode, error) {
	switch t := p.peek(); t {
	case "not":
		p.next()
		a, err := p.factor()
		if err != nil {
			return a, err
		}
		return filterNode{kind: "not", a: &a}, nil
	case "(":
		p.next()
		a, err := p.expr()
		if err != nil {
			return a, err
		}
		if p.next() != ")" {
			return a, fmt.Errorf("missing )")
		}
		return a, nil
	case "":
		return filterNode{}, fmt.Errorf("expression ends early")
	}
	return p.primitive()
}

func (p *filterParser) primitive() (filterNode, error) {
	t := p.next()
	proto := ""
	if t == "tcp" || t == "ip" || t == "ip6" {
		switch p.peek() {
		case "port", "src", "dst":
			if t != "tcp" {
				return filterNode{}, fmt.Errorf("%q: only tcp ports are supported", t+" "+p.peek())
			}
			proto = t
			t = p.next()
		default:
			return filterNode{kind: t}, nil
		}
	}
	dir := ""
	if t == "src" || t == "dst" {
		dir = t
		t = p.next()
	}
	switch t {
	case "port":
		v := p.next()
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return filterNode{}, fmt.Errorf("port %q: not a port number", v)
		}
		return filterNode{kind: "port", dir: dir, port: uint16(n)}, nil
	case "host":
		if proto != "" {
			return filterNode{}, fmt.Errorf("%q: tcp host is not supported (use \"tcp and host ...\")", proto+" host")
		}
		v := p.next()
		a, err := netip.ParseAddr(v)
		if err != nil {
			return filterNode{}, fmt.Errorf("host %q: only IP address literals are supported (no name lookup)", v)
		}
		if a.Zone() != "" {
			return filterNode{}, fmt.Errorf("host %q: packets carry no zone; give the address without %%%s", v, a.Zone())
		}
		return filterNode{kind: "host", dir: dir, addr: a.Unmap()}, nil
	case "":
		return filterNode{}, fmt.Errorf("expression ends early")
	}
	return filterNode{}, fmt.Errorf("%q is not supported (supported: tcp, ip, ip6, [src|dst] port N, [src|dst] host ADDR, and, or, not, parentheses)", t)
}

// filterGen emits BPF with symbolic jump targets, resolved at the end.
type filterGen struct {
	code   []pinsn
	labels []int // label -> instruction index
}

type pinsn struct {
	ins    bpf.Instruction // plain instruction, or nil for a jump
	test   bpf.JumpTest
	val    uint32
	jt, jf int  // labels for a conditional jump
	x      bool // compare with X instead of val
}

func (g *filterGen) label() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *filterGen) mark(l int)             { g.labels[l] = len(g.code) }
func (g *filterGen) emit(i bpf.Instruction) { g.code = append(g.code, pinsn{ins: i}) }
func (g *filterGen) jump(test bpf.JumpTest, v uint32, t, f int) {
	g.code = append(g.code, pinsn{test: test, val: v, jt: t, jf: f})
}

// jumpX compares A with X.
func (g *filterGen) jumpX(test bpf.JumpTest, t, f int) {
	g.code = append(g.code, pinsn{test: test, jt: t, jf: f, x: true})
}

func (g *filterGen) resolve() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(g.code))
	for i, c := range g.code {
		if c.ins != nil {
			out[i] = c.ins
			continue
		}
		st, sf := g.labels[c.jt]-i-1, g.labels[c.jf]-i-1
		if st < 0 || sf < 0 || st > 255 || sf > 255 {
			return nil, fmt.Errorf("expression too long for classic BPF jumps")
		}
		if c.x {
			out[i] = bpf.JumpIfX{Cond: c.test, SkipTrue: uint8(st), SkipFalse: uint8(sf)}
			continue
		}
		out[i] = bpf.JumpIf{Cond: c.test, Val: c.val, SkipTrue: uint8(st), SkipFalse: uint8(sf)}
	}
	return out, nil
}

// version jumps to t when the IP version nibble is v (4 or 6).
func (g *filterGen) version(v uint32, t, f int) {
	g.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	g.jump(bpf.JumpEqual, v<<4, t, f)
}

func (g *filterGen) gen(n filterNode, t, f int) {
	switch n.kind {
	case "true":
		g.jump(bpf.JumpEqual, 0, t, t)
	case "and":
		l := g.label()
		g.gen(*n.a, l, f)
		g.mark(l)
		g.gen(*n.b, t, f)
	case "or":
		l := g.label()
		g.gen(*n.a, t, l)
		g.mark(l)
		g.gen(*n.b, t, f)
	case "not":
		g.gen(*n.a, f, t)
	case "ip":
		g.version(4, t, f)
	case "ip6":
		g.version(6, t, f)
	case "tcp":
		v6, v4 := g.label(), g.label()
		g.version(4, v4, v6)
		g.mark(v4)
		g.emit(bpf.LoadAbsolute{Off: 9, Size: 1})
		g.jump(bpf.JumpEqual, 6, t, f)
		g.mark(v6)
		six := g.label()
		g.version(6, six, f)
		g.mark(six)
		g.emit(bpf.LoadAbsolute{Off: 6, Size: 1})
		g.jump(bpf.JumpEqual, 6, t, f)
	case "port":
		v4, v6, next := g.label(), g.label(), g.label()
		g.version(4, v4, next)
		g.mark(v4)
		notFrag, idx := g.label(), g.label()
		g.emit(bpf.LoadAbsolute{Off: 9, Size: 1})
		g.jump(bpf.JumpEqual, 6, notFrag, f)
		g.mark(notFrag)
		g.emit(bpf.LoadAbsolute{Off: 6, Size: 2})
		g.jump(bpf.JumpBitsSet, 0x1fff, f, idx)
		g.mark(idx)
		g.emit(bpf.LoadMemShift{Off: 0})
		g.ports(n, func(off uint32) bpf.Instruction { return bpf.LoadIndirect{Off: off, Size: 2} }, t, f)
		g.mark(next)
		g.version(6, v6, f)
		g.mark(v6)
		tcp6 := g.label()
		g.emit(bpf.LoadAbsolute{Off: 6, Size: 1})
		g.jump(bpf.JumpEqual, 6, tcp6, f)
		g.mark(tcp6)
		g.ports(n, func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: 40 + off, Size: 2} }, t, f)
	case "payload":
		g.payload(t, f)
	case "host":
		if n.addr.Is4() {
			v4 := g.label()
			g.version(4, v4, f)
			g.mark(v4)
			a := n.addr.As4()
			word := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			g.addrs(n.dir, []uint32{word}, 12, 16, t, f)
			return
		}
		v6 := g.label()
		g.version(6, v6, f)
		g.mark(v6)
		a := n.addr.As16()
		words := make([]uint32, 4)
		for i := range words {
			words[i] = uint32(a[4*i])<<24 | uint32(a[4*i+1])<<16 | uint32(a[4*i+2])<<8 | uint32(a[4*i+3])
		}
		g.addrs(n.dir, words, 8, 24, t, f)
	}
}

// ports tests the source and/or destination port loaded by load(0)/load(2).
func (g *filterGen) ports(n filterNode, load func(uint32) bpf.Instruction, t, f int) {
	if n.dir != "dst" {
		next := f
		if n.dir == "" {
			next = g.label()
		}
		g.emit(load(0))
		g.jump(bpf.JumpEqual, uint32(n.port), t, next)
		if n.dir == "" {
			g.mark(next)
		}
	}
	if n.dir != "src" {
		g.emit(load(2))
		g.jump(bpf.JumpEqual, uint32(n.port), t, f)
	}
}

// addrs compares the address words at src and/or dst offsets.
func (g *filterGen) addrs(dir string, words []uint32, src, dst uint32, t, f int) {
	one := func(base uint32, t, f int) {
		for i, w := range words {
			next := t
			if i < len(words)-1 {
				next = g.label()
			}
			g.emit(bpf.LoadAbsolute{Off: base + uint32(4*i), Size: 4})
			g.jump(bpf.JumpEqual, w, next, f)
			if i < len(words)-1 {
				g.mark(next)
			}
		}
	}
	switch dir {
	case "src":
		one(src, t, f)
	case "dst":
		one(dst, t, f)
	default:
		l := g.label()
		one(src, t, l)
		g.mark(l)
		one(dst, t, f)
	}
}

// payload accepts TCP segments with payload or a SYN, FIN or RST flag;
// anything else that is not TCP is accepted too (other primitives decide).
func (g *filterGen) payload(t, f int) {
	v4, v6, not4 := g.label(), g.label(), g.label()
	g.version(4, v4, not4)
	g.mark(v4)
	tcp4, idx := g.label(), g.label()
	g.emit(bpf.LoadAbsolute{Off: 9, Size: 1})
	g.jump(bpf.JumpEqual, 6, tcp4, t)
	g.mark(tcp4)
	g.emit(bpf.LoadAbsolute{Off: 6, Size: 2})
	g.jump(bpf.JumpBitsSet, 0x1fff, t, idx) // fragment: let it through
	g.mark(idx)
	g.emit(bpf.LoadMemShift{Off: 0}) // X = IP header length
	flags4 := g.label()
	g.emit(bpf.LoadIndirect{Off: 13, Size: 1}) // TCP flags
	g.jump(bpf.JumpBitsSet, 0x07, t, flags4)   // FIN, SYN, RST
	g.mark(flags4)
	g.emit(bpf.LoadAbsolute{Off: 2, Size: 2}) // IP total length
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	g.emit(bpf.LoadIndirect{Off: 12, Size: 1}) // TCP data offset
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd}) // + IP header length
	g.emit(bpf.TAX{})
	g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: 0})
	g.jumpX(bpf.JumpGreaterThan, t, f)
	g.mark(not4)
	g.version(6, v6, t)
	g.mark(v6)
	tcp6, flags6 := g.label(), g.label()
	g.emit(bpf.LoadAbsolute{Off: 6, Size: 1})
	g.jump(bpf.JumpEqual, 6, tcp6, t)
	g.mark(tcp6)
	g.emit(bpf.LoadAbsolute{Off: 53, Size: 1})
	g.jump(bpf.JumpBitsSet, 0x07, t, flags6)
	g.mark(flags6)
	g.emit(bpf.LoadAbsolute{Off: 52, Size: 1})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	g.emit(bpf.TAX{})
	g.emit(bpf.LoadAbsolute{Off: 4, Size: 2}) // IPv6 payload length
	g.jumpX(bpf.JumpGreaterThan, t, f)
}
