package poll

import (
	"unsafe"

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

// send writes p to the non-blocking socket fd. sendto(2) skips the file
// layer write(2) goes through, and as it never blocks, a raw system call
// skips the Go scheduler's bookkeeping: a fan-out makes one per
// subscriber. A descriptor that is not a socket gets write(2).
func send(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case unix.ENOTSOCK:
		return unix.Write(fd, p)
	}
	return -1, e
}
