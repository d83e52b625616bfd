package correlate

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"strings"

	"github.com/reprise/reprise/internal/analysis"
	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/schedule"
)

// maxMemo bounds the remembered variants and pool assignments.
const maxMemo = 1 << 14

// Identities gives every copy and round of the traffic identities of its
// own, in one lane of a replay: for each event it says which recorded
// values the event's copy sends as variants (the client-made values and
// redaction placeholders its Facts list in Vary) and which recorded
// credentials it sends as tokens of a pool. Copy 0's first round keeps
// the recorded values unless Run is set. Rewrite must be called from one
// goroutine, in schedule order.
type Identities struct {
	// Tokens, when not empty, are bearer tokens of distinct accounts
	// (--auth-tokens): every recorded credential (a bearer token, a token
	// or access_token query parameter) of every copy and round is sent as
	// one of them, handed out in order of first use and reused in turn
	// when users outnumber them. Set it before the first Rewrite.
	Tokens []string
	// Run, when set, is a tag of this run that every identity includes:
	// copy 0's first round gets variants too, and all of them differ
	// from those of another run, so replaying a corpus twice at one
	// target does not meet the first run's sessions, machines and
	// artifacts. Set it before the first Rewrite.
	Run string

	memo      map[labeled]string // value of a copy -> its variant
	memoOrder []labeled
	assigned  map[labeled]string // credential of a copy -> pool token
	nAssigned int

	stats IdentityStats
}

// IdentityStats counts what Identities did.
type IdentityStats struct {
	// ClientValues counts the distinct client-made values found (set by
	// the caller from the analysis).
	ClientValues int64
	// Events counts events sent with values of their copy.
	Events int64
	// Values counts values replaced, summed over events.
	Values int64
	// Accounts counts the pool tokens in use (Identities.Tokens).
	Accounts int64
}

// NewIdentities returns Identities with no pool and no run tag.
func NewIdentities() *Identities {
	return &Identities{memo: map[labeled]string{}, assigned: map[labeled]string{}}
}

// Stats returns the counters (read them after the run).
func (v *Identities) Stats() IdentityStats { return v.stats }

// Label is the identity of ev's copy and round in this lane: "" for the
// recorded identities.
func (v *Identities) Label(ev schedule.Event) string {
	label := ev.Identity()
	if v.Run != "" {
		if label != "" {
			return v.Run + "." + label
		}
		return v.Run
	}
	return label
}

// Rewrite returns what ev's copy sends instead of the recorded values.
func (v *Identities) Rewrite(ev schedule.Event) Rewrite {
	f := ev.Facts
	if f == nil {
		return Rewrite{}
	}
	label := v.Label(ev)
	var rw Rewrite
	if len(v.Tokens) > 0 {
		for _, cred := range f.Credentials {
			rw.Pool = append(rw.Pool, cred, v.pool(cred, label))
		}
	}
	if label == "" || len(f.Vary) == 0 {
		return rw
	}
	rw.Vary = make([]string, 0, 2*len(f.Vary))
	for _, val := range f.Vary {
		rw.Vary = append(rw.Vary, val, v.variant(val, label))
	}
	v.stats.Events++
	v.stats.Values += int64(len(f.Vary))
	return rw
}

// pool returns the pool token a recorded credential of one copy and
// round is sent as.
func (v *Identities) pool(cred, label string) string {
	k := labeled{label, cred}
	t, ok := v.assigned[k]
	if !ok {
		t = v.Tokens[v.nAssigned%len(v.Tokens)]
		v.nAssigned++
		v.assigned[k] = t
		v.stats.Accounts = int64(min(v.nAssigned, len(v.Tokens)))
	}
	return t
}

// labeled is a value of one copy and round (its label), a key that costs
// no allocation to look up.
type labeled struct{ label, value string }

// variant is Variant with a bounded memo: the same values recur in every
// request of a copy (its token, its session's tag).
func (v *Identities) variant(val, label string) string {
	k := labeled{label, val}
	if out, ok := v.memo[k]; ok {
		return out
	}
	out := Variant(val, label)
	if len(v.memoOrder) >= maxMemo {
		delete(v.memo, v.memoOrder[0])
		v.memoOrder = v.memoOrder[1:]
	}
	v.memo[k] = out
	v.memoOrder = append(v.memoOrder, k)
	return out
}

