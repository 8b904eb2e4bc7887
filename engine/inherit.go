package engine

import (
	"fmt"

	"golang.org/x/sys/unix"

	"pocketlua/poll"
)

// inherit serves listening sockets the process was handed (systemd socket
// activation) in place of Config.Listen. Each descriptor must be a
// listening TCP socket; it becomes this server's to close.
func (s *Server) inherit(fds []int) error {
	for _, fd := range fds {
		if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
			return fmt.Errorf("inherited descriptor %d: not a stream socket", fd)
		}
		if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on == 0 {
			return fmt.Errorf("inherited descriptor %d: not a listening socket", fd)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return fmt.Errorf("inherited descriptor %d: %w", fd, err)
		}
		if _, ok := sa.(*unix.SockaddrUnix); ok {
			return fmt.Errorf("inherited descriptor %d: a Unix socket; pocketlua serves TCP", fd)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return fmt.Errorf("inherited descriptor %d: %w", fd, err)
		}
		unix.CloseOnExec(fd)
		// As on the sockets poll binds: accepted sockets inherit it on Linux.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		host, port := poll.SockaddrHostPort(sa)
		l := &listener{srv: s, configured: true}
		ln, err := s.loop.Listen(fd, host, port, l.accept)
		if err != nil {
			return fmt.Errorf("inherited descriptor %d: %w", fd, err)
		}
		l.ln = ln
		s.listeners = append(s.listeners, l)
	}
	return nil
}
