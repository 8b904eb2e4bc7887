// Package loopback makes loopback TCP ports with a known fault, for the
// tests of outbound connections (poll's and the end-to-end ones): a port
// that refuses and a port that never answers.
package loopback

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ClosedPort is a loopback port nobody listens on (bound, then released),
// so a connect to it is refused.
func ClosedPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// BlackholePort returns a loopback port whose SYNs go unanswered, the
// loopback stand-in for a blackholed address: a listener with backlog 0
// that never accepts, its accept queue filled by connections whose
// handshake completed. Linux then drops every new SYN (tcp_conn_request:
// "accept queue full"), so a connect stays in SYN_SENT until the caller's
// timeout. The listener and the filling connections go at cleanup.
func BlackholePort(tb testing.TB) int {
	tb.Helper()
	// net.Listen cannot take a backlog, so the socket is made by hand;
	// ForkLock keeps it from leaking into a server the test starts meanwhile.
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return port // this SYN was dropped: the queue is full
		}
		tb.Cleanup(func() { c.Close() })
	}
	tb.Fatal("the accept queue of a backlog-0 listener never filled")
	return 0
}
