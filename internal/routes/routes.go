package routes

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/reprise/reprise/internal/traffic"
)

// Other is the endpoint name of requests folded away by the endpoint cap
// or matching nothing learned.
const Other = "OTHER"

// MethodWS is the pseudo-method of WebSocket upgrades: "WS /v1/updates".
const MethodWS = "WS"

// Defaults of Options.
const (
	DefaultMaxEndpoints = 100
	DefaultMaxLiterals  = 16
	DefaultSiblingMin   = 6
	DefaultEnumMin      = 2
	DefaultLiteralCap   = 512
	DefaultMaxDepth     = 24
)

// Options tune inference. The zero value means the defaults.
type Options struct {
	// MaxEndpoints caps the number of endpoint names (default 100).
	MaxEndpoints int
	// MaxLiterals is the number of distinct literal siblings at which they
	// all become a parameter (default 16).
	MaxLiterals int
	// SiblingMin is the number of look-alike siblings (same methods, same
	// children) that become a parameter (default 6).
	SiblingMin int
	// EnumMin is the number of same-skeleton siblings with digits
	// ("machine-7", "machine-8") that become a parameter (default 2).
	EnumMin int
	// LiteralCap bounds the literals a node remembers (default 512).
	LiteralCap int
	// MaxDepth bounds the segments of a path (default 24).
	MaxDepth int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxEndpoints, DefaultMaxEndpoints)
	def(&o.MaxLiterals, DefaultMaxLiterals)
	def(&o.SiblingMin, DefaultSiblingMin)
	def(&o.EnumMin, DefaultEnumMin)
	def(&o.LiteralCap, DefaultLiteralCap)
	def(&o.MaxDepth, DefaultMaxDepth)
	if o.MaxEndpoints < 2 {
		o.MaxEndpoints = 2
	}
	if o.MaxDepth < 2 {
		o.MaxDepth = 2
	}
	if o.LiteralCap < o.MaxLiterals {
		o.LiteralCap = o.MaxLiterals
	}
	return o
}

// node is one position in the prefix tree of paths.
type node struct {
	hits    int64
	methods map[string]int64 // requests ending here, by method
	lits    map[string]*node
	param   *node
	// overflow counts literals that arrived after LiteralCap was reached
	// (they went to param).
	overflow int64
	// files and plain count the values folded into this node as a
	// parameter, with and without a file extension.
	files, plain int64
	name         string // parameter name once built

	// built state
	endpoints map[string]string // method -> endpoint name
}

func newNode() *node { return &node{} }

func (n *node) addMethod(m string, c int64) {
	if n.methods == nil {
		n.methods = make(map[string]int64)
	}
	n.methods[m] += c
}

// Learner accumulates request paths. It is not safe for concurrent use.
type Learner struct {
	opts Options
	root *node
}

// NewLearner returns an empty Learner with opts (zero value: defaults).
func NewLearner(opts Options) *Learner {
	return &Learner{opts: opts.withDefaults(), root: newNode()}
}

// Add records one request: method and target (origin-form "/p?q", an
// absolute URL, or a bare path).
func (l *Learner) Add(method, target string) {
	m := normMethod(method)
	segs := splitPath(target, l.opts.MaxDepth)
	n := l.root
	n.hits++
	for _, s := range segs {
		n = l.child(n, s)
		n.hits++
	}
	n.addMethod(m, 1)
}

// child descends from n by one raw segment, creating nodes.
func (l *Learner) child(n *node, seg string) *node {
	if seg == "*" {
		return n.paramChild()
	}
	if kind, ok := shapeParam(seg); ok {
		p := n.paramChild()
		if kind == paramFile {
			p.files++
		} else {
			p.plain++
		}
		return p
	}
	if c, ok := n.lits[seg]; ok {
		return c
	}
	if len(n.lits) >= l.opts.LiteralCap {
		n.overflow++
		p := n.paramChild()
		if hasExt(seg) {
			p.files++
		} else {
			p.plain++
		}
		return p
	}
	if n.lits == nil {
		n.lits = make(map[string]*node)
	}
	c := newNode()
	n.lits[seg] = c
	return c
}

func (n *node) paramChild() *node {
	if n.param == nil {
		n.param = newNode()
	}
	return n.param
}

// Learn reads every record of src and returns the Router it implies: HTTP
// exchanges by their method, WebSocket upgrades as MethodWS.
func Learn(ctx context.Context, src traffic.Source, opts Options) (*Router, error) {
	l := NewLearner(opts)
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("learn routes: %w", err)
		}
		l.AddRecord(rec)
	}
	return l.Router(), nil
}

