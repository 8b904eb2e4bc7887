package poll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoll is the Linux backend, level-triggered.
type epoll struct {
	fd  int
	evs []unix.EpollEvent
}

func newEpoll() (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &epoll{fd: fd}, nil
}

func (e *epoll) Name() string { return "epoll" }

func epollEvents(in Interest) uint32 {
	var ev uint32
	if in&Readable != 0 {
		ev |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in&Writable != 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

func (e *epoll) Add(fd int, in Interest) error {
	return e.ctl(unix.EPOLL_CTL_ADD, fd, in)
}

func (e *epoll) Mod(fd int, in Interest) error {
	return e.ctl(unix.EPOLL_CTL_MOD, fd, in)
}

func (e *epoll) Closing(int) {}

func (e *epoll) Del(fd int) error {
	return e.ctl(unix.EPOLL_CTL_DEL, fd, 0)
}

// ctl is epoll_ctl(2) as a raw system call (it never blocks, so the
// runtime's entersyscall/exitsyscall would be pure cost) with the event on
// the stack, where unix.EpollCtl's escapes to the heap.
func (e *epoll) ctl(op, fd int, in Interest) error {
	ev := unix.EpollEvent{Events: epollEvents(in), Fd: int32(fd)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(e.fd), uintptr(op), uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (e *epoll) Wait(out []Ready, timeoutMs int) (int, error) {
	if cap(e.evs) < len(out) {
		e.evs = make([]unix.EpollEvent, len(out))
	}
	evs := e.evs[:len(out)]
	n, err := unix.EpollWait(e.fd, evs, timeoutMs)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		ev := evs[i].Events
		out[i] = Ready{
			FD:       evs[i].Fd,
			Readable: ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0,
			Writable: ev&unix.EPOLLOUT != 0,
			Hangup:   ev&(unix.EPOLLHUP|unix.EPOLLERR) != 0,
		}
	}
	return n, nil
}

func (e *epoll) Close() error { return unix.Close(e.fd) }