// isPlaceholder reports whether v is (or carries) a redaction placeholder.
// A link to one is soft: the value is an identity handle (a token), so
// when its producer fails the recorded placeholder is sent, for
// --auth-token or a permissive server to resolve.
func isPlaceholder(v string) bool { return analysis.IsPlaceholder(v) }

// Variant returns the value a copy sends in place of the client-made
// value v: v itself for the recorded identity (label ""), otherwise a
// variant that is the same for every use of v within the copy and differs
// between copies. A UUID stays a UUID (version and variant digits kept),
// a hex id stays hex of the same length and case, and a long token-like id
// (base64, base64url, cuid) keeps its length and the class of every
// character (lower, upper, digit; base64 padding and its last data
// character kept, so it still decodes to the same length). Values too
// short for a random variant to be safely unique get a suffix: "-c3" for
// copy 3, "-c3.1" for its second round ("home-1-5" becomes "home-1-5-c3").
// A redaction placeholder gets the suffix inside its brackets:
// "<redacted:1a2b3c4d-c3>", a distinct identity for a permissive server.
func Variant(v, label string) string {
	if label == "" || v == "" {
		return v
	}
	suffix := "-c" + label
	if strings.HasPrefix(v, redact.PlaceholderPrefix) && strings.HasSuffix(v, ">") {
		return v[:len(v)-1] + suffix + ">"
	}
	st := newStream(label, v)
	r := &st
	var out string
	switch {
	case isUUID(v):
		out = scrambleHex(v, r, func(i int) bool { return i == 14 || i == 19 })
	case isHex(v) && len(v) >= 16:
		out = scrambleHex(v, r, nil)
	case tokenLike(v) && entropyBits(v) >= 64:
		out = scrambleToken(v, r)
	default:
		return v + suffix
	}
	if out == v {
		return v + suffix
	}
	return out
}

// stream is deterministic pseudo-random bytes from a copy label and a
// value: a PCG generator seeded with the SHA-256 of both, so the same
// label and value always give the same variant, and one hash per value
// (not one per 32 bytes drawn) is all it costs.
type stream struct {
	pcg  rand.PCG
	bits uint64
	n    int // bytes left in bits
}

func newStream(label, v string) stream {
	const prefix = "reprise copy\x00"
	b := make([]byte, 0, 128)
	b = append(append(append(append(b, prefix...), label...), 0), v...)
	seed := sha256.Sum256(b)
	return stream{pcg: *rand.NewPCG(binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:16]))}
}

func (s *stream) byte() byte {
	if s.n == 0 {
		s.bits, s.n = s.pcg.Uint64(), 8
	}
	b := byte(s.bits)
	s.bits >>= 8
	s.n--
	return b
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if !isHexDigit(v[i]) {
			return false
		}
	}
	return len(v) > 0
}

func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch i {
		case 8, 13, 18, 23:
			if v[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(v[i]) {
				return false
			}
		}
	}
	return true
}

// scrambleHex replaces the hex digits of v (but those keep says) with
// random hex digits of the same case.
func scrambleHex(v string, r *stream, keep func(int) bool) string {
	upper := strings.ToLower(v) != v
	lowerDigits, upperDigits := "0123456789abcdef", "0123456789ABCDEF"
	b := []byte(v)
	for i, c := range b {
		if !isHexDigit(c) || keep != nil && keep(i) {
			continue
		}
		d := r.byte() & 15
		switch {
		case c >= 'A' && c <= 'F', upper && c >= '0' && c <= '9':
			b[i] = upperDigits[d]
		default:
			b[i] = lowerDigits[d]
		}
	}
	return string(b)
}

// tokenLike reports whether v is printable ASCII without spaces.
func tokenLike(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

// entropyBits estimates the randomness a class-preserving variant of v
// has: 3.3 bits per digit, 4.7 per letter.
func entropyBits(v string) float64 {
	bits := 0.0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			bits += 3.32
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			bits += 4.7
		}
	}
	return bits
}

// scrambleToken replaces every letter and digit of v with a random one of
// the same class, keeping the rest; for base64 the last character before
// padding (which holds the trailing bits) is kept too.
func scrambleToken(v string, r *stream) string {
	b := []byte(v)
	end := len(b)
	trimmed := strings.TrimRight(v, "=")
	if len(trimmed) < len(v) || len(v)%4 == 2 || len(v)%4 == 3 {
		end = len(trimmed) - 1
	}
	for i := 0; i < end; i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + r.byte()%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + r.byte()%26
		case c >= '0' && c <= '9':
			b[i] = '0' + r.byte()%10
		}
	}
	return string(b)
}
