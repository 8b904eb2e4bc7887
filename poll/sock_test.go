package poll

import (
	"testing"

	"golang.org/x/sys/unix"
)

// sockRead and sockWrite keep unix.Read's and unix.Write's conventions,
// which Conn.read and Conn.flush rely on: bytes, EAGAIN when nothing is
// ready, (0, nil) at the peer's EOF, an errno (no SIGPIPE) once the peer
// is gone.
func TestSockReadWriteConventions(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	buf := make([]byte, 16)
	if n, err := sockRead(fds[0], buf); n > 0 || err != unix.EAGAIN {
		t.Fatalf("read with nothing sent: %d, %v; want EAGAIN", n, err)
	}
	if n, err := sockWrite(fds[1], []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := sockRead(fds[0], buf); n != 5 || err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read: %d, %v, %q", n, err, buf[:max(n, 0)])
	}
	unix.Close(fds[1])
	if n, err := sockRead(fds[0], buf); n != 0 || err != nil {
		t.Fatalf("read after the peer closed: %d, %v; want 0, nil", n, err)
	}
	if n, err := sockWrite(fds[0], []byte("x")); n > 0 || err != unix.EPIPE {
		t.Fatalf("write to a closed peer: %d, %v; want EPIPE", n, err)
	}
	if n, err := sockRead(-1, buf); n > 0 || err != unix.EBADF {
		t.Fatalf("read of a bad descriptor: %d, %v; want EBADF", n, err)
	}
}
