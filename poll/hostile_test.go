package poll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPeerResetMidWrite: a peer that stops reading with megabytes queued
// for it, then resets. The connection ends with the reset (or the broken
// pipe it causes), its queue is freed, and the loop serves on.
func TestPeerResetMidWrite(t *testing.T) { eachBackend(t, testPeerResetMidWrite) }

func testPeerResetMidWrite(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller, HighWater: 16 << 20, MaxQueued: 32 << 20})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	c := dial(t, addr)
	r := <-conns
	chunk := bytes.Repeat([]byte("z"), 1<<20)
	tl.do(func() {
		for i := 0; i < 8; i++ {
			r.c.Write(chunk)
		}
	})
	// Some of it reaches the peer's buffers: the send is under way.
	c.Read(make([]byte, 4096))
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("reset peer not noticed")
	}
	if !errors.Is(r.cause, unix.ECONNRESET) && !errors.Is(r.cause, unix.EPIPE) {
		t.Fatalf("ended with %v, want ECONNRESET or EPIPE", r.cause)
	}
	tl.do(func() {
		if r.c.FD() != -1 || r.c.Queued() != 0 || tl.Conns() != 0 {
			t.Errorf("reset conn keeps fd %d and %d queued bytes; %d conns open", r.c.FD(), r.c.Queued(), tl.Conns())
		}
	})
	c2 := dial(t, addr)
	<-conns
	c2.Write([]byte("still serving"))
	got := make([]byte, len("still serving"))
	if _, err := c2.Read(got); err != nil || string(got) != "still serving" {
		t.Fatalf("after the reset: got %q, %v", got, err)
	}
}

// TestManyCloseAtOnce: every peer closes in the same instant; each
// connection ends once, with the peer's close, and none stays open.
func TestManyCloseAtOnce(t *testing.T) { eachBackend(t, testManyCloseAtOnce) }

func testManyCloseAtOnce(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	const n = 200
	clients := make([]net.Conn, n)
	recs := make([]*recorder, n)
	for i := range clients {
		clients[i] = dial(t, addr)
		recs[i] = <-conns
		clients[i].Write([]byte("x"))
		if _, err := clients[i].Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	tl.do(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	for i, r := range recs {
		select {
		case <-r.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d not closed", i)
		}
		if r.cause != ErrPeerClosed {
			t.Fatalf("connection %d ended with %v, want ErrPeerClosed", i, r.cause)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var open int
		tl.do(func() { open = tl.Conns() })
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after their peers closed", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDataNoLargerThanReadBuffer: however the backend receives, the
// handler gets input in pieces no larger than Config.ReadBuffer, in order.
func TestDataNoLargerThanReadBuffer(t *testing.T) { eachBackend(t, testDataNoLargerThanReadBuffer) }

func testDataNoLargerThanReadBuffer(t *testing.T, poller string) {
	const size, total = 1000, 256 << 10
	var largest atomic.Int64
	tl := startLoop(t, Config{Poller: poller, ReadBuffer: size})
	addr, conns := tl.listen(func() *recorder {
		r := newRecorder()
		r.onData = func(c *Conn, p []byte) {
			if int64(len(p)) > largest.Load() {
				largest.Store(int64(len(p)))
			}
			c.Write(p)
		}
		return r
	})
	c := dial(t, addr)
	<-conns
	data := make([]byte, total)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go c.Write(data)
	got := make([]byte, total)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo of %d bytes: %v, equal %v", total, err, bytes.Equal(got, data))
	}
	if l := largest.Load(); l > size || l == 0 {
		t.Fatalf("largest Data call %d bytes with a %d-byte read buffer", l, size)
	}
}

// TestPausedPeerReset: a paused connection reads nothing, but a peer's
// reset still ends it instead of leaving it open for ever.
func TestPausedPeerReset(t *testing.T) { eachBackend(t, testPausedPeerReset) }

func testPausedPeerReset(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller})
	addr, conns := tl.listen(newRecorder)
	c := dial(t, addr)
	r := <-conns
	tl.do(func() { r.c.Pause() })
	c.Write([]byte("unread"))
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("paused connection still open 5s after its peer reset")
	}
	if r.got.Len() != 0 {
		t.Fatalf("paused connection got %q", r.got.String())
	}
}

// pausingEcho echoes, pausing while send reports false, as tcp_echo.lua does.
type pausingEcho struct {
	c      *Conn
	closed chan error
}

func (e *pausingEcho) Data(p []byte) {
	if !e.c.Write(p) {
		e.c.Pause()
	}
}
func (e *pausingEcho) Drain()             { e.c.Resume() }
func (e *pausingEcho) Closed(cause error) { e.closed <- cause }

// TestEchoHalfCloseUnderBackpressure: a peer writes megabytes while
// reading the echo, then half-closes; the echo pauses and resumes on the
// way. Every byte comes back, then the connection's FIN. (On io_uring a
// removal of a multishot poll that was completing at that moment failed
// with EALREADY and left the poll holding the closed socket open.)
func TestEchoHalfCloseUnderBackpressure(t *testing.T) {
	eachBackend(t, testEchoHalfCloseUnderBackpressure)
}

func testEchoHalfCloseUnderBackpressure(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller, HighWater: 256 << 10, LowWater: 64 << 10})
	echoes := make(chan *pausingEcho, 1)
	var addr string
	tl.do(func() {
		fd, host, port, err := SocketBind("127.0.0.1", 0, SocketBindOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tl.Listen(fd, host, port, func(fd int, _ unix.Sockaddr) {
			e := &pausingEcho{closed: make(chan error, 1)}
			e.c, _ = tl.NewConn(fd, e)
			echoes <- e
		})
		addr = JoinHostPort(host, port)
	})
	c := dial(t, addr)
	echo := <-echoes
	defer func() {
		if t.Failed() {
			tl.do(func() {
				x := echo.c
				t.Logf("server side: state %d, paused %v, input held %v, %d bytes in flight, %d queued, peer EOF %v, FIN sent %v",
					x.state, x.paused, x.heldIn != nil, x.sending, x.Queued(), x.peerEOF, x.wrShut)
			})
		}
	}()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i*31 + i>>12)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("half-closed echo: %d of %d bytes, %v, equal %v", len(got), len(data), err, bytes.Equal(got, data))
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}
