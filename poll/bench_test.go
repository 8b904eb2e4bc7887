package poll

import (
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

type echoHandler struct{ c *Conn }

func (h *echoHandler) Data(p []byte) { h.c.Write(p) }
func (h *echoHandler) Drain()        {}
func (h *echoHandler) Closed(error)  {}

// BenchmarkRoundEcho is one loop round in which N connections are readable
// and each echoes a 32-byte message: the loop's read, dispatch and write
// path. The peer's write and read of each message are included.
func BenchmarkRoundEcho(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run("conns="+strconv.Itoa(n), func(b *testing.B) {
			for _, backend := range backends {
				b.Run(backend, func(b *testing.B) { benchRound(b, backend, n) })
			}
		})
	}
}

func benchRound(b *testing.B, backend string, n int) {
	runtime.LockOSThread() // Round without Run: one thread (io_uring)
	defer runtime.UnlockOSThread()
	l, err := NewLoop(Config{Poller: backend})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	peers := make([]int, n)
	for i := range peers {
		fds, err := socketPair()
		if err != nil {
			b.Skipf("socketpair: %v (raise ulimit -n)", err)
		}
		h := &echoHandler{}
		if h.c, err = l.NewConn(fds[0], h); err != nil {
			b.Fatal(err)
		}
		peers[i] = fds[1]
		defer unix.Close(fds[1])
	}
	msg := make([]byte, 32)
	back := make([]byte, 64)
	b.SetBytes(int64(32 * n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range peers {
			unix.Write(p, msg)
		}
		for served := l.Stats().Reads; l.Stats().Reads-served < int64(n); {
			if err := l.Round(0); err != nil {
				b.Fatal(err)
			}
		}
		for _, p := range peers {
			if k, _ := unix.Read(p, back); k != 32 {
				b.Fatalf("echo read %d bytes", k)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
}

// socketPair is a connected pair of non-blocking, close-on-exec Unix
// sockets, made portably (no SOCK_NONBLOCK off Linux).
func socketPair() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return fds, err
		}
	}
	return fds, nil
}
