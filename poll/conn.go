package poll

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler receives a connection's events on the loop goroutine.
type Handler interface {
	// Data gets bytes read from the peer. p is the loop's read buffer: it is
	// valid only during the call, and the handler may modify it.
	Data(p []byte)
	// Drain fires once the queue falls to the low-water mark after a Write
	// reported false.
	Drain()
	// Closed fires exactly once when the connection ends, with the cause.
	Closed(cause error)
}

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // Closed has run; queued output drains, then FIN and wait for the peer's
	stateDone              // descriptor closed
)

// Conn is a non-blocking stream socket owned by the loop.
type Conn struct {
	loop     *Loop
	fd       int
	h        Handler
	out      []byte // queued output; out[off:] is still to be written
	off      int
	state    connState
	interest Interest
	paused   bool
	dirty    bool
	held     bool // listed in loop.held: its output may wait (HoldWrites)
	blocked  bool // Write reported false; Drain is owed
	peerEOF  bool
	wrShut   bool
	noLinger bool // CloseNoLinger: close once the output is out, without waiting for the peer's FIN
	linger   *Timer
	dial     *dialing // an outbound connection still connecting (connect.go)
	// flushedAt is when the loop last wrote to it, since loop.epoch.
	flushedAt time.Duration

	// With a backend doing the I/O (conn_stream.go): its registration,
	// the bytes of out[off:] being sent, and input that arrived after Pause.
	stream  bool
	ioGen   uint16
	sending int
	heldIn  *heldInput
}

// NewConn registers an accepted or connected non-blocking socket.
func (l *Loop) NewConn(fd int, h Handler) (*Conn, error) {
	c := &Conn{loop: l, fd: fd, h: h, interest: Readable}
	if l.cio != nil {
		if err := l.registerStream(c); err != nil {
			return nil, err
		}
	} else if err := l.register(fd, c, Readable); err != nil {
		return nil, err
	}
	l.conns++
	return c, nil
}

// FD is the socket descriptor (-1 once closed).
func (c *Conn) FD() int {
	if c.state == stateDone {
		return -1
	}
	return c.fd
}

// Open reports whether the connection can still send and receive.
func (c *Conn) Open() bool { return c.state == stateOpen }

// Queued is the number of bytes written by the handler but not yet by the kernel.
func (c *Conn) Queued() int { return len(c.out) - c.off }

// Write queues p; the loop writes it at the end of the round. It reports
// false when the queue is above the high-water mark (or the connection is
// closed); then Drain fires once it is low again. Above MaxQueued the
// connection is dropped as a slow consumer.
func (c *Conn) Write(p []byte) bool {
	if c.state != stateOpen {
		return false
	}
	c.reserve(len(p))
	c.out = append(c.out, p...)
	return c.queued()
}

// WriteString is Write for a string, without a conversion copy.
func (c *Conn) WriteString(s string) bool {
	if c.state != stateOpen {
		return false
	}
	c.reserve(len(s))
	c.out = append(c.out, s...)
	return c.queued()
}

// Write2 queues head then body, as one write: a frame header and its
// payload. A body of DirectWrite bytes or more that finds the queue empty
// is written at once from the caller's bytes, and only what the kernel
// leaves is copied into the queue.
func (c *Conn) Write2(head []byte, body string) bool {
	if c.state != stateOpen {
		return false
	}
	if len(body) >= DirectWrite && c.Queued() == 0 && c.dial == nil {
		if head, body = c.writeNow(head, body); c.state != stateOpen {
			return false
		}
		if len(head)+len(body) == 0 {
			return true
		}
	}
	c.reserve(len(head) + len(body))
	c.out = append(c.out, head...)
	c.out = append(c.out, body...)
	return c.queued()
}

// reserve makes room for n more bytes at the end of the queue, taking
// buffers from the loop's recycler rather than growing by append.
// DirectWrite is the payload size from which Write2 skips the copy into an
// empty queue. Smaller writes are queued, so the many small writes of a
// round still go out in one system call per connection; a large one gains
// nothing from waiting, and copying it costs more than the extra call.
const DirectWrite = 64 << 10

// writeNow writes head and body with writev until the kernel stops
// taking them, and returns what it left.
func (c *Conn) writeNow(head []byte, body string) ([]byte, string) {
	for len(head)+len(body) > 0 {
		var iov [2]unix.Iovec
		iov[0].Base = unsafe.SliceData(head)
		iov[0].SetLen(len(head))
		iov[1].Base = unsafe.StringData(body)
		iov[1].SetLen(len(body))
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&iov[0])), 2)
		c.loop.stats.Writes++
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			if e != unix.EAGAIN {
				c.Abort(e) // as in flush: the peer is gone
			}
			break
		}
		n := int(r)
		k := min(n, len(head))
		head, body = head[k:], body[n-k:]
	}
	return head, body
}