// AddRecord adds what rec requests: an HTTP exchange by its method, a
// WebSocket upgrade as MethodWS; other records are ignored.
func (l *Learner) AddRecord(rec traffic.Record) {
	switch rec.Kind {
	case traffic.KindExchange:
		if rec.Exchange != nil {
			l.Add(rec.Exchange.Request.Method, rec.Exchange.Request.URL)
		}
	case traffic.KindWSOpen:
		if rec.WSOpen != nil {
			l.Add(MethodWS, rec.WSOpen.Upgrade.Request.URL)
		}
	}
}

// Router freezes what the Learner has seen into a Router. The Learner is
// consumed: it must not be used afterwards.
func (l *Learner) Router() *Router {
	o := l.opts
	root := l.root
	l.root = newNode()
	infer(root, "", o)
	r := &Router{opts: o, root: root}
	r.assign()
	return r
}

// infer applies the cardinality rules top-down.
func infer(n *node, parentSeg string, o Options) {
	if len(n.lits) > 0 {
		keys := slices.Sorted(maps.Keys(n.lits))
		collapse := make(map[string]bool)
		// 1. enumerations
		groups := map[string][]string{}
		for _, k := range keys {
			if isVersion(k) {
				continue
			}
			if sk, digit := skeleton(k); digit {
				groups[sk] = append(groups[sk], k)
			}
		}
		for _, g := range groups {
			if len(g) >= o.EnumMin {
				for _, k := range g {
					collapse[k] = true
				}
			}
		}
		// 2. look-alikes
		sigs := map[uint64][]string{}
		for _, k := range keys {
			if !collapse[k] {
				s := signature(n.lits[k])
				sigs[s] = append(sigs[s], k)
			}
		}
		for _, g := range sigs {
			if len(g) >= o.SiblingMin {
				for _, k := range g {
					collapse[k] = true
				}
			}
		}
		// 3. many values
		left := 0
		for _, k := range keys {
			if !collapse[k] {
				left++
			}
		}
		if left >= o.MaxLiterals || n.overflow > 0 {
			for _, k := range keys {
				collapse[k] = true
			}
		}
		for _, k := range keys {
			if !collapse[k] {
				continue
			}
			p := n.paramChild()
			if hasExt(k) {
				p.files += n.lits[k].hits
			} else {
				p.plain += n.lits[k].hits
			}
			merge(p, n.lits[k])
			delete(n.lits, k)
		}
	}
	if n.param != nil {
		switch {
		case keyParents[strings.ToLower(parentSeg)]:
			n.param.name = paramKey
		case n.param.files > 0 && n.param.plain == 0:
			n.param.name = paramFile
		default:
			n.param.name = paramID
		}
	}
	for _, k := range slices.Sorted(maps.Keys(n.lits)) {
		infer(n.lits[k], k, o)
	}
	if n.param != nil {
		infer(n.param, "{"+n.param.name+"}", o)
	}
}

// merge folds src's subtree into dst.
func merge(dst, src *node) {
	dst.hits += src.hits
	for m, c := range src.methods {
		dst.addMethod(m, c)
	}
	dst.overflow += src.overflow
	for k, c := range src.lits {
		if d, ok := dst.lits[k]; ok {
			merge(d, c)
			continue
		}
		if dst.lits == nil {
			dst.lits = make(map[string]*node)
		}
		dst.lits[k] = c
	}
	if src.param != nil {
		p := dst.paramChild()
		p.files += src.param.files
		p.plain += src.param.plain
		merge(p, src.param)
	}
}

// signature hashes a node's methods and the names of its children.
func signature(n *node) uint64 {
	h := fnv.New64a()
	for _, m := range slices.Sorted(maps.Keys(n.methods)) {
		h.Write([]byte(m))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	for _, k := range slices.Sorted(maps.Keys(n.lits)) {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	if n.param != nil {
		h.Write([]byte{2})
	}
	return h.Sum64()
}

// normMethod upper-cases a method; a non-token becomes Other.
func normMethod(m string) string {
	if m == "" || len(m) > 16 {
		return Other
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(isAlnum(c) || c == '-' || c == '_') {
			return Other
		}
	}
	return strings.ToUpper(m)
}

// splitPath returns the path segments of target, without query, fragment,
// scheme and host, empty segments dropped, at most maxDepth of them (the
// last one "*" when cut).
func splitPath(target string, maxDepth int) []string {
	p := target
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.Index(p, "://"); i >= 0 && !strings.HasPrefix(p, "/") {
		rest := p[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			p = rest[j:]
		} else {
			p = "/"
		}
	}
	segs := make([]string, 0, 8)
	for len(p) > 0 {
		j := strings.IndexByte(p, '/')
		var s string
		if j < 0 {
			s, p = p, ""
		} else {
			s, p = p[:j], p[j+1:]
		}
		if s == "" {
			continue
		}
		if len(segs) == maxDepth {
			segs = append(segs[:maxDepth-1], "*")
			break
		}
		segs = append(segs, s)
	}
	return segs
}
