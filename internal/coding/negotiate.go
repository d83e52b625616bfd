package coding

import (
	"strconv"
	"strings"
)

// ServerPreference returns the order in which a server offers codings when
// a client accepts several equally: zstd and br compress JSON better than
// gzip at a lower cost, deflate last (clients disagree on its framing).
func ServerPreference() []string { return []string{Zstd, Brotli, Gzip, Deflate} }

// Negotiate picks the coding to answer with from a request's
// Accept-Encoding values (one per header line; none when the header is
// absent) among offered, given in the server's order of preference
// (ServerPreference() when nil). It returns the chosen coding, Identity when
// the answer should not be coded, and ok false when the client refuses
// every offered coding and identity too (RFC 9110 allows a 406 then; most
// servers send identity anyway).
//
// Rules (RFC 9110 section 12.5.3): an absent or empty header asks for no
// coding; a coding is acceptable when named with q > 0, or when "*" has
// q > 0 and the coding is not named; the highest q wins, ties going to
// the server's order and a coding winning a tie with identity; identity
// not named is acceptable, after every acceptable coding, unless "*;q=0". "x-gzip" counts as "gzip". An entry with
// an unreadable q-value is ignored.
func Negotiate(accept []string, offered []string) (coding string, ok bool) {
	if offered == nil {
		offered = ServerPreference()
	}
	type entry struct {
		name string
		q    float64
	}
	var buf [8]entry
	q := buf[:0]
	star, hasStar := 0.0, false
	named := false
	for _, v := range accept {
		for item := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = canonical(name)
			if name == "" {
				continue
			}
			w, valid := qvalue(params)
			if !valid {
				continue
			}
			named = true
			if name == "*" {
				if !hasStar || w > star {
					star, hasStar = w, true
				}
				continue
			}
			seen := false
			for i := range q {
				if q[i].name == name {
					seen = true
					q[i].q = max(q[i].q, w)
				}
			}
			if !seen {
				q = append(q, entry{name, w})
			}
		}
	}
	if !named {
		return Identity, true
	}
	weight := func(c string) float64 {
		for _, e := range q {
			if e.name == c {
				return e.q
			}
		}
		if hasStar {
			return star
		}
		if c == Identity {
			// Acceptable unless refused, but after any coding the
			// client names (qvalues have three decimals at most).
			return 0.0001
		}
		return 0
	}
	best, bestQ := "", 0.0
	for _, c := range offered {
		c = canonical(c)
		if c == Identity {
			continue
		}
		if w := weight(c); w > bestQ {
			best, bestQ = c, w
		}
	}
	idQ := weight(Identity)
	switch {
	case best != "" && bestQ >= idQ:
		return best, true
	case idQ > 0:
		return Identity, true
	case best != "":
		return best, true
	}
	return Identity, false
}

// qvalue reads the weight among a coding's parameters (";q=0.5"): 1 when
// absent, valid false when it is not a number within 0..1.
func qvalue(params string) (float64, bool) {
	w := 1.0
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(p, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 || f != f {
			return 0, false
		}
		w = f
	}
	return w, true
}
