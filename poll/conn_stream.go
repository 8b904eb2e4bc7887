package poll

import "golang.org/x/sys/unix"

// A connection on a backend that does its I/O (Loop.cio, io_uring): the
// backend keeps one receive in flight while the connection reads, and
// sends the queue from where it lies. The outcomes arrive as Ready
// entries with Op set and go through the same paths as read(2) and
// write(2) results do (Data, eof, Abort, flushed), so what a Handler sees
// does not depend on the backend.

func (l *Loop) registerStream(c *Conn) error {
	gen, err := l.cio.AddStream(c.fd, Readable)
	if err != nil {
		return err
	}
	for c.fd >= len(l.owners) {
		l.owners = append(l.owners, nil)
	}
	l.owners[c.fd] = c
	c.stream, c.ioGen = true, gen
	return nil
}

// completed handles a receive's or a send's outcome.
func (c *Conn) completed(r Ready) {
	if !c.stream || r.Gen != c.ioGen || c.state == stateDone {
		return // for a closed socket of the same number
	}
	if r.Op == OpSent {
		c.sent(r.Res)
		return
	}
	c.loop.stats.Reads++
	if !r.More {
		c.interest &^= Readable // the receive ended: updateInterest starts another
	}
	switch {
	case r.Res > 0:
		p := c.loop.cio.Buffer(r.Buf, int(r.Res))
		if c.state != stateOpen {
			break // closing: input is read only to see the peer's FIN
		}
		if c.paused || c.heldIn != nil {
			// Received before the Pause reached the kernel: kept for Resume,
			// and anything after it until the handler has it, in order.
			c.holdInput(p)
			break
		}
		c.deliver(p)
	case r.Res == 0:
		if (c.paused || c.heldIn != nil) && c.state == stateOpen {
			c.holdInputEOF()
			return
		}
		c.eof()
		return
	default:
		switch e := unix.Errno(-r.Res); e {
		case unix.ENOBUFS, unix.ECANCELED, unix.EINTR, unix.EAGAIN:
			// Out of provided buffers (the data waits in the socket), or
			// stopped by Pause: nothing was read.
		default:
			c.Abort(e)
			return
		}
	}
	if !r.More && c.state != stateDone {
		c.updateInterest()
	}
}

// send hands the backend the queue, unless a send is in flight: its
// completion sends what was queued meanwhile.
func (c *Conn) send() {
	if c.sending == 0 && c.Queued() > 0 {
		c.sending = c.Queued()
		c.loop.stats.Writes++
		c.loop.cio.Send(c.fd, c.out[c.off:])
	}
}

func (c *Conn) sent(res int32) {
	c.sending = 0
	if res < 0 {
		switch e := unix.Errno(-res); e {
		case unix.EINTR, unix.EAGAIN:
		default:
			// EPIPE, ECONNRESET: the peer is gone; what is queued cannot arrive.
			c.Abort(e)
			return
		}
	} else if res > 0 {
		c.off += int(res)
		if c.state == stateClosing {
			c.extendLinger() // a peer still reading gets its data
		}
	}
	// Drain first: what it queues lands in a buffer no send is reading,
	// which reserve may then compact.
	c.flushed()
	if c.state != stateDone {
		c.send()
	}
}

// deliver hands p to the handler in pieces no larger than the loop's
// read buffer, as reads would, and holds what is left if it pauses.
func (c *Conn) deliver(p []byte) {
	for len(p) > 0 && c.state == stateOpen && !c.paused {
		k := min(len(p), c.loop.cfg.ReadBuffer)
		c.h.Data(p[:k])
		p = p[k:]
	}
	if len(p) > 0 && c.state == stateOpen {
		c.holdInput(p)
	}
}

// heldInput is what a backend received for a paused connection (or
// after, until the handler has that).
type heldInput struct {
	buf []byte
	off int // buf[off:] is still to be handed over
	eof bool
}

func (c *Conn) holdInput(p []byte) {
	if c.heldIn == nil {
		c.heldIn = &heldInput{}
	}
	if c.heldIn.buf == nil {
		c.heldIn.buf = c.loop.bufs.Get(len(p))
	}
	c.heldIn.buf = append(c.heldIn.buf, p...)
}

func (c *Conn) holdInputEOF() {
	if c.heldIn == nil {
		c.heldIn = &heldInput{}
	}
	c.heldIn.eof = true
}

// deliverHeld gives the handler what arrived while paused, then reads on.
func (c *Conn) deliverHeld() {
	for c.heldIn != nil && c.heldIn.buf != nil && c.state == stateOpen && !c.paused {
		h := c.heldIn
		buf := h.buf
		k := min(len(buf)-h.off, c.loop.cfg.ReadBuffer)
		p := buf[h.off : h.off+k]
		h.off += k
		last := h.off == len(buf)
		if last {
			h.buf, h.off = nil, 0
		}
		c.h.Data(p)
		if last {
			c.loop.bufs.Put(buf)
		}
	}
	if c.state != stateOpen || c.paused || c.heldIn == nil || c.heldIn.buf != nil {
		return // Close dropped it; or paused again, and Resume comes back here
	}
	eof := c.heldIn.eof
	c.heldIn = nil
	if eof {
		c.eof()
		return
	}
	c.updateInterest()
}

// dropHeld forgets held input once the handler can no longer get it; a
// held end of input still counts.
func (c *Conn) dropHeld() {
	if c.heldIn == nil {
		return
	}
	if c.heldIn.buf != nil {
		c.loop.bufs.Put(c.heldIn.buf)
	}
	if c.heldIn.eof {
		c.peerEOF = true
	}
	c.heldIn = nil
}
