package poll

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// AcceptFunc receives each accepted, non-blocking socket.
type AcceptFunc func(fd int, peer unix.Sockaddr)

// Listener is a listening socket on the loop.
type Listener struct {
	loop   *Loop
	fd     int
	Host   string
	Port   int
	accept AcceptFunc
	closed bool
}

// SocketBindOptions tune SocketBind.
type SocketBindOptions struct {
	ReusePort bool // SO_REUSEPORT, for one listener per worker loop
	Backlog   int  // listen(2) backlog; 0 means 4096 (the kernel caps it at somaxconn)
}

// SocketBind creates a non-blocking TCP listening socket: host defaults to
// 127.0.0.1, port 0 picks a free port. It returns the descriptor with the
// host and the real port. IPv6 literals may be bracketed ("[::1]").
func SocketBind(host string, port int, opt SocketBindOptions) (fd int, boundHost string, boundPort int, err error) {
	if host == "" {
		host = "127.0.0.1"
	}
	if port < 0 || port > 65535 {
		return -1, "", 0, fmt.Errorf("socket_bind: port %d out of range", port)
	}
	addr, err := resolveHost(host)
	if err != nil {
		return -1, "", 0, fmt.Errorf("socket_bind %s: %w", host, err)
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if addr.Is4() {
		sa = &unix.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		family = unix.AF_INET6
		sa6 := &unix.SockaddrInet6{Port: port, Addr: addr.As16()}
		if z := addr.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = sa6
	}
	fd, err = newSocket(family)
	if err != nil {
		return -1, "", 0, fmt.Errorf("socket_bind %s: %w", JoinHostPort(host, port), err)
	}
	fail := func(what string, err error) (int, string, int, error) {
		unix.Close(fd)
		return -1, "", 0, fmt.Errorf("%s %s: %w", what, JoinHostPort(addr.String(), port), err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if opt.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	// Accepted sockets inherit TCP_NODELAY from the listener on Linux:
	// one setsockopt here instead of one per connection (acceptConn sets
	// it elsewhere).
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	backlog := opt.Backlog
	if backlog <= 0 {
		backlog = 4096
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	h, p := SockaddrHostPort(bound)
	return fd, h, p, nil
}

func resolveHost(host string) (netip.Addr, error) {
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	if host == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	addrs, err := net.LookupHost(host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, s := range addrs {
		if a, err := netip.ParseAddr(s); err == nil {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no address for %s", host)
}

// SockaddrHostPort splits a socket address into its printable host and port.
func SockaddrHostPort(sa unix.Sockaddr) (string, int) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).String(), a.Port
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).String(), a.Port
	case *unix.SockaddrUnix:
		return a.Name, 0
	}
	return "", 0
}

// JoinHostPort is net.JoinHostPort with an int port.
func JoinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Listen puts a listening socket made by SocketBind on the loop.
func (l *Loop) Listen(fd int, host string, port int, accept AcceptFunc) (*Listener, error) {
	ln := &Listener{loop: l, fd: fd, Host: host, Port: port, accept: accept}
	in := Readable
	if l.acceptPaused {
		in = 0
	}
	if err := l.register(fd, ln, in); err != nil {
		return nil, err
	}
	l.listeners = append(l.listeners, ln)
	return ln, nil
}

// Addr is host:port.
func (ln *Listener) Addr() string { return JoinHostPort(ln.Host, ln.Port) }

// FD is the listening descriptor.
func (ln *Listener) FD() int { return ln.fd }

// Close stops listening.
func (ln *Listener) Close() {
	if ln.closed {
		return
	}
	ln.closed = true
	ln.loop.unregister(ln.fd)
	unix.Close(ln.fd)
	ls := ln.loop.listeners
	for i, x := range ls {
		if x == ln {
			ln.loop.listeners = append(ls[:i], ls[i+1:]...)
			break
		}
	}
}

// ready drains the backlog, up to AcceptPerRound so connections get served too.
func (ln *Listener) ready(Ready) {
	l := ln.loop
	for i := 0; i < l.cfg.AcceptPerRound && !ln.closed && !l.acceptPaused; i++ {
		fd, sa, err := acceptConn(ln.fd)
		if err == nil {
			ln.accept(fd, sa)
			continue
		}
		switch err {
		case unix.EAGAIN:
			l.acceptLogged = false // the backlog drained cleanly: a new shortage gets logged again
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			l.acceptFails++
			l.pauseAccept(err)
			return
		default:
			l.cfg.Logger.Error("accept failed", "listen", ln.Addr(), "err", err)
			return
		}
	}
}

// pauseAccept stops every listener for AcceptPause (or until a descriptor is
// released), so a full descriptor table does not spin the loop.
func (l *Loop) pauseAccept(err error) {
	if !l.acceptLogged {
		l.acceptLogged = true
		l.cfg.Logger.Warn("accept paused: out of resources; existing connections go on", "err", err, "pause", l.cfg.AcceptPause)
	}
	l.acceptPaused = true
	for _, ln := range l.listeners {
		l.poller.Mod(ln.fd, 0)
	}
	l.acceptResumer = l.AfterFunc(l.cfg.AcceptPause, l.resumeAccept)
}

func (l *Loop) resumeAccept() {
	if !l.acceptPaused {
		return
	}
	l.acceptPaused = false
	l.acceptResumer.Stop()
	for _, ln := range l.listeners {
		l.poller.Mod(ln.fd, Readable)
	}
}

// fdReleased lets accepting resume early once a descriptor is free again.
func (l *Loop) fdReleased() {
	if l.acceptPaused {
		l.resumeAccept()
	}
}
