package poll

import (
	"golang.org/x/sys/unix"
)

// DefaultPoller is the backend an empty Config.Poller picks.
const DefaultPoller = "epoll"

// pollRDHUP asks poll(2) for the peer's half-close (Linux only).
const pollRDHUP = unix.POLLRDHUP

// newSocket makes a non-blocking, close-on-exec TCP socket in one call.
func newSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// acceptConn takes one connection off the backlog, non-blocking and
// close-on-exec. It inherits TCP_NODELAY from the listener.
func acceptConn(lfd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// newWaker makes the wake-up descriptor: one eventfd, read and written.
func newWaker() (r, w int, err error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	return fd, fd, err
}
