package main

import "golang.org/x/sys/unix"

// readySet watches sockets for input: epoll on Linux. ids are the
// caller's indexes, handed back by wait.
type readySet struct {
	fd  int
	evs [256]unix.EpollEvent
}

func newReadySet() (*readySet, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &readySet{fd: fd}, nil
}

func (r *readySet) add(fd, id int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(id)}
	return unix.EpollCtl(r.fd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// wait blocks up to ms and puts the ready ids in out.
func (r *readySet) wait(ms int, out []int) (int, error) {
	n, err := unix.EpollWait(r.fd, r.evs[:min(len(out), len(r.evs))], ms)
	for i := range max(n, 0) {
		out[i] = int(r.evs[i].Fd)
	}
	return max(n, 0), err
}

func (r *readySet) close() { unix.Close(r.fd) }
