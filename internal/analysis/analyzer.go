package analysis

import (
	"slices"
	"strings"
	"time"

	"github.com/reprise/reprise/internal/redact"
	"github.com/reprise/reprise/internal/traffic"
)

const (
	// maxClasses bounds the values whose class is remembered (oldest
	// forgotten first).
	maxClasses = 1 << 16
	// maxCached bounds the records whose facts are kept for later passes
	// (oldest forgotten first, then derived again).
	maxCached = 1 << 14
)

// valueClass says where a value came from, decided where the corpus first
// shows it.
type valueClass uint8

const (
	// classFixed: made by the server (first seen in a response), or a
	// reference to something that existed before the recording (first
	// sent in a URL that found it): the same in every copy.
	classFixed valueClass = iota + 1
	// classPending: first sent in the URL of a request that found nothing
	// (404), such as a lookup before a create: fixed until the client
	// sends it in a body.
	classPending
	// classClient: made by the client (first sent in a request body or a
	// client WebSocket message, or as the resource of a PUT): each copy
	// sends its own variant.
	classClient
)

// Analyzer derives the Facts of the records of a schedule, in schedule
// order, and keeps them for the record's later copies and rounds. It is
// not safe for concurrent use: the goroutine reading the schedule owns it.
type Analyzer struct {
	opts Options

	cache      map[uint64]*Facts // position -> facts
	cacheOrder []uint64
	cacheBytes int64 // bodies held by the cache
	keep       bool  // cache facts for later passes

	class   map[string]valueClass
	order   []string
	started bool
	hwm     uint64 // highest position classified

	stats Stats

	scratch values
	cls     []valueClass // classes of a record's values
	evicted bool         // set forgot a class
}

// Stats counts what an Analyzer did.
type Stats struct {
	// Derived counts records whose facts were derived (a record whose
	// facts were forgotten and needed again counts twice).
	Derived int64
	// ClientValues counts the distinct client-made values found.
	ClientValues int64
	// Undecoded counts bodies whose content coding could not be read, by
	// coding and reason.
	Undecoded map[string]int64
}

// NewAnalyzer returns an Analyzer.
func NewAnalyzer(opts Options) *Analyzer {
	if opts.Route == nil {
		opts.Route = DefaultRoute
	}
	return &Analyzer{opts: opts, cache: map[uint64]*Facts{}, class: map[string]valueClass{}}
}

// Keep says whether the corpus will be read again (loops, copies that
// start apart, virtual users): then facts are kept, within bounds, for
// the later passes; a single pass keeps none (a record's copies in one
// pass share its facts anyway).
func (a *Analyzer) Keep(keep bool) { a.keep = keep }

// maxCachedBytes bounds the bodies the kept facts hold.
const maxCachedBytes = 64 << 20

// Stats returns the counters so far.
func (a *Analyzer) Stats() Stats { return a.stats }

// Record returns the facts of rec, the record at pos in its pass: derived
// the first time the position is seen (classifying the values it shows
// first), shared afterwards.
func (a *Analyzer) Record(pos uint64, rec traffic.Record) *Facts {
	if f, ok := a.cache[pos]; ok {
		return f
	}
	f := derive(pos, rec, &a.opts, &a.scratch)
	a.stats.Derived++
	for _, b := range []*Body{&f.Request, &f.Response} {
		if b.Undecoded != "" {
			if a.stats.Undecoded == nil {
				a.stats.Undecoded = map[string]int64{}
			}
			a.stats.Undecoded[b.Undecoded]++
		}
	}
	first := !a.started || pos > a.hwm
	if first {
		a.started, a.hwm = true, pos
	}
	a.decide(f, first)
	if !a.keep {
		return f
	}
	for len(a.cacheOrder) > 0 && (len(a.cacheOrder) >= maxCached || a.cacheBytes > maxCachedBytes) {
		old := a.cache[a.cacheOrder[0]]
		a.cacheBytes -= old.size()
		delete(a.cache, a.cacheOrder[0])
		a.cacheOrder = a.cacheOrder[1:]
	}
	a.cache[pos] = f
	a.cacheOrder = append(a.cacheOrder, pos)
	a.cacheBytes += f.size()
	return f
}

// size is the memory of f's bodies, roughly.
func (f *Facts) size() int64 { return int64(len(f.Request.Data) + len(f.Response.Data) + 256) }

