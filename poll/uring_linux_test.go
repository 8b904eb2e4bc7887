package poll

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// The backend-neutral tests run on io_uring too where this kernel lets the
// process use it.
func init() {
	if ProbeUring() == nil {
		backends = append(backends, "io_uring")
	}
}

// uringLoop starts an io_uring loop doing connections' I/O itself, with
// a ring of provided buffers of size bytes, from least to most posted.
func uringLoop(t *testing.T, least, most, size int, cfg Config) *testLoop {
	t.Helper()
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	oldMin, oldMax, oldSize := uringBufMin, uringBufMax, uringBufSize
	uringBufMin, uringBufMax, uringBufSize = least, most, size
	t.Cleanup(func() { uringBufMin, uringBufMax, uringBufSize = oldMin, oldMax, oldSize })
	cfg.Poller = "io_uring"
	tl := startLoop(t, cfg)
	if tl.cio == nil {
		t.Fatal("io_uring loop without completion I/O: the kernel lacks multishot receive or buffer rings")
	}
	return tl
}

// TestUringBufferRingExhaustion: far more connections sending at once
// than provided buffers. Receives that find the ring empty end and start
// again once buffers come back: every byte arrives, in order, and the
// loop does not spin once the traffic stops.
func TestUringBufferRingExhaustion(t *testing.T) {
	tl := uringLoop(t, 4, 4, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	echoAll(t, addr, conns, 32, 256<<10)
	var before, after Stats
	tl.do(func() { before = tl.Stats() })
	time.Sleep(300 * time.Millisecond)
	tl.do(func() {
		after = tl.Stats()
		for _, o := range tl.owners {
			if c, ok := o.(*Conn); ok && (c.heldIn != nil || c.sending != 0) {
				t.Errorf("idle connection %d holds input (%v), %d bytes in flight", c.fd, c.heldIn != nil, c.sending)
			}
		}
	})
	if r := after.Rounds - before.Rounds; r > 50 {
		t.Fatalf("%d loop rounds in 300ms of silence: spinning", r)
	}
}

// echoAll connects clients connections, then has them all send size
// bytes at once and checks that every byte comes back, in order.
func echoAll(t *testing.T, addr string, conns chan *recorder, clients, size int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		c := dial(t, addr)
		<-conns
		data := bytes.Repeat([]byte{byte('a' + i%26), byte(i)}, size/2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if _, err := c.Write(data); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("client %d: echo differs", i)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// ringState is the provided-buffer ring's target, growth count, buffers
// ever posted, and buffers whose pages may be resident.
func ringState(tl *testLoop) (target int, grew int64, made, warm int) {
	tl.do(func() {
		b := tl.poller.(*uring).bufs
		target, grew, made = b.target, b.grew, b.made
		for _, w := range b.warm {
			if w {
				warm++
			}
		}
	})
	return
}

// TestUringRingGrowsUnderLoad: a ring that starts with 8 buffers and may
// hold 512; 96 connections all sending at once run it dry, so it must
// grow (a fixed ring of 8 would only take turns), and every byte still
// comes back in order. Once quiet, the target falls back to the least.
func TestUringRingGrowsUnderLoad(t *testing.T) {
	tl := uringLoop(t, 8, 512, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	if target, grew, made, _ := ringState(tl); target != 8 || grew != 0 || made != 8 {
		t.Fatalf("before any load: target %d, grew %d times, %d buffers made; want 8, 0, 8", target, grew, made)
	}
	if r := uringRing(t, tl); r != (UringRing{Target: 8, Posted: 8, Peak: 8, Max: 512}) {
		t.Fatalf("UringRing before any load %+v", r)
	}
	echoAll(t, addr, conns, 96, 128<<10)
	target, grew, made, _ := ringState(tl)
	t.Logf("after the load: target %d, grew %d times, %d buffers made", target, grew, made)
	if grew == 0 || made <= 8 {
		t.Fatalf("ring did not grow under 96 concurrent senders: target %d, grew %d times, %d buffers made", target, grew, made)
	}
	if made > 512 {
		t.Fatalf("%d buffers made, above the most of 512", made)
	}
	grown := uringRing(t, tl)
	if grown.Grew != grew || grown.Peak <= 8 || grown.Peak > 512 || grown.Max != 512 || grown.Target > grown.Peak {
		t.Fatalf("UringRing after the load %+v; want Grew %d, Peak in 9..512, Max 512, Target at most Peak", grown, grew)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if target, _, _, warm := ringState(tl); target == 8 && warm == 0 {
			break
		}
		if time.Now().After(deadline) {
			target, _, _, warm := ringState(tl)
			t.Fatalf("5s after the load: target %d, %d buffers resident; want 8, 0", target, warm)
		}
	}
	// Back to the least: the peak stays, the fall is counted.
	if r := uringRing(t, tl); r.Target != 8 || r.Peak != grown.Peak || r.Grew != grew || r.Shrank == 0 {
		t.Fatalf("UringRing once quiet %+v; want Target 8, Peak %d, Grew %d, Shrank above 0", r, grown.Peak, grew)
	}
}

// uringRing is Loop.UringRing, read on the loop; the test fails unless
// it reports a ring.
func uringRing(t *testing.T, tl *testLoop) UringRing {
	t.Helper()
	var r UringRing
	var ok bool
	tl.do(func() { r, ok = tl.UringRing() })
	if !ok {
		t.Fatal("UringRing: no ring on an io_uring loop doing completion I/O")
	}
	return r
}

// TestUringBulkStreamStaysHot: after the ring grew, one connection
// streams 8 MiB (2,048 buffers' worth). A first-in-first-out ring posting
// all of its 1,024 buffers would have the stream fill (and touch) every
// one; refilled from the most recently used, the stream comes back to the
// same few, so the buffers it touches stay far below the most.
func TestUringBulkStreamStaysHot(t *testing.T) {
	const most = 1024
	tl := uringLoop(t, 8, most, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	echoAll(t, addr, conns, 64, 64<<10)
	_, grew, grown, _ := ringState(tl)
	if grew == 0 {
		t.Fatal("ring did not grow under 64 concurrent senders")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, _, _, warm := ringState(tl); warm == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("buffer pages kept 5s after the load")
		}
	}
	echoAll(t, addr, conns, 1, 8<<20)
	target, _, made, warm := ringState(tl)
	t.Logf("grown to %d buffers made; after the stream: target %d, %d made, %d touched", grown, target, made, warm)
	if bound := grown + most/4; warm > bound {
		t.Fatalf("one stream touched %d buffers; want at most %d (those posted when it began, plus a quarter of the most)", warm, bound)
	}
}

// TestUringRingShrinksUnderLightLoad: after a burst grew the ring, one
// connection keeps echoing small messages, so the loop never goes idle;
// the target still falls back to the least, window by window, and the
// buffers that fell cold give their pages back while the echo stays
// byte-exact.
func TestUringRingShrinksUnderLightLoad(t *testing.T) {
	tl := uringLoop(t, 8, 512, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	echoAll(t, addr, conns, 96, 128<<10)
	grown, _, made, _ := ringState(tl)
	if grown <= 16 {
		t.Fatalf("ring grew only to %d under 96 concurrent senders", grown)
	}
	c := dial(t, addr)
	<-conns
	got := make([]byte, 64)
	for i, deadline := 0, time.Now().Add(10*time.Second); ; i++ {
		msg := fmt.Sprintf("%064d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d: got %q, %v", i, got, err)
		}
		target, _, _, warm := ringState(tl)
		if target == 8 && warm <= 32 {
			t.Logf("grown to %d (%d made), back to %d with %d resident after %d messages", grown, made, target, warm, i+1)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s of one connection's echoes after growing to %d: target %d, %d buffers resident; want 8, at most 32", grown, target, warm)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUringIdleDropsBufferPages: once receives stop for IdleTrim the
// provided buffers' pages go back to the system, and the next receive
// still works (into fresh zeroed pages).
func TestUringIdleDropsBufferPages(t *testing.T) {
	tl := uringLoop(t, 16, 16, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	c := dial(t, addr)
	<-conns
	echo := func(msg string) {
		t.Helper()
		c.Write([]byte(msg))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q: got %q, %v", msg, got, err)
		}
	}
	touched := func() (b bool) {
		tl.do(func() { b = tl.poller.(*uring).bufs.touched })
		return
	}
	echo("before")
	if !touched() {
		t.Fatal("a receive left the buffers untouched")
	}
	for deadline := time.Now().Add(5 * time.Second); touched(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("buffer pages kept 5s after the last receive")
		}
	}
	echo("after the trim")
}

// TestAutoWantsCompletionIO: auto takes io_uring only with its completion
// I/O; without it (a kernel before 6.3; here the switch that turns it off)
// auto falls back to epoll saying why, and io_uring asked for by name
// still runs, reporting readiness.
func TestAutoWantsCompletionIO(t *testing.T) {
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	u, err := newUring(8)
	if err != nil {
		t.Fatal(err)
	}
	want := "epoll"
	if u.features&uringFeatRegRegRing != 0 {
		want = "io_uring"
	}
	u.Close()
	if got, _, err := ResolvePoller("auto"); got != want || err != nil {
		t.Fatalf("auto: %q (%v), want %q", got, err, want)
	}
	uringStreams = false
	t.Cleanup(func() { uringStreams = true })
	got, fallback, err := ResolvePoller("auto")
	if got != "epoll" || err != nil || !errors.Is(fallback, ErrUringUnavailable) || !strings.Contains(fallback.Error(), "Linux 6.3") {
		t.Fatalf("auto without completion I/O: %q, fallback %v, err %v; want epoll and why", got, fallback, err)
	}
	if got, _, err := ResolvePoller("io_uring"); got != "io_uring" || err != nil {
		t.Fatalf("io_uring without completion I/O: %q, %v", got, err)
	}
}

// TestUringReadinessOnly runs backend-neutral tests on io_uring as a
// kernel without multishot receive gets it: readiness from polls, and
// read(2)/write(2) as with epoll.
func TestUringReadinessOnly(t *testing.T) {
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	uringStreams = false
	t.Cleanup(func() { uringStreams = true })
	l, err := NewLoop(Config{Poller: "io_uring"})
	if err != nil {
		t.Fatal(err)
	}
	streaming := l.cio != nil
	_, ring := l.UringRing()
	l.Close()
	if streaming || ring {
		t.Fatalf("completion I/O %v, buffer ring %v, although turned off", streaming, ring)
	}
	if l, err = NewLoop(Config{Poller: "epoll"}); err != nil {
		t.Fatal(err)
	}
	_, ring = l.UringRing()
	l.Close()
	if ring {
		t.Fatal("an epoll loop reports an io_uring buffer ring")
	}
	for name, fn := range map[string]func(*testing.T, string){
		"SlowConsumerDropped": testSlowConsumerDropped, "PauseResume": testPauseResume,
		"PeerResetMidWrite": testPeerResetMidWrite, "PausedPeerReset": testPausedPeerReset,
		"ManyCloseAtOnce": testManyCloseAtOnce, "DataNoLargerThanReadBuffer": testDataNoLargerThanReadBuffer,
		"PauseBeforeFirstRound": testPauseBeforeFirstRound, "ConnectCloseDeliversQueue": testConnectCloseDeliversQueue,
		"PostFromManyGoroutines": testPostFromManyGoroutines, "AcceptPausesOnEMFILE": testAcceptPausesOnEMFILE,
	} {
		t.Run(name, func(t *testing.T) { fn(t, "io_uring") })
	}
}

// TestUringBuffersConfig: Config.UringBuffers sizes the ring (the least
// target follows a smaller most) and a count the kernel's ring cannot
// take stops NewLoop.
func TestUringBuffersConfig(t *testing.T) {
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	for _, n := range []int{-1, 8, 1000, 65536} {
		if l, err := NewLoop(Config{Poller: "io_uring", UringBuffers: n}); err == nil {
			l.Close()
			t.Errorf("UringBuffers %d accepted", n)
		}
	}
	tl := startLoop(t, Config{Poller: "io_uring", UringBuffers: 16})
	if tl.cio == nil {
		t.Skip("kernel without multishot receive")
	}
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	echoAll(t, addr, conns, 8, 64<<10)
	var target, most int
	tl.do(func() { b := tl.poller.(*uring).bufs; target, most = b.target, b.max })
	if most != 16 || target > 16 {
		t.Fatalf("UringBuffers 16: most %d, target %d", most, target)
	}
}
