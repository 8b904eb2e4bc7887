package poll

// Accessors only the tests use.

// Stats returns the counters so far.
func (l *Loop) Stats() Stats { return l.stats }

// SetHandler replaces the receiver of events.
func (c *Conn) SetHandler(h Handler) { c.h = h }

// Connecting reports whether the connection is an outbound one whose
// handshake has not finished yet.
func (c *Conn) Connecting() bool { return c.dial != nil }
