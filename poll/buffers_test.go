package poll

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { checkBuffers = true }

func TestBuffersClasses(t *testing.T) {
	var b Buffers
	for _, c := range []struct{ n, cap int }{
		{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {4 << 10, 4 << 10}, {4<<10 + 4, 8 << 10},
		{1 << 20, 1 << 20}, {1<<20 + 10, 2 << 20}, {4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1},
	} {
		if got := b.Get(c.n); len(got) != 0 || cap(got) != c.cap {
			t.Errorf("Get(%d): len %d cap %d, want 0 and %d", c.n, len(got), cap(got), c.cap)
		}
	}
}

func TestBuffersReuse(t *testing.T) {
	var b Buffers
	x := b.Get(5000)
	b.Put(append(x, 1, 2, 3))
	if b.Kept() != 8<<10 {
		t.Fatalf("kept %d", b.Kept())
	}
	y := b.Get(8 << 10)
	if unsafe.SliceData(y[:1]) != unsafe.SliceData(x[:1]) || len(y) != 0 {
		t.Fatal("a freed buffer of the class was not reused, or came back non-empty")
	}
	if b.Kept() != 0 {
		t.Fatalf("kept %d after reuse", b.Kept())
	}
	// Foreign capacities and oversize buffers are not kept.
	b.Put(make([]byte, 0, 5000))
	b.Put(make([]byte, 0, 8<<20))
	b.Put(nil)
	if b.Kept() != 0 {
		t.Fatalf("kept %d foreign bytes", b.Kept())
	}
}

// TestBuffersBounded: a burst that returns many buffers leaves at most
// MaxKeptBytes in all, and each class within its count.
func TestBuffersBounded(t *testing.T) {
	var b Buffers
	var held [][]byte
	for size := 512; size <= 4<<20; size *= 2 {
		for i := 0; i < 600; i++ {
			held = append(held, b.Get(size))
		}
	}
	for _, h := range held {
		b.Put(h)
	}
	if b.Kept() > MaxKeptBytes {
		t.Fatalf("kept %d bytes, bound %d", b.Kept(), MaxKeptBytes)
	}
	total := 0
	for c := range b.free {
		size := 1 << (c + minClassShift)
		if n := len(b.free[c]); n > max(minKeep, classKeepBytes/size) {
			t.Errorf("class %d KiB keeps %d buffers", size>>10, n)
		}
		total += len(b.free[c]) * size
	}
	if total != b.Kept() {
		t.Fatalf("accounting: %d held, Kept says %d", total, b.Kept())
	}
}

// TestBuffersNoAliasing: a buffer is never lent twice while in use, and
// putting one twice is caught.
func TestBuffersNoAliasing(t *testing.T) {
	var b Buffers
	inUse := map[*byte]bool{}
	var held [][]byte
	for round := 0; round < 50; round++ {
		for i := 0; i < 20; i++ {
			x := b.Get((i%7 + 1) * 3000)
			p := unsafe.SliceData(x[:1])
			if inUse[p] {
				t.Fatalf("round %d: a buffer in use was lent again", round)
			}
			inUse[p] = true
			held = append(held, x)
		}
		for i := 0; i < len(held); i += 2 { // give back half
			delete(inUse, unsafe.SliceData(held[i][:1]))
			b.Put(held[i])
		}
		var keep [][]byte
		for i := 1; i < len(held); i += 2 {
			keep = append(keep, held[i])
		}
		held = keep
	}
	x := b.Get(100)
	b.Put(x)
	defer func() {
		if recover() == nil {
			t.Fatal("a double Put went unnoticed")
		}
	}()
	b.Put(x)
}

// TestConnsDoNotShareBuffers: many connections writing different bytes
// in the same rounds, their queues growing and emptying through the
// recycler, each receive exactly their own stream.
func TestConnsDoNotShareBuffers(t *testing.T) { eachBackend(t, testConnsDoNotShareBuffers) }

func testConnsDoNotShareBuffers(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller})
	addr, conns := tl.listen(newRecorder)
	const n = 8
	var clients []net.Conn
	var server []*Conn
	for i := 0; i < n; i++ {
		clients = append(clients, dial(t, addr))
		server = append(server, (<-conns).c)
	}
	sizes := []int{10, 4090, 5000, 70 << 10, 100, 300 << 10, 1}
	want := make([][]byte, n)
	tl.do(func() {
		for _, s := range sizes {
			for i, c := range server {
				p := bytes.Repeat([]byte{byte('a' + i)}, s)
				want[i] = append(want[i], p...)
				c.Write(p)
			}
		}
	})
	for i, c := range clients {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(want[i]))
		for k := 0; k < len(got); {
			m, err := c.Read(got[k:])
			if err != nil {
				t.Fatalf("conn %d: read %d of %d: %v", i, k, len(got), err)
			}
			k += m
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("conn %d received bytes that are not its own", i)
		}
	}
	tl.do(func() {
		for i, c := range server {
			if c.out != nil {
				t.Errorf("conn %d still holds an output buffer after its queue emptied", i)
			}
		}
	})
}

