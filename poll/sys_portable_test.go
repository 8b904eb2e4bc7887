package poll

import (
	"testing"

	"golang.org/x/sys/unix"
)

// checkFlags fails unless fd is non-blocking and close-on-exec.
func checkFlags(t *testing.T, what string, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("%s: status flags %#x, %v: not non-blocking", what, fl, err)
	}
	fd2, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || fd2&unix.FD_CLOEXEC == 0 {
		t.Errorf("%s: descriptor flags %#x, %v: not close-on-exec", what, fd2, err)
	}
}

// TestPortableCalls runs the calls other systems use (sys_other.go) here:
// a listener, an accepted connection and the pipe wake-up come out
// non-blocking and close-on-exec, and the accepted socket has TCP_NODELAY.
func TestPortableCalls(t *testing.T) {
	lfd, err := socketPortable(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	checkFlags(t, "socket", lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	if _, _, err := acceptPortable(lfd); err != unix.EAGAIN {
		t.Fatalf("accept on an empty backlog: %v, want EAGAIN", err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	if err := unix.Connect(cfd, sa); err != nil {
		t.Fatal(err)
	}
	fd, peer, err := acceptPortable(lfd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	checkFlags(t, "accepted", fd)
	if nd, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || nd == 0 {
		t.Errorf("accepted socket: TCP_NODELAY %d, %v", nd, err)
	}
	if _, ok := peer.(*unix.SockaddrInet4); !ok {
		t.Errorf("peer address %T", peer)
	}

	r, w, err := pipeWaker()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	defer unix.Close(w)
	checkFlags(t, "wake read end", r)
	checkFlags(t, "wake write end", w)
	var b [8]byte
	if _, err := unix.Read(r, b[:]); err != unix.EAGAIN {
		t.Fatalf("read of an empty wake-up: %v, want EAGAIN", err)
	}
	if n, err := unix.Write(w, []byte{1, 0, 0, 0, 0, 0, 0, 0}); n != 8 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := unix.Read(r, b[:]); n != 8 || err != nil {
		t.Fatalf("wake-up read %d, %v", n, err)
	}
}