func (c *Conn) reserve(n int) {
	switch {
	case c.out == nil:
		c.out = c.loop.bufs.Get(n)
		return
	case c.off == 0:
	case c.off == len(c.out):
		c.out, c.off = c.out[:0], 0
	case c.sending == 0 && len(c.out)+n > cap(c.out) && c.off >= len(c.out)/2:
		// A queue that never empties (a steady stream under backpressure)
		// would otherwise grow by every byte the kernel already took, and
		// copy them all at each growth: slide the unwritten tail down
		// instead. It copies at most what it frees.
		m := copy(c.out, c.out[c.off:])
		c.out, c.off = c.out[:m], 0
	}
	if need := len(c.out) + n; need > cap(c.out) {
		// Grow at least twofold so a queue filled piecemeal copies O(n).
		buf := c.loop.bufs.Get(max(need, 2*cap(c.out)))
		buf = append(buf, c.out[c.off:]...)
		if c.sending == 0 { // else the backend still sends from it, and holds it
			c.loop.bufs.Put(c.out)
		}
		c.out, c.off = buf, 0
	}
}

func (c *Conn) queued() bool {
	if c.loop.holding {
		if !c.dirty {
			c.hold()
		}
	} else if !c.dirty {
		c.dirty = true
		c.loop.dirty = append(c.loop.dirty, c)
	}
	q := c.Queued()
	if q > c.loop.cfg.MaxQueued {
		c.Abort(ErrSlowConsumer)
		return false
	}
	if q > c.loop.cfg.HighWater {
		c.blocked = true
		return false
	}
	return true
}

// Pause stops reading; the kernel's buffers then throttle the peer.
func (c *Conn) Pause() {
	if !c.paused {
		c.paused = true
		c.updateInterest()
	}
}

// Resume undoes Pause.
func (c *Conn) Resume() {
	if c.paused {
		c.paused = false
		if c.heldIn != nil {
			c.loop.AfterFunc(0, c.deliverHeld) // as a read would: in the round, not inside Resume
			return
		}
		c.updateInterest()
	}
}

// Paused reports whether reading is paused.
func (c *Conn) Paused() bool { return c.paused }

func (c *Conn) updateInterest() {
	if c.state == stateDone || c.dial != nil {
		return // while connecting, only the handshake's outcome is watched
	}
	var in Interest
	// After EOF a socket stays readable for ever: stop asking.
	if !c.peerEOF && (!c.paused || c.state == stateClosing) && c.heldIn == nil {
		in |= Readable
	}
	// A dirty queue is written at the round's end, whose flush asks for
	// room only if the kernel left some: arming it now (Close queueing a
	// last frame) would cost two epoll_ctl calls for nothing.
	if c.Queued() > 0 && (!c.dirty || c.interest&Writable != 0) {
		in |= Writable
	}
	if in != c.interest {
		c.interest = in
		c.loop.poller.Mod(c.fd, in)
	}
}

func (c *Conn) ready(r Ready) {
	if r.Op != OpNone {
		c.completed(r)
		return
	}
	if c.dial != nil {
		c.connectReady(r)
		return
	}
	if r.Writable && c.Queued() > 0 {
		c.flush()
	}
	if c.state == stateDone {
		return
	}
	if r.Readable && (!c.paused || c.state == stateClosing) {
		c.read()
	} else if r.Hangup && c.paused {
		// Paused: input waits, but a dead socket must not spin the loop.
		c.Abort(ErrPeerClosed)
	}
}

func (c *Conn) read() {
	buf := c.loop.buf
	for i := 0; i < c.loop.cfg.ReadsPerRound; i++ {
		n, err := sockRead(c.fd, buf)
		c.loop.stats.Reads++
		if n > 0 {
			if c.state == stateOpen {
				c.h.Data(buf[:n])
			}
			if n < len(buf) || c.state != stateOpen || c.paused {
				return
			}
			continue
		}
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if n == 0 && err == nil {
			c.eof()
			return
		}
		c.Abort(err)
		return
	}
}

func (c *Conn) eof() {
	c.peerEOF = true
	if c.state == stateOpen {
		c.Close(ErrPeerClosed) // what is queued may still reach a half-closed peer
	} else if c.Queued() == 0 {
		c.finish()
	} else {
		c.updateInterest()
	}
}

