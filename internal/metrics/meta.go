package metrics

// SetMeta sets the run's metadata and derives again what depends on it
// (rates divide by Meta.Duration): use it rather than assigning Meta after
// Collector.Snapshot.
func (s *Snapshot) SetMeta(m Meta) {
	s.Meta = m
	s.finalize()
}
