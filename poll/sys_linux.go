package poll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultPoller is the backend an empty Config.Poller picks: epoll, whose
// Round may be driven from any goroutine (an io_uring loop's may not).
const DefaultPoller = "epoll"

// PreferredPoller is what a server that runs its loops through Run should
// ask for: io_uring where the kernel has what it needs, else epoll.
const PreferredPoller = "auto"

// pollRDHUP asks poll(2) for the peer's half-close (Linux only).
const pollRDHUP = unix.POLLRDHUP

// newSocket makes a non-blocking, close-on-exec TCP socket in one call.
func newSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// acceptConn takes one connection off the backlog, non-blocking and
// close-on-exec. It inherits TCP_NODELAY from the listener. A raw system
// call (the listener is non-blocking) that decodes the address itself:
// unix.Accept4 asks getsockopt(SO_PROTOCOL) of every IPv4 and IPv6
// connection, one more system call per connection.
func acceptConn(lfd int) (int, unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return int(fd), &unix.SockaddrInet4{Port: int(p[0])<<8 | int(p[1]), Addr: a.Addr}, nil
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return int(fd), &unix.SockaddrInet6{Port: int(p[0])<<8 | int(p[1]), ZoneId: a.Scope_id, Addr: a.Addr}, nil
	}
	// An inherited listener of another family (a Unix socket): the
	// engine keeps no address for it.
	return int(fd), nil, nil
}

// newWaker makes the wake-up descriptor: one eventfd, read and written.
func newWaker() (r, w int, err error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	return fd, fd, err
}
