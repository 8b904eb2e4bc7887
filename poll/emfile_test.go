package poll

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAcceptPausesOnEMFILE fills the descriptor table: the loop must not
// spin, must log once, and must accept the waiting connections once
// descriptors are free again.
func TestAcceptPausesOnEMFILE(t *testing.T) { eachBackend(t, testAcceptPausesOnEMFILE) }

func testAcceptPausesOnEMFILE(t *testing.T, poller string) {
	var logs lockedBuffer
	tl := startLoop(t, Config{Poller: poller, AcceptPause: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var mu sync.Mutex
	var accepted []*recorder
	var addr string
	tl.do(func() {
		fd, host, port, err := SocketBind("127.0.0.1", 0, SocketBindOptions{})
		if err != nil {
			t.Fatal(err)
		}
		addr = JoinHostPort(host, port)
		tl.Listen(fd, host, port, func(fd int, _ unix.Sockaddr) {
			r := newRecorder()
			r.c, _ = tl.NewConn(fd, r)
			mu.Lock()
			accepted = append(accepted, r)
			mu.Unlock()
		})
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }

	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Hold the loop while dialing: the kernel completes the handshakes
	// and the connections wait in the backlog.
	hold, held := make(chan struct{}), make(chan struct{})
	var release sync.Once
	releaseLoop := func() { release.Do(func() { close(hold) }) }
	defer releaseLoop() // a failure below must not leave the loop blocked
	tl.Post(func() { close(held); <-hold })
	<-held
	const clients = 20
	var conns []net.Conn
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Room for a few accepts only: descriptors are allocated lowest first.
	ents, _ := os.ReadDir("/proc/self/fd")
	highest := 0 // the limit is on descriptor numbers, not on the count
	for _, e := range ents {
		var n int
		if _, err := fmt.Sscan(e.Name(), &n); err == nil && n > highest {
			highest = n
		}
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		}
	}
	defer restore()
	tight := lim
	tight.Cur = uint64(highest + 1)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	// Fill every hole below the limit, then make room for exactly four:
	// free fillers first, and raise the limit for what the holes lacked
	// (descriptors above the highest one in use are free).
	const room = 4
	var fillers []int
	for i := 0; i <= highest; i++ {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fillers = append(fillers, fd)
	}
	freed := min(room, len(fillers))
	for _, fd := range fillers[:freed] {
		unix.Close(fd)
	}
	defer func() {
		for _, fd := range fillers[freed:] {
			unix.Close(fd)
		}
	}()
	if freed < room {
		tight.Cur += uint64(room - freed)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
			t.Fatal(err)
		}
	}
	var roundsBefore, roundsAfter int64
	releaseLoop()
	tl.do(func() { roundsBefore = tl.Stats().Rounds })
	time.Sleep(300 * time.Millisecond)
	tl.do(func() { roundsAfter = tl.Stats().Rounds })
	got := count()
	if got == 0 || got >= clients {
		t.Fatalf("accepted %d of %d under a tight limit; want some but not all", got, clients)
	}
	// Paused accept: a few rounds per pause period, not a spin.
	if r := roundsAfter - roundsBefore; r > 100 {
		t.Fatalf("%d loop rounds in 300ms while out of descriptors: spinning", r)
	}
	if n := strings.Count(logs.String(), "accept paused"); n != 1 {
		t.Fatalf("logged the shortage %d times, want once; logs:\n%s", n, logs.String())
	}
	// Accepted connections keep being served while accept is paused.
	tl.do(func() {
		for _, r := range accepted {
			r.c.WriteString("still here")
		}
	})
	var wg sync.WaitGroup
	var served int
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			buf := make([]byte, 10)
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "still here" {
				mu.Lock()
				served++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	if served != got {
		t.Fatalf("%d clients served while accept was paused, want the %d accepted", served, got)
	}
	restore()
	deadline := time.Now().Add(5 * time.Second)
	for count() < clients {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d accepted after descriptors were freed", count(), clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
