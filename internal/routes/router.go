package routes

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// Router maps requests to endpoint names. It is read-only and safe for
// concurrent use.
type Router struct {
	opts  Options
	root  *node
	names []Endpoint
	known map[string]bool
}

// Endpoint is one endpoint name a Router hands out, with the number of
// learned requests that map to it.
type Endpoint struct {
	Name string
	Hits int64
}

// routeBudget bounds the nodes visited by one Route call (literal-first
// matching backtracks to the parameter).
const routeBudget = 256

// tmplNode carries a node's template while assigning names.
type leaf struct {
	n      *node
	method string
	tmpl   string
	first  string // first template segment, "" for the root
	hits   int64
}

func (l leaf) name() string { return l.method + " " + l.tmpl }

// assign walks the built tree and gives every (node, method) its name,
// applying the endpoint cap.
func (r *Router) assign() {
	var leaves []leaf
	var walk func(n *node, segs []string)
	walk = func(n *node, segs []string) {
		tmpl := "/" + strings.Join(segs, "/")
		for _, m := range slices.Sorted(maps.Keys(n.methods)) {
			first := ""
			if len(segs) > 0 {
				first = segs[0]
			}
			leaves = append(leaves, leaf{n: n, method: m, tmpl: tmpl, first: first, hits: n.methods[m]})
		}
		for _, k := range slices.Sorted(maps.Keys(n.lits)) {
			walk(n.lits[k], append(segs[:len(segs):len(segs)], k))
		}
		if n.param != nil {
			walk(n.param, append(segs[:len(segs):len(segs)], "{"+n.param.name+"}"))
		}
	}
	walk(r.root, nil)
	sort.SliceStable(leaves, func(i, j int) bool {
		if leaves[i].hits != leaves[j].hits {
			return leaves[i].hits > leaves[j].hits
		}
		return leaves[i].name() < leaves[j].name()
	})
	hits := map[string]int64{}
	set := func(l leaf, name string) {
		if l.n.endpoints == nil {
			l.n.endpoints = make(map[string]string)
		}
		l.n.endpoints[l.method] = name
		hits[name] += l.hits
	}
	max := r.opts.MaxEndpoints
	if len(leaves) <= max {
		for _, l := range leaves {
			set(l, l.name())
		}
	} else {
		reserve := max / 4
		if reserve > 8 {
			reserve = 8
		}
		if reserve < 1 {
			reserve = 1
		}
		keep := max - reserve - 1
		if keep < 0 {
			keep = 0
		}
		for _, l := range leaves[:keep] {
			set(l, l.name())
		}
		rest := leaves[keep:]
		coarse := map[string]int64{}
		for _, l := range rest {
			coarse[coarseName(l.method, l.first)] += l.hits
		}
		names := slices.Sorted(maps.Keys(coarse))
		sort.SliceStable(names, func(i, j int) bool { return coarse[names[i]] > coarse[names[j]] })
		allowed := map[string]bool{}
		for i, c := range names {
			if i < reserve {
				allowed[c] = true
			}
		}
		for _, l := range rest {
			c := coarseName(l.method, l.first)
			if allowed[c] {
				set(l, c)
			} else {
				set(l, Other)
			}
		}
	}
	r.known = make(map[string]bool, len(hits))
	for name, h := range hits {
		r.names = append(r.names, Endpoint{Name: name, Hits: h})
		r.known[name] = true
	}
	sort.Slice(r.names, func(i, j int) bool { return r.names[i].Name < r.names[j].Name })
}

func coarseName(method, first string) string {
	if first == "" {
		return method + " /*"
	}
	return method + " /" + first + "/*"
}

// Route returns the endpoint name of a request: "METHOD /template" as
// learned, the template with this method when the method was never seen
// there, "METHOD /prefix/*" for the deepest known prefix of an unknown
// path, or Other.
func (r *Router) Route(method, target string) string {
	m := normMethod(method)
	segs := splitPath(target, r.opts.MaxDepth)
	// fast path: literal where there is one, else the parameter, no
	// backtracking; most requests end on a learned endpoint this way
	n := r.root
	for _, s := range segs {
		c := n.lits[s]
		if c == nil || s == "*" {
			c = n.param
		}
		if c == nil {
			n = nil
			break
		}
		n = c
	}
	if n != nil {
		if name, ok := n.endpoints[m]; ok {
			return name
		}
	}
	budget := routeBudget
	var best *node
	var bestSegs []string
	bestDepth := 0
	var stack []string
	var match func(n *node, i int) *node
	match = func(n *node, i int) *node {
		if budget <= 0 {
			return nil
		}
		budget--
		if i > bestDepth {
			best, bestDepth = n, i
			bestSegs = append(bestSegs[:0], stack...)
		}
		if i == len(segs) {
			if len(n.endpoints) > 0 {
				return n
			}
			return nil
		}
		s := segs[i]
		if s != "*" {
			if c, ok := n.lits[s]; ok {
				stack = append(stack, s)
				if f := match(c, i+1); f != nil {
					return f
				}
				stack = stack[:len(stack)-1]
			}
		}
		if n.param != nil {
			stack = append(stack, "{"+n.param.name+"}")
			if f := match(n.param, i+1); f != nil {
				return f
			}
			stack = stack[:len(stack)-1]
		}
		return nil
	}
	if f := match(r.root, 0); f != nil {
		if name, ok := f.endpoints[m]; ok {
			return name
		}
		// a method not seen on this template: keep the template unless
		// everything there was folded away
		for _, name := range f.endpoints {
			if name != Other && !strings.HasSuffix(name, "*") {
				return m + " /" + strings.Join(stack, "/")
			}
		}
		return Other
	}
	if bestDepth > 0 && best != nil {
		return m + " /" + strings.Join(bestSegs, "/") + "/*"
	}
	return Other
}

// Endpoints lists the endpoint names the learned requests map to, sorted
// by name, with their request counts.
func (r *Router) Endpoints() []Endpoint {
	return append([]Endpoint(nil), r.names...)
}

// Templates lists the endpoint names, sorted.
func (r *Router) Templates() []string {
	out := make([]string, len(r.names))
	for i, e := range r.names {
		out[i] = e.Name
	}
	return out
}

// Known reports whether name is one of the endpoint names learned.
func (r *Router) Known(name string) bool { return r.known[name] }