// flush writes as much queued output as the kernel takes.
func (c *Conn) flush() {
	if c.state == stateDone || c.dial != nil {
		return // a connecting socket's queue is written once it connects
	}
	if c.Queued() > 0 {
		c.flushedAt = c.loop.now.Sub(c.loop.epoch)
	}
	if c.stream {
		c.send() // flushed runs at its completion
		return
	}
	write := sockWrite
	if c.state == stateClosing {
		write = sockWriteLast // shutdownWrite follows once the queue is empty
	}
	for c.Queued() > 0 {
		n, err := write(c.fd, c.out[c.off:])
		c.loop.stats.Writes++
		if n > 0 {
			c.off += n
			if c.state == stateClosing {
				c.extendLinger() // a peer still reading gets its data
			}
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		// EPIPE, ECONNRESET: the peer is gone; what is queued cannot arrive.
		c.Abort(err)
		return
	}
	c.flushed()
}

// flushed follows a write: it frees an empty queue, stops watching for
// room, finishes a closing connection's output, and owes Drain.
func (c *Conn) flushed() {
	if c.Queued() == 0 && c.out != nil {
		c.loop.bufs.Put(c.out)
		c.out, c.off = nil, 0
	}
	c.updateInterest()
	if c.state == stateClosing {
		if c.Queued() == 0 {
			c.shutdownWrite()
		}
		return
	}
	if c.blocked && c.Queued() <= c.loop.cfg.LowWater && c.state == stateOpen {
		c.blocked = false
		c.h.Drain()
	}
}

// Close ends the connection gracefully: Closed runs now, queued output is
// still written, then the socket is shut down and closed once the peer
// acknowledges. LingerTimeout bounds each wait for progress.
func (c *Conn) Close(cause error) {
	if c.state != stateOpen {
		return
	}
	if c.dial != nil && c.Queued() == 0 {
		c.Abort(cause) // still connecting, nothing to deliver: stop now
		return
	}
	c.state = stateClosing
	c.paused = false
	c.dropHeld()
	c.h.Closed(cause)
	if c.dial != nil {
		// Still connecting with output queued: it goes out if the connect
		// completes within LingerTimeout (connect.go), then FIN as below.
		if c.state != stateDone {
			c.linger = c.loop.AfterFunc(c.loop.cfg.LingerTimeout, c.finish)
		}
		return
	}
	if c.state == stateDone {
		return
	}
	c.linger = c.loop.AfterFunc(c.loop.cfg.LingerTimeout, c.finish)
	if c.Queued() == 0 {
		c.shutdownWrite()
	} else if !c.dirty {
		c.dirty = true
		c.loop.dirty = append(c.loop.dirty, c)
	}
	c.updateInterest()
}

// Abort ends the connection at once, dropping queued output.
func (c *Conn) Abort(cause error) {
	if c.state == stateDone {
		return
	}
	wasOpen := c.state == stateOpen
	c.state = stateClosing
	if wasOpen {
		// A held write over MaxQueued lands here: what Closed writes
		// to others is not a delivery, and is not held.
		holding := c.loop.holding
		c.loop.holding = false
		c.h.Closed(cause)
		c.loop.holding = holding
	}
	c.finish()
}

func (c *Conn) extendLinger() {
	c.linger.Stop()
	c.linger = c.loop.AfterFunc(c.loop.cfg.LingerTimeout, c.finish)
}

// CloseNoLinger is Close for a peer that said it is done (a WebSocket
// close frame): once the queue is written the descriptor closes, without
// waiting for the peer's FIN.
func (c *Conn) CloseNoLinger(cause error) {
	c.noLinger = true
	c.Close(cause)
}

func (c *Conn) shutdownWrite() {
	if c.wrShut {
		return
	}
	c.wrShut = true
	if c.peerEOF || c.noLinger {
		c.finish()
		return
	}
	sockShutdown(c.fd)
}

// finish closes the descriptor and frees the queue.
func (c *Conn) finish() {
	if c.state == stateDone {
		return
	}
	if c.state == stateOpen {
		c.state = stateClosing
		c.h.Closed(ErrShutdown)
	}
	c.state = stateDone
	c.linger.Stop()
	if c.dial != nil {
		c.dial.timer.Stop()
		c.dial = nil
	}
	c.loop.closing(c.fd)
	sockClose(c.fd)
	if c.out != nil {
		if c.sending == 0 { // else the backend holds it until the send ends
			c.loop.bufs.Put(c.out)
		}
		c.out, c.off = nil, 0
	}
	c.dropHeld()
	c.loop.conns--
	c.loop.fdReleased()
}
