package poll

import (
	"bytes"
	"fmt"
	"io"
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
// count provided buffers of size bytes.
func uringLoop(t *testing.T, count, size int, cfg Config) *testLoop {
	t.Helper()
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	oldCount, oldSize := uringBufCount, uringBufSize
	uringBufCount, uringBufSize = count, size
	t.Cleanup(func() { uringBufCount, uringBufSize = oldCount, oldSize })
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
	tl := uringLoop(t, 4, 4<<10, Config{})
	addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
	const clients, size = 32, 256 << 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c := dial(t, addr)
		<-conns
		data := bytes.Repeat([]byte{byte('a' + i%26), byte(i)}, size/2)
		wg.Add(2)
		go func() {
			defer wg.Done()
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
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
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

// TestUringIdleDropsBufferPages: once receives stop for IdleTrim the
// provided buffers' pages go back to the system, and the next receive
// still works (into fresh zeroed pages).
func TestUringIdleDropsBufferPages(t *testing.T) {
	tl := uringLoop(t, 16, 4<<10, Config{})
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
	l.Close()
	if streaming {
		t.Fatal("completion I/O on although turned off")
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
