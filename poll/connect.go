package poll

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// ErrConnectTimeout ends an outbound connection whose handshake did not
// finish within its connect timeout.
var ErrConnectTimeout = errors.New("connect timeout")

// dialing is the state of an outbound connection until its handshake ends.
type dialing struct {
	connected func() // runs once the socket is connected
	timer     *Timer // the connect timeout, or the report of an immediate failure
	spurious  int    // wake-ups that found the socket neither failed nor connected
}

// maxSpurious bounds the wake-ups a connect may take without an outcome,
// so a socket the poller keeps reporting cannot spin the loop.
const maxSpurious = 64

// ResolveSockaddr turns host and port into a socket address: host is an
// IPv4 or IPv6 literal (brackets allowed, "fe80::1%eth0" zones too),
// "localhost" (127.0.0.1), or a name resolved with a blocking lookup.
func ResolveSockaddr(host string, port int) (unix.Sockaddr, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range (1-65535)", port)
	}
	addr, err := resolveHost(host)
	if err != nil {
		return nil, err
	}
	if addr.Is4() {
		return &unix.SockaddrInet4{Port: port, Addr: addr.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: port, Addr: addr.As16()}
	if z := addr.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, err
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

// Connect starts a non-blocking TCP connect to sa and returns the
// connection at once, before the handshake ends. While it is connecting,
// Write queues (the queue goes out once connected) and Pause/Resume are
// remembered; Abort cancels it, and so does Close, except that Close with
// output queued lets the connect go on for up to LingerTimeout to deliver
// it, then shuts down as usual. When the handshake succeeds, connected
// runs and the connection reads and writes like an accepted one. When it
// fails (refused, unreachable, reset, no answer within timeout), h.Closed
// runs with the cause (an errno, or ErrConnectTimeout) and connected never
// does. Either happens in a later round, never inside Connect. timeout <= 0
// means no timeout beyond the kernel's own (about two minutes of SYN
// retries).
//
// Connect fails only when no socket can be made (EMFILE, a bad address).
func (l *Loop) Connect(sa unix.Sockaddr, timeout time.Duration, h Handler, connected func()) (*Conn, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := newSocket(family)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c := &Conn{loop: l, fd: fd, h: h, interest: Writable, dial: &dialing{connected: connected}}
	err = unix.Connect(fd, sa)
	switch err {
	case nil, unix.EINPROGRESS, unix.EINTR:
		// EINTR: the handshake goes on in the background, as with EINPROGRESS.
	default:
		if !connectFailure(err) {
			unix.Close(fd)
			return nil, err
		}
		// Refused or unreachable at once (possible on loopback): report it
		// like a failure seen later, so every failure reaches Closed the
		// same way and never inside Connect.
		if rerr := l.register(fd, c, 0); rerr != nil {
			unix.Close(fd)
			return nil, rerr
		}
		l.conns++
		c.dial.timer = l.AfterFunc(0, func() { c.Abort(err) })
		return c, nil
	}
	if err := l.register(fd, c, Writable); err != nil {
		unix.Close(fd)
		return nil, err
	}
	l.conns++
	if timeout > 0 {
		c.dial.timer = l.AfterFunc(timeout, func() { c.Abort(ErrConnectTimeout) })
	}
	return c, nil
}

// connectFailure reports whether a connect(2) error is the answer of the
// peer or the network (given to Closed) rather than a bad argument.
func connectFailure(err error) bool {
	switch err {
	case unix.ECONNREFUSED, unix.ENETUNREACH, unix.EHOSTUNREACH, unix.ENETDOWN, unix.ETIMEDOUT,
		unix.ECONNRESET, unix.EACCES, unix.EPERM, // a firewall rule
		unix.EADDRNOTAVAIL, unix.EAGAIN: // no free local port
		return true
	}
	return false
}

// connectReady handles readiness while connecting: SO_ERROR says how the
// handshake ended.
func (c *Conn) connectReady(r Ready) {
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil {
		err = unix.Errno(soerr)
	}
	switch err {
	case unix.Errno(0), unix.EISCONN:
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return // still connecting
	default:
		c.Abort(err)
		return
	}
	var peer unix.Sockaddr
	if r.Writable {
		peer, err = unix.Getpeername(c.fd)
	}
	if !r.Writable || err != nil {
		// Neither failed nor connected: a spurious wake-up; wait again.
		if c.dial.spurious++; c.dial.spurious > maxSpurious {
			c.Abort(unix.ENOTCONN)
		}
		return
	}
	if selfConnected(c.fd, peer) {
		// A connect to a free local port can pick that same port as its
		// source and connect to itself (TCP simultaneous open). Nobody was
		// listening: say so.
		c.Abort(unix.ECONNREFUSED)
		return
	}
	d := c.dial
	c.dial = nil
	d.timer.Stop()
	if c.state == stateClosing {
		c.extendLinger() // closed while connecting: deliver the queue, then FIN
	}
	if c.loop.cio != nil {
		c.ioGen, c.stream, c.interest = c.loop.cio.Stream(c.fd), true, 0
	}
	c.updateInterest() // read, and write what was queued meanwhile
	if c.Queued() > 0 && !c.dirty {
		c.dirty = true
		c.loop.dirty = append(c.loop.dirty, c)
	}
	if d.connected != nil && c.state == stateOpen {
		d.connected()
	}
}

// selfConnected reports whether the socket's two ends are the same address.
func selfConnected(fd int, peer unix.Sockaddr) bool {
	la, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	lh, lp := SockaddrHostPort(la)
	rh, rp := SockaddrHostPort(peer)
	return lp == rp && lh == rh
}
