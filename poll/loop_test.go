package poll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var backends = []string{"epoll", "poll"}

// eachBackend runs a backend-neutral test once per poller, as subtests.
func eachBackend(t *testing.T, fn func(t *testing.T, poller string)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

// testLoop runs a loop on its own goroutine; do runs fn on the loop and waits.
type testLoop struct {
	*Loop
	t    *testing.T
	done chan error
}

func startLoop(t *testing.T, cfg Config) *testLoop {
	t.Helper()
	l, err := NewLoop(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLoop{Loop: l, t: t, done: make(chan error, 1)}
	go func() { tl.done <- l.Run() }()
	t.Cleanup(func() {
		tl.Post(l.Stop)
		select {
		case err := <-tl.done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("loop did not stop")
		}
		l.Close()
	})
	return tl
}

func (tl *testLoop) do(fn func()) {
	ch := make(chan struct{})
	tl.Post(func() { fn(); close(ch) })
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		tl.t.Fatal("loop task timed out")
	}
}

// recorder is a Handler that can echo and that records what happened.
type recorder struct {
	mu     sync.Mutex
	c      *Conn
	echo   bool
	got    bytes.Buffer
	drains int
	cause  error
	closed chan struct{}
	onData func(c *Conn, p []byte)
}

func newRecorder() *recorder { return &recorder{closed: make(chan struct{})} }

func (r *recorder) Data(p []byte) {
	r.mu.Lock()
	r.got.Write(p)
	r.mu.Unlock()
	if r.onData != nil {
		r.onData(r.c, p)
	} else if r.echo {
		r.c.Write(p)
	}
}
func (r *recorder) Drain() { r.mu.Lock(); r.drains++; r.mu.Unlock() }
func (r *recorder) Closed(cause error) {
	r.mu.Lock()
	r.cause = cause
	r.mu.Unlock()
	close(r.closed)
}

// listen binds a loopback listener whose connections get handlers from mk.
func (tl *testLoop) listen(mk func() *recorder) (addr string, conns chan *recorder) {
	conns = make(chan *recorder, 64)
	tl.do(func() {
		fd, host, port, err := SocketBind("127.0.0.1", 0, SocketBindOptions{})
		if err != nil {
			tl.t.Fatal(err)
		}
		_, err = tl.Listen(fd, host, port, func(fd int, _ unix.Sockaddr) {
			r := mk()
			c, err := tl.NewConn(fd, r)
			if err != nil {
				tl.t.Error(err)
				return
			}
			r.c = c
			conns <- r
		})
		if err != nil {
			tl.t.Fatal(err)
		}
		addr = JoinHostPort(host, port)
	})
	return addr, conns
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestSocketBind(t *testing.T) {
	fd, host, port, err := SocketBind("", 0, SocketBindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if host != "127.0.0.1" || port == 0 {
		t.Fatalf("SocketBind default = %s:%d, want 127.0.0.1 and a real port", host, port)
	}
	// The port is taken: a second bind must say so.
	if _, _, _, err := SocketBind("127.0.0.1", port, SocketBindOptions{}); !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("second bind: %v, want EADDRINUSE", err)
	}
	if _, _, _, err := SocketBind("127.0.0.1", 70000, SocketBindOptions{}); err == nil {
		t.Fatal("port 70000 accepted")
	}
	fd6, host6, port6, err := SocketBind("[::1]", 0, SocketBindOptions{})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer unix.Close(fd6)
	if host6 != "::1" || port6 == 0 {
		t.Fatalf("IPv6 bind = %s:%d", host6, port6)
	}
}

func TestEchoAndCoalescing(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			const n = 100
			addr, conns := tl.listen(func() *recorder {
				r := newRecorder()
				// One read makes many small writes; the loop should
				// write them with one system call.
				r.onData = func(c *Conn, p []byte) {
					for i := 0; i < n; i++ {
						c.WriteString(strconv.Itoa(i%10) + ",")
					}
				}
				return r
			})
			c := dial(t, addr)
			<-conns
			var before Stats
			tl.do(func() { before = tl.Stats() })
			c.Write([]byte("go"))
			want := bytes.Repeat([]byte("0,1,2,3,4,5,6,7,8,9,"), n/10)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("got %q, %v", got, err)
			}
			var after Stats
			tl.do(func() { after = tl.Stats() })
			if w := after.Writes - before.Writes; w != 1 {
				t.Fatalf("%d writes for %d sends in one round, want 1", w, n)
			}
		})
	}
}

func TestBackpressureAndDrain(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b, HighWater: 64 << 10, LowWater: 16 << 10, MaxQueued: 64 << 20})
			addr, conns := tl.listen(newRecorder)
			c := dial(t, addr)
			r := <-conns
			chunk := bytes.Repeat([]byte("x"), 16<<10)
			total, queued := 0, 0
			var refused bool
			// Write until the queue passes the high-water mark; the peer reads
			// nothing. The queue is read in the same round as the refusal: in
			// later rounds the kernel's growing socket buffers may take it all.
			for i := 0; i < 10000 && !refused; i++ {
				tl.do(func() {
					refused = !r.c.Write(chunk)
					total += len(chunk)
					queued = r.c.Queued()
				})
			}
			if !refused {
				t.Fatal("Write never reported the high-water mark")
			}
			if queued <= 64<<10 {
				t.Fatalf("queued %d after a refused write, want above the high-water mark", queued)
			}
			if _, err := io.CopyN(io.Discard, c, int64(total)); err != nil {
				t.Fatal(err)
			}
			// The peer can read the last bytes before the loop runs drain.
			drains := func() int { r.mu.Lock(); defer r.mu.Unlock(); return r.drains }
			for deadline := time.Now().Add(5 * time.Second); drains() == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			tl.do(func() {}) // a full round more: no second drain
			if n := drains(); n != 1 {
				t.Fatalf("drain fired %d times, want 1", n)
			}
		})
	}
}

