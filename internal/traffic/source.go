package traffic

import (
	"context"
	"io"
	"sort"
)

// Source yields records in corpus order. Next returns io.EOF after the last
// record.
type Source interface {
	Next(ctx context.Context) (Record, error)
}

// Sink receives records. Write may be called from several goroutines; the
// Sink serialises. Close flushes and releases it; a Sink is unusable after.
type Sink interface {
	Write(ctx context.Context, r Record) error
	Close() error
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (Record, error)

// Next calls f.
func (f SourceFunc) Next(ctx context.Context) (Record, error) { return f(ctx) }

// SliceSource returns a Source over records, in order.
func SliceSource(records []Record) Source {
	i := 0
	return SourceFunc(func(ctx context.Context) (Record, error) {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		if i >= len(records) {
			return Record{}, io.EOF
		}
		i++
		return records[i-1], nil
	})
}

// ReadAll drains src into a slice.
func ReadAll(ctx context.Context, src Source) ([]Record, error) {
	var out []Record
	for {
		r, err := src.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

// WSConn is a whole WebSocket connection, regrouped from its records.
type WSConn struct {
	Open     WSOpen
	Messages []WSMessage
	// Close is nil when the corpus holds no end for the connection
	// (recording stopped while it was open).
	Close *WSClose
}

// Collection is a corpus regrouped: exchanges in order and WebSocket
// connections whole, both sorted by Start.
type Collection struct {
	Header    *Header
	Exchanges []Exchange
	WS        []WSConn
	// Orphans counts WSMessage and WSClose records whose WSOpen was missing.
	Orphans int
}

// Collect regroups records into a Collection. It keeps every record in
// memory: use it for views and exports, not for replay.
func Collect(records []Record) Collection {
	var c Collection
	index := map[uint64]int{}
	for _, r := range records {
		switch r.Kind {
		case KindHeader:
			if c.Header == nil {
				c.Header = r.Header
			}
		case KindExchange:
			c.Exchanges = append(c.Exchanges, *r.Exchange)
		case KindWSOpen:
			index[r.WSOpen.ConnID] = len(c.WS)
			c.WS = append(c.WS, WSConn{Open: *r.WSOpen})
		case KindWSMessage:
			i, ok := index[r.WSMessage.ConnID]
			if !ok {
				c.Orphans++
				continue
			}
			c.WS[i].Messages = append(c.WS[i].Messages, *r.WSMessage)
		case KindWSClose:
			i, ok := index[r.WSClose.ConnID]
			if !ok {
				c.Orphans++
				continue
			}
			cl := *r.WSClose
			c.WS[i].Close = &cl
		}
	}
	sort.SliceStable(c.Exchanges, func(i, j int) bool { return c.Exchanges[i].Start < c.Exchanges[j].Start })
	sort.SliceStable(c.WS, func(i, j int) bool { return c.WS[i].Open.Start < c.WS[j].Open.Start })
	for i := range c.WS {
		m := c.WS[i].Messages
		sort.SliceStable(m, func(a, b int) bool { return m[a].Start < m[b].Start })
	}
	return c
}

// Records flattens a WSConn back into its records, in order.
func (w WSConn) Records() []Record {
	open := w.Open
	out := []Record{{Kind: KindWSOpen, WSOpen: &open}}
	for i := range w.Messages {
		m := w.Messages[i]
		out = append(out, Record{Kind: KindWSMessage, WSMessage: &m})
	}
	if w.Close != nil {
		cl := *w.Close
		out = append(out, Record{Kind: KindWSClose, WSClose: &cl})
	}
	return out
}