// decide classifies the values f shows first (when first is set), then
// sets f.Vary and f.Makes from the classes of its values.
func (a *Analyzer) decide(f *Facts, first bool) {
	// The class of each value: only id-like values that are not
	// placeholders are ever classified.
	cls := a.cls[:0]
	if cap(cls) < len(f.Values) {
		cls = make([]valueClass, 0, len(f.Values))
	}
	cls = cls[:len(f.Values)]
	a.cls = cls
	a.evicted = false
	for i, cd := range f.Values {
		val := cd.S
		cls[i] = 0
		if !idLikeValue(val) {
			continue
		}
		c, known := a.class[val]
		if first {
			c = a.classify(f, cd, c, known)
		}
		cls[i] = c
	}
	if a.evicted {
		// A class remembered before, or set above, may have been
		// forgotten since: read them again.
		for i, c := range cls {
			if c != 0 {
				cls[i] = a.class[f.Values[i].S]
			}
		}
	}

	// Vary: client-made values and placeholders, longest first (so a
	// value containing another is replaced whole). Makes: the
	// client-made values an exchange sends in its request body or as the
	// resource of a PUT, values whose later uses may depend on its
	// answer. Both share one allocation.
	exchange := f.Kind == traffic.KindExchange
	nv, nm := 0, 0
	for i, cd := range f.Values {
		client := cls[i] == classClient
		if client || isWholePlaceholder(cd.S) {
			nv++
		}
		if exchange && client && (cd.Where == InBody || cd.Where == InPutURL) {
			nm++
		}
	}
	if nv+nm == 0 {
		return
	}
	out := make([]string, nv+nm)
	v, m := 0, nv
	for i, cd := range f.Values {
		client := cls[i] == classClient
		if client || isWholePlaceholder(cd.S) {
			out[v] = cd.S
			v++
		}
		if exchange && client && (cd.Where == InBody || cd.Where == InPutURL) {
			out[m] = cd.S
			m++
		}
	}
	if nv > 0 {
		f.Vary = out[:nv:nv]
		slices.SortFunc(f.Vary, func(x, y string) int {
			if len(x) != len(y) {
				return len(y) - len(x)
			}
			return strings.Compare(x, y)
		})
	}
	if nm > 0 {
		f.Makes = out[nv:]
	}
}

// classify decides the class of a value f shows first, known with class
// c or not, and returns it.
func (a *Analyzer) classify(f *Facts, cd Value, c valueClass, known bool) valueClass {
	val := cd.S
	switch cd.Where {
	case InBody:
		switch {
		case f.Proof:
			// A proof of identity (a login's key and challenge) is
			// kept whole: a changed key would not match its
			// signature.
			if !known {
				return a.set(val, classFixed, known)
			}
		case !known || c == classPending:
			return a.set(val, classClient, known)
		}
	case InPutURL:
		if !known {
			return a.set(val, classClient, known)
		}
	case InURL, InHeader:
		if !known {
			if f.Status == 404 {
				return a.set(val, classPending, known)
			}
			return a.set(val, classFixed, known)
		}
	case InResponse:
		if !known {
			return a.set(val, classFixed, known)
		}
	}
	return c
}

// set sets the class of val, known before or not, and returns it; it
// sets a.evicted when it forgot the oldest class for room.
func (a *Analyzer) set(val string, c valueClass, known bool) valueClass {
	if !known {
		if len(a.order) >= maxClasses {
			delete(a.class, a.order[0])
			a.order = a.order[1:]
			a.evicted = true
		}
		a.order = append(a.order, val)
	}
	if c == classClient {
		a.stats.ClientValues++
	}
	a.class[val] = c
	return c
}

// IDLike reports whether v looks like an identifier a client could have
// made up: 8 to 512 bytes, letters and digits, no spaces, quotes or
// backslashes, not a URL and not a date or time.
func IDLike(v string) bool { return idLike(v, false) }

// idLikeValue reports whether v is id-like and carries no placeholder:
// the values an Analyzer classifies.
func idLikeValue(v string) bool { return idLike(v, true) }

func idLike(v string, noPlaceholder bool) bool {
	if !sized(v) {
		return false
	}
	var seen uint8
	i := 0
	for ; i+4 <= len(v); i += 4 {
		seen |= idBytes[v[i]] | idBytes[v[i+1]] | idBytes[v[i+2]] | idBytes[v[i+3]]
	}
	for ; i < len(v); i++ {
		seen |= idBytes[v[i]]
	}
	if seen&(idDigit|idLetter|idBad) != idDigit|idLetter {
		return false
	}
	if seen&idColon != 0 && strings.Contains(v, "://") {
		return false
	}
	if noPlaceholder && seen&idAngle != 0 && strings.Contains(v, redact.PlaceholderPrefix) {
		return false
	}
	return !looksLikeTime(v)
}

// Kinds of bytes for IDLike.
const (
	idDigit  = 1 << iota // 0-9
	idLetter             // a-z, A-Z
	idBad                // a control byte, space, quote, backslash or DEL
	idColon              // ':'
	idAngle              // '<'
)

// idBytes gives the kind of each byte.
var idBytes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = idDigit
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			t[c] = idLetter
		case c <= ' ' || c == '"' || c == '\\' || c == 0x7f:
			t[c] = idBad
		case c == ':':
			t[c] = idColon
		case c == '<':
			t[c] = idAngle
		}
	}
	return t
}()

// TimeLike reports whether v is a date or a time as JSON bodies write
// them: RFC 3339 (with or without a zone) or a bare date.
func TimeLike(v string) bool { return looksLikeTime(v) }

func looksLikeTime(v string) bool {
	if len(v) < 10 || v[4] != '-' || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}
