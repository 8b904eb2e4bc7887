//go:build !linux

package main

import "golang.org/x/sys/unix"

// readySet watches sockets for input: poll(2) where there is no epoll.
type readySet struct {
	fds []unix.PollFd
	ids []int
}

func newReadySet() (*readySet, error) { return &readySet{}, nil }

func (r *readySet) add(fd, id int) error {
	r.fds = append(r.fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	r.ids = append(r.ids, id)
	return nil
}

func (r *readySet) wait(ms int, out []int) (int, error) {
	if _, err := unix.Poll(r.fds, ms); err != nil {
		return 0, err
	}
	n := 0
	for i := range r.fds {
		if r.fds[i].Revents != 0 && n < len(out) {
			out[n] = r.ids[i]
			n++
		}
	}
	return n, nil
}

func (r *readySet) close() {}
