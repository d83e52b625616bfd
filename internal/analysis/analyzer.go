package analysis

import (
	"sort"
	"strings"
	"time"

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
	f := derive(pos, rec, &a.opts)
	a.stats.Derived++
	for _, b := range []*Body{&f.Request, &f.Response} {
		if b.Undecoded != "" {
			if a.stats.Undecoded == nil {
				a.stats.Undecoded = map[string]int64{}
			}
			a.stats.Undecoded[b.Undecoded]++
		}
	}
	if !a.started || pos > a.hwm {
		a.started, a.hwm = true, pos
		a.classify(f)
	}
	f.Vary = a.varied(f)
	f.Makes = a.makes(f)
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

// classify decides the class of the values f shows first.
func (a *Analyzer) classify(f *Facts) {
	for _, cd := range f.Values {
		val, w := cd.S, cd.Where
		if IsPlaceholder(val) || !IDLike(val) {
			continue
		}
		c, known := a.class[val]
		switch w {
		case InBody:
			switch {
			case f.Proof:
				// A proof of identity (a login's key and challenge) is
				// kept whole: a changed key would not match its
				// signature.
				if !known {
					a.set(val, classFixed)
				}
			case !known || c == classPending:
				a.set(val, classClient)
			}
		case InPutURL:
			if !known {
				a.set(val, classClient)
			}
		case InURL, InHeader:
			if !known {
				if f.Status == 404 {
					a.set(val, classPending)
				} else {
					a.set(val, classFixed)
				}
			}
		case InResponse:
			if !known {
				a.set(val, classFixed)
			}
		}
	}
}

func (a *Analyzer) set(val string, c valueClass) {
	if _, known := a.class[val]; !known {
		if len(a.order) >= maxClasses {
			delete(a.class, a.order[0])
			a.order = a.order[1:]
		}
		a.order = append(a.order, val)
	}
	if c == classClient {
		a.stats.ClientValues++
	}
	a.class[val] = c
}

// varied lists the values of f that each copy varies: client-made values
// and placeholders, longest first (so a value containing another is
// replaced whole).
func (a *Analyzer) varied(f *Facts) []string {
	var vals []string
	for _, cd := range f.Values {
		if isWholePlaceholder(cd.S) || a.class[cd.S] == classClient {
			vals = append(vals, cd.S)
		}
	}
	sort.Slice(vals, func(i, j int) bool {
		if len(vals[i]) != len(vals[j]) {
			return len(vals[i]) > len(vals[j])
		}
		return vals[i] < vals[j]
	})
	return vals
}

// makes lists the client-made values f sends in its request body or as
// the resource of a PUT: values whose later uses may depend on its answer.
func (a *Analyzer) makes(f *Facts) []string {
	if f.Kind != traffic.KindExchange {
		return nil
	}
	var out []string
	for _, cd := range f.Values {
		if (cd.Where == InBody || cd.Where == InPutURL) && !IsPlaceholder(cd.S) && a.class[cd.S] == classClient {
			out = append(out, cd.S)
		}
	}
	return out
}

// IDLike reports whether v looks like an identifier a client could have
// made up: 8 to 512 bytes, letters and digits, no spaces, quotes or
// backslashes, not a URL and not a date or time.
func IDLike(v string) bool {
	if !sized(v) {
		return false
	}
	var digit, letter bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c <= ' ' || c == '"' || c == '\\' || c == 0x7f:
			return false
		}
	}
	return digit && letter && !strings.Contains(v, "://") && !looksLikeTime(v)
}

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