func TestSlowConsumerDropped(t *testing.T) { eachBackend(t, testSlowConsumerDropped) }

func testSlowConsumerDropped(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller, HighWater: 32 << 10, MaxQueued: 256 << 10})
	addr, conns := tl.listen(newRecorder)
	dial(t, addr)
	r := <-conns
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	for i := 0; i < 1000; i++ {
		var open bool
		tl.do(func() { r.c.Write(chunk); open = r.c.Open() })
		if !open {
			break
		}
	}
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("slow consumer not dropped")
	}
	if r.cause != ErrSlowConsumer {
		t.Fatalf("cause %v, want ErrSlowConsumer", r.cause)
	}
	tl.do(func() {
		if r.c.FD() != -1 || r.c.Queued() != 0 {
			t.Errorf("dropped conn keeps fd %d and %d queued bytes", r.c.FD(), r.c.Queued())
		}
	})
}

func TestCloseFlushesQueuedOutput(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			addr, conns := tl.listen(newRecorder)
			c := dial(t, addr)
			r := <-conns
			payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			tl.do(func() {
				r.c.Write(payload)
				r.c.Close(errors.New("done"))
			})
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("read %d bytes (%v), want all %d then EOF", len(got), err, len(payload))
			}
			<-r.closed
			if r.cause.Error() != "done" {
				t.Fatalf("cause %v", r.cause)
			}
		})
	}
}

func TestPeerCloseReported(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
			c := dial(t, addr)
			r := <-conns
			c.Write([]byte("bye"))
			c.(*net.TCPConn).CloseWrite()
			got, _ := io.ReadAll(c)
			if string(got) != "bye" {
				t.Fatalf("echo before close = %q", got)
			}
			select {
			case <-r.closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Closed not called")
			}
			if r.cause != ErrPeerClosed {
				t.Fatalf("cause %v, want ErrPeerClosed", r.cause)
			}
			tl.do(func() {
				if tl.Conns() != 0 {
					t.Errorf("%d descriptors still open", tl.Conns())
				}
			})
		})
	}
}

func TestPauseResume(t *testing.T) { eachBackend(t, testPauseResume) }

func testPauseResume(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller})
	addr, conns := tl.listen(newRecorder)
	c := dial(t, addr)
	r := <-conns
	tl.do(r.c.Pause)
	c.Write([]byte("held"))
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	n := r.got.Len()
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("read %d bytes while paused", n)
	}
	tl.do(r.c.Resume)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := r.got.String()
		r.mu.Unlock()
		if got == "held" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after resume got %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTimers(t *testing.T) {
	tl := startLoop(t, Config{})
	var mu sync.Mutex
	var order []int
	done := make(chan struct{})
	tl.do(func() {
		add := func(i int) func() {
			return func() { mu.Lock(); order = append(order, i); mu.Unlock() }
		}
		tl.AfterFunc(30*time.Millisecond, add(3))
		tl.AfterFunc(10*time.Millisecond, add(1))
		cancelled := tl.AfterFunc(20*time.Millisecond, add(99))
		tl.AfterFunc(20*time.Millisecond, add(2))
		if !cancelled.Stop() || cancelled.Pending() || cancelled.Stop() {
			t.Error("Stop did not cancel exactly once")
		}
		tl.AfterFunc(40*time.Millisecond, func() { close(done) })
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timers did not fire")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != 1 || order[1] != 2 || order[2] != 3 {
		t.Fatalf("timer order %v, want [1 2 3]", order)
	}
}

func TestPostFromManyGoroutines(t *testing.T) { eachBackend(t, testPostFromManyGoroutines) }

func testPostFromManyGoroutines(t *testing.T, poller string) {
	tl := startLoop(t, Config{Poller: poller})
	const n = 1000
	var count int // touched only on the loop
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n/10; j++ {
				tl.Post(func() { count++ })
			}
		}()
	}
	wg.Wait()
	var got int
	tl.do(func() { got = count })
	if got != n {
		t.Fatalf("ran %d tasks, want %d", got, n)
	}
}

func TestUnknownPoller(t *testing.T) {
	if _, err := NewLoop(Config{Poller: "kqueue"}); err == nil {
		t.Fatal("unknown poller accepted")
	}
}

// TestAcceptedSocketsHaveNoDelay: accepted sockets get TCP_NODELAY from
// the listener (small frames go out at once), and a closed connection
// leaves nothing registered, on both backends.
func TestAcceptedSocketsHaveNoDelay(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			addr, conns := tl.listen(newRecorder)
			dial(t, addr)
			var r *recorder
			select {
			case r = <-conns:
			case <-time.After(5 * time.Second):
				t.Fatal("no accept")
			}
			tl.do(func() {
				fd := r.c.FD()
				if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 1 {
					t.Errorf("TCP_NODELAY on an accepted socket is %d (%v), want 1", v, err)
				}
				r.c.Abort(nil)
				if fd < len(tl.owners) && tl.owners[fd] != nil {
					t.Errorf("descriptor %d still has an owner after the close", fd)
				}
			})
		})
	}
}
