//go:build !linux

package poll

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// The portable side: no epoll, no accept4, no eventfd. The poll(2) backend
// serves, sockets are made non-blocking after the fact (under the fork lock,
// so no child inherits one), and a pipe wakes the loop.

// DefaultPoller is the backend an empty Config.Poller picks.
const DefaultPoller = "poll"

const pollRDHUP = 0

func newEpoll() (Poller, error) {
	return nil, errors.New("the epoll backend is Linux only (use --poller poll)")
}

func newSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	return fd, setFlags(fd)
}

// acceptConn also sets TCP_NODELAY, which not every system lets an
// accepted socket inherit from its listener.
func acceptConn(lfd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, sa, err := unix.Accept(lfd)
	if err != nil {
		return -1, nil, err
	}
	if err := setFlags(fd); err != nil {
		return -1, nil, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, sa, nil
}

func newWaker() (r, w int, err error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return -1, -1, err
	}
	for _, fd := range p {
		if err := setFlags(fd); err != nil {
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}

// setFlags makes fd non-blocking and close-on-exec; it closes fd on failure.
func setFlags(fd int) error {
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	return nil
}