// TestWrite2DirectKeepsOrder: a large Write2 that finds the queue empty
// is written at once, what the kernel leaves is queued, and writes before
// and after it in the same round keep their order, also when the socket
// buffer is too small to take it all.
func TestWrite2DirectKeepsOrder(t *testing.T) { eachBackend(t, testWrite2DirectKeepsOrder) }

func testWrite2DirectKeepsOrder(t *testing.T, poller string) {
	for _, sndbuf := range []int{0, 16 << 10} {
		tl := startLoop(t, Config{Poller: poller})
		addr, conns := tl.listen(newRecorder)
		client := dial(t, addr)
		conn := (<-conns).c
		big := string(bytes.Repeat([]byte("0123456789abcdef"), (DirectWrite+5000)/16))
		var want []byte
		tl.do(func() {
			if sndbuf > 0 {
				unix.SetsockoptInt(conn.FD(), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf)
			}
			conn.Write2([]byte("H1"), big) // direct: the queue is empty
			conn.Write([]byte("small"))
			conn.Write2([]byte("H2"), big) // queued behind "small"
			want = append(append(append(append(append(want, "H1"...), big...), "small"...), "H2"...), big...)
		})
		client.SetDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("sndbuf %d: bytes out of order", sndbuf)
		}
	}
}

func TestBuffersSpare(t *testing.T) {
	var b Buffers
	if b.Spare(1000) != nil || b.Spare(1<<30) != nil {
		t.Fatal("Spare lent a buffer it did not hold")
	}
	b.Put(b.Get(64 << 10))
	if x := b.Spare(40 << 10); cap(x) != 64<<10 || b.Kept() != 0 {
		t.Fatalf("Spare: cap %d, kept %d", cap(x), b.Kept())
	}
}

// TestBuffersTrim: kept buffers survive a Trim while in use and are all
// dropped by the first Trim after a quiet period.
func TestBuffersTrim(t *testing.T) {
	var b Buffers
	kept := 0
	b.onKeep = func() { kept++ }
	b.Put(b.Get(100))
	b.Put(b.Get(5000))
	if kept != 1 || b.Kept() != 512+8<<10 {
		t.Fatalf("onKeep ran %d times, kept %d bytes", kept, b.Kept())
	}
	if b.Trim() || b.Kept() == 0 {
		t.Fatal("Trim dropped buffers that were in use since the last Trim")
	}
	if !b.Trim() || b.Kept() != 0 {
		t.Fatalf("Trim after a quiet period kept %d bytes", b.Kept())
	}
	if b.Trim() {
		t.Fatal("Trim of an empty pool reported a drop")
	}
	b.Put(b.Get(100))
	if kept != 2 {
		t.Fatalf("onKeep ran %d times after the pool emptied, want 2", kept)
	}
}

// TestLoopDropsIdleBuffers: an idle loop gives its kept buffers back and
// says it went quiet, once.
func TestLoopDropsIdleBuffers(t *testing.T) {
	var quiet atomic.Int32
	tl := startLoop(t, Config{Quiet: func() { quiet.Add(1) }})
	tl.do(func() { tl.bufs.Put(tl.bufs.Get(100)) })
	kept := func() (n int) { tl.do(func() { n = tl.bufs.Kept() }); return }
	if kept() == 0 {
		t.Fatal("nothing kept")
	}
	deadline := time.Now().Add(3*IdleTrim + 5*time.Second)
	for kept() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d bytes kept after %s idle", kept(), 3*IdleTrim)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(IdleTrim + 100*time.Millisecond)
	if n := quiet.Load(); n != 1 {
		t.Fatalf("Quiet ran %d times, want once", n)
	}
}
