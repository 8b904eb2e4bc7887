package poll

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// uringModeNames name uringSetupModes, in its order.
var uringModeNames = []string{"defer-taskrun", "coop-taskrun", "submit-all", "plain"}

// eachUringMode runs fn once per setup mode this kernel takes, the
// modes before it taken away so the ring is made in that one.
func eachUringMode(t *testing.T, fn func(t *testing.T, mode uint32)) {
	if err := ProbeUring(); err != nil {
		t.Skip(err)
	}
	all := uringSetupModes
	t.Cleanup(func() { uringSetupModes = all })
	for i, name := range uringModeNames {
		t.Run(name, func(t *testing.T) {
			uringSetupModes = all[i:]
			u, err := newUring(8)
			if err != nil {
				t.Fatal(err)
			}
			got := u.mode
			u.Close()
			if got != all[i] {
				t.Skipf("this kernel makes the ring in mode %#x, not %#x", got, all[i])
			}
			fn(t, all[i])
		})
	}
}

// TestUringModesEcho: in every setup mode, echoes go through a loop run
// by Run, and through one driven by Round(0) alone: a round that does
// not block must still enter for completion work the kernel left
// waiting (COOP_TASKRUN, DEFER_TASKRUN), or it never sees its input.
func TestUringModesEcho(t *testing.T) {
	eachUringMode(t, func(t *testing.T, mode uint32) {
		tl := uringLoop(t, 16, 64, 4<<10, Config{})
		addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
		echoAll(t, addr, conns, 8, 64<<10)

		runtime.LockOSThread() // Round without Run: one thread
		defer runtime.UnlockOSThread()
		l, err := NewLoop(Config{Poller: "io_uring"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if got := l.poller.(*uring).mode; got != mode {
			t.Fatalf("ring made in mode %#x, want %#x", got, mode)
		}
		fds, err := socketPair()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[1])
		h := &echoHandler{}
		if h.c, err = l.NewConn(fds[0], h); err != nil {
			t.Fatal(err)
		}
		msg, back := []byte("round zero"), make([]byte, 64)
		for i := range 100 {
			unix.Write(fds[1], msg)
			got := 0
			for spins := 0; got < len(msg); spins++ {
				if spins == 100000 {
					t.Fatalf("message %d: %d of %d bytes back after %d rounds of Round(0)", i, got, len(msg), spins)
				}
				if err := l.Round(0); err != nil {
					t.Fatal(err)
				}
				n, _ := unix.Read(fds[1], back[got:])
				got += max(n, 0)
			}
			if string(back[:got]) != string(msg) {
				t.Fatalf("message %d came back as %q", i, back[:got])
			}
		}
	})
}

// TestUringSecondThread: a ring made SINGLE_ISSUER belongs to the first
// thread that enters it; another thread's round fails with an error
// that says so, instead of a bare "file exists".
func TestUringSecondThread(t *testing.T) {
	eachUringMode(t, func(t *testing.T, mode uint32) {
		if mode&uringSetupSingleIssuer == 0 {
			t.Skip("any thread may enter this ring")
		}
		l, err := NewLoop(Config{Poller: "io_uring"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		round := func() error {
			ch := make(chan error)
			go func() {
				runtime.LockOSThread() // the thread ends with the goroutine: never reused
				ch <- l.Round(1)       // a wait: it enters the ring
			}()
			return <-ch
		}
		if err := round(); err != nil {
			t.Fatalf("first thread: %v", err)
		}
		err = round()
		if err == nil || !strings.Contains(err.Error(), "second thread") {
			t.Fatalf("second thread: %v, want an error naming a second thread", err)
		}
	})
}

// TestUringDropPagesKeepsReceivedData: the idle trim (dropPages) must not
// give back the page of a buffer the kernel copied a receive into that
// the loop has not reaped yet. The data arrives while the loop sleeps
// inside a task of its own; where the kernel runs the receive on the way
// back (an interrupt, or any system call) the trim must see it and keep
// the pages; under DEFER_TASKRUN the receive waits for the loop's next
// enter, so the pages may go and the receive then takes a fresh buffer.
// Either way the echo comes back intact (it came back as zeros when the
// trim dropped a filled buffer).
func TestUringDropPagesKeepsReceivedData(t *testing.T) {
	eachUringMode(t, func(t *testing.T, mode uint32) {
		tl := uringLoop(t, 16, 16, 4<<10, Config{})
		addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
		c := dial(t, addr)
		<-conns
		msg := []byte("kept through the trim")
		var dropped bool
		tl.do(func() {
			c.Write(msg)
			time.Sleep(50 * time.Millisecond) // a futex sleep: the way back runs non-deferred receives
			dropped = tl.poller.(*uring).dropPages()
		})
		deferred := mode&uringSetupDeferTaskrun != 0
		if dropped != deferred {
			t.Fatalf("pages dropped %v with the receive deferred %v", dropped, deferred)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo after the trim: %q, %v; want %q", got, err, msg)
		}
		// Nothing waiting: the pages go, and receiving goes on.
		tl.do(func() { dropped = tl.poller.(*uring).dropPages() })
		if !dropped {
			t.Fatal("pages kept with nothing waiting")
		}
		c.Write(msg)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo after the second trim: %q, %v; want %q", got, err, msg)
		}
	})
}
