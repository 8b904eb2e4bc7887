package poll

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// The calls systems without SOCK_NONBLOCK, accept4 and eventfd use (see
// sys_other.go); built everywhere so Linux tests exercise them too. The
// flags are set after the fact under the fork lock, so no child started
// meanwhile inherits a descriptor.

// socketPortable is newSocket in three calls.
func socketPortable(family int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	return fd, setFlags(fd)
}

// acceptPortable is acceptConn without accept4. It also sets TCP_NODELAY,
// which not every system lets an accepted socket inherit from its listener.
func acceptPortable(lfd int) (int, unix.Sockaddr, error) {
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

// pipeWaker is a wake-up without eventfd: a pipe, read end and write end.
func pipeWaker() (r, w int, err error) {
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
