//go:build !linux

package poll

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Off Linux: no epoll, no accept4, no eventfd. The poll(2) backend serves,
// and the portable calls of sys_portable.go make sockets and the wake-up.

// DefaultPoller is the backend an empty Config.Poller picks.
const DefaultPoller = "poll"

// PreferredPoller is what a server should ask for; off Linux, poll(2).
const PreferredPoller = "poll"

const pollRDHUP = 0

func newEpoll() (Poller, error) {
	return nil, errors.New("the epoll backend is Linux only (use --poller poll)")
}

func newSocket(family int) (int, error)              { return socketPortable(family) }
func acceptConn(lfd int) (int, unix.Sockaddr, error) { return acceptPortable(lfd) }
func newWaker() (r, w int, err error)                { return pipeWaker() }
