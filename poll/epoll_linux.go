package poll

import "golang.org/x/sys/unix"

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
	return unix.EpollCtl(e.fd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: epollEvents(in), Fd: int32(fd)})
}

func (e *epoll) Mod(fd int, in Interest) error {
	return unix.EpollCtl(e.fd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: epollEvents(in), Fd: int32(fd)})
}

func (e *epoll) Closing(int) {}

func (e *epoll) Del(fd int) error {
	return unix.EpollCtl(e.fd, unix.EPOLL_CTL_DEL, fd, nil)
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
