package ws

// Accessors only the tests use.

// Buffered returns the number of bytes the Decoder holds between calls: a
// partial header, a partial control payload and a partial message.
func (d *Decoder) Buffered() int {
	n := d.hdrLen + d.ctlLen
	if !d.delivered {
		n += len(d.msg)
	}
	return n
}

// Held is the number of bytes of history the Inflater holds between
// messages (the capacity of its buffer; 0 without context takeover).
func (f *Inflater) Held() int { return cap(f.hist) }

// Holds reports whether the Deflater owns a compressor (with context
// takeover, from its first compressed message on).
func (d *Deflater) Holds() bool { return d.st != nil }
