package poll

import (
	"bytes"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestQueueStaysBounded: a stream whose queue never empties (small kernel
// buffers, a reader slower than the writer, the writer topping the queue
// up on every Drain) must not keep the bytes the kernel already took: the
// output buffer stays a small multiple of the high-water mark however
// much goes through. (It used to grow by every byte sent since the queue
// was last empty: 6 MiB here.)
func TestQueueStaysBounded(t *testing.T) { eachBackend(t, testQueueStaysBounded) }

func testQueueStaysBounded(t *testing.T, poller string) {
	if poller == "poll" {
		t.Skip("writes as epoll does; the slow reader makes this test long")
	}
	const high, low, chunk, total = 256 << 10, 64 << 10, 48 << 10, 16 << 20
	tl := startLoop(t, Config{Poller: poller, HighWater: high, LowWater: low, MaxQueued: 16 << 20})
	addr, conns := tl.listen(newRecorder)
	c := dial(t, addr)
	conn := (<-conns).c
	written, maxCap := 0, 0
	fill := func() {
		for written < total {
			ok := conn.Write(bytes.Repeat([]byte{byte(written >> 16)}, chunk))
			written += chunk
			maxCap = max(maxCap, cap(conn.out))
			if !ok {
				return
			}
		}
	}
	tl.do(func() {
		unix.SetsockoptInt(conn.FD(), unix.SOL_SOCKET, unix.SO_SNDBUF, 32<<10)
		conn.SetHandler(&drainFill{fill})
		fill()
	})
	c.SetDeadline(time.Now().Add(60 * time.Second))
	n, err := io.CopyBuffer(io.Discard, slowReader{io.LimitReader(c, total)}, make([]byte, 16<<10))
	if err != nil || n != total {
		t.Fatalf("read %d of %d bytes: %v", n, total, err)
	}
	var got int
	tl.do(func() { got = maxCap })
	if got > 4*high {
		t.Fatalf("the output buffer grew to %d bytes moving %d MiB with a %d KiB high-water mark", got, total>>20, high>>10)
	}
	t.Logf("largest output buffer: %d KiB for %d MiB moved", got>>10, total>>20)
}

// slowReader pauses before each read, so the writer stays ahead.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Microsecond)
	return s.r.Read(p)
}

// drainFill is a Handler that tops the queue up on every Drain.
type drainFill struct{ fill func() }

func (d *drainFill) Data([]byte)  {}
func (d *drainFill) Drain()       { d.fill() }
func (d *drainFill) Closed(error) {}
