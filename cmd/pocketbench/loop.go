package main

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The loop driver (--loops N): N goroutines, each locked to an OS thread,
// each with its own readiness set (epoll on Linux, poll(2) elsewhere), drive their share of the connections
// with non-blocking read/write. Compared with one goroutine per connection
// it avoids a parked goroutine, a failed read (EAGAIN) and a scheduler
// hand-off per message, and it reads every ready socket per wait.

// detachFD takes the socket out of Go's netpoller: it duplicates the
// descriptor (same open file, already non-blocking) and closes the
// net.Conn, which deregisters the original from the runtime's epoll.
func detachFD(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	c.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// maxWriteRetries bounds the EAGAIN/EINTR retries of one write.
const maxWriteRetries = 1 << 16

// writeFD writes all of b to a non-blocking socket, waiting in poll(2) when
// the socket buffer is full, until the deadline by.
func writeFD(fd int, b []byte, by time.Time) error {
	for range maxWriteRetries {
		n, err := unix.Write(fd, b)
		if n > 0 {
			b = b[n:]
		}
		if len(b) == 0 {
			return nil
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			wait := time.Until(by)
			if wait <= 0 {
				return kerr(errTimeout, errors.New("write: socket buffer full until the deadline"))
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, int(min(wait, time.Second)/time.Millisecond)+1); err != nil && err != unix.EINTR {
				return classify(err, "poll")
			}
		default:
			return classify(err, "write")
		}
	}
	return kerr(errIO, errors.New("write: no progress"))
}

type loopState int

const (
	lsPumping loopState = iota // messages in flight
	lsClosing                  // our close frame sent, waiting for the reply
	lsDone                     // fd closed
)

// loop drives a share of the connections from one locked thread.
type loop struct {
	cfg     *Config
	win     *window
	errs    *errorLog
	workers []*echoWorker
	state   []loopState
	rbuf    []byte // shared by all connections of the loop
	rs      *readySet
	ready   [256]int
}

func (l *loop) fail(i int, err error) {
	l.errs.add(kindOf(err), l.workers[i].id, err)
	l.finish(i)
}

func (l *loop) finish(i int) {
	if l.state[i] != lsDone {
		l.state[i] = lsDone
		unix.Close(l.workers[i].fd)
	}
}

// wait runs one wait for readiness bounded by until and calls fn for each ready
// connection. It reports false when the loop itself failed.
func (l *loop) wait(until time.Time, fn func(i int)) bool {
	ms := int(min(max(time.Until(until), 0), time.Second)/time.Millisecond) + 1
	n, err := l.rs.wait(ms, l.ready[:])
	if err != nil {
		if err == unix.EINTR {
			return true
		}
		for i := range l.workers {
			if l.state[i] != lsDone {
				l.fail(i, kerr(errIO, fmt.Errorf("wait: %v", err)))
			}
		}
		return false
	}
	for _, i := range l.ready[:n] {
		if l.state[i] != lsDone {
			fn(i)
		}
	}
	return true
}

// maxReadsPerWake keeps one busy connection from starving the others.
const maxReadsPerWake = 8

// readable reads what a pumping connection has and feeds it to its worker.
func (l *loop) readable(i int) {
	w := l.workers[i]
	for range maxReadsPerWake {
		n, err := unix.Read(w.fd, l.rbuf)
		switch {
		case n > 0:
			if err := w.consume(l.win, l.rbuf[:n]); err != nil {
				l.fail(i, err)
				return
			}
			if n < len(l.rbuf) {
				return
			}
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		case err == nil: // n == 0
			l.fail(i, kerr(errClosed, fmt.Errorf("connection closed by server with %d echoes in flight", w.inflight)))
			return
		default:
			l.fail(i, classify(err, "read"))
			return
		}
	}
}

// closing reads a closing connection until the server's close frame.
func (l *loop) closing(i int) {
	w := l.workers[i]
	for range maxReadsPerWake {
		n, err := unix.Read(w.fd, l.rbuf)
		if n <= 0 {
			switch err {
			case unix.EAGAIN:
				return
			case unix.EINTR:
				continue
			case nil:
				err = errors.New("EOF")
			}
			l.fail(i, kerr(errCloseReply, fmt.Errorf("waiting for close reply: %v", err)))
			return
		}
		for b := l.rbuf[:n]; len(b) > 0; {
			res, err := w.fr.next(b)
			b = b[res.n:]
			if err != nil {
				l.fail(i, kerr(errProtocol, err))
				return
			}
			if res.ctrl == opClose {
				l.finish(i)
				return
			}
		}
	}
}

// draining reports whether any connection still waits for echoes.
func (l *loop) draining() bool {
	for i, w := range l.workers {
		if l.state[i] == lsPumping && w.inflight > 0 {
			return true
		}
	}
	return false
}

// run drives the loop's connections through the window, the drain and
// the close handshake. Every phase ends by its deadline.
func (l *loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var err error
	if l.rs, err = newReadySet(); err != nil {
		for i := range l.workers {
			l.fail(i, kerr(errIO, fmt.Errorf("readiness set: %v", err)))
		}
		return
	}
	defer l.rs.close()
	drainEnd := l.win.to.Add(l.win.drain)
	for i, w := range l.workers {
		w.writeBy = drainEnd
		if err := l.rs.add(w.fd, i); err != nil {
			l.fail(i, kerr(errIO, fmt.Errorf("watch: %v", err)))
			continue
		}
		if err := w.fill(); err != nil {
			l.fail(i, err)
			continue
		}
		if err := w.consume(l.win, w.rest); err != nil {
			l.fail(i, err)
		}
	}
	// Window and drain: bounded by drainEnd.
	for time.Now().Before(drainEnd) {
		next := l.win.to
		if !time.Now().Before(next) {
			if !l.draining() {
				break
			}
			next = drainEnd
		}
		if !l.wait(next, l.readable) {
			return
		}
	}
	// Close handshake: bounded by closeEnd.
	closeEnd := time.Now().Add(l.cfg.Timeout)
	closingN := 0
	for i, w := range l.workers {
		if l.state[i] != lsPumping {
			continue
		}
		if w.inflight > 0 {
			l.fail(i, kerr(errTimeout, fmt.Errorf("%d echoes still missing %v after the window", w.inflight, l.win.drain)))
			continue
		}
		if w.tgt.raw {
			l.finish(i)
			continue
		}
		w.writeBy = closeEnd
		if err := w.write(closeFrame(1000, w.frame.mask)); err != nil {
			l.fail(i, kerr(errCloseReply, fmt.Errorf("write close: %w", err)))
			continue
		}
		l.state[i] = lsClosing
		closingN++
	}
	for closingN > 0 && time.Now().Before(closeEnd) {
		if !l.wait(closeEnd, l.closing) {
			return
		}
		closingN = 0
		for i := range l.workers {
			if l.state[i] == lsClosing {
				closingN++
			}
		}
	}
	for i := range l.workers {
		if l.state[i] == lsClosing {
			l.fail(i, kerr(errCloseReply, errors.New("no close reply in time")))
		}
	}
}
