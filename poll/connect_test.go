package poll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pocketlua/internal/loopback"
)

// connectRecorder is a recorder that also notes when the handshake ends.
type connectRecorder struct {
	*recorder
	connected chan struct{}
}

func newConnectRecorder() *connectRecorder {
	return &connectRecorder{recorder: newRecorder(), connected: make(chan struct{})}
}

// connect starts an outbound connection on the loop and returns its recorder.
func (tl *testLoop) connect(host string, port int, timeout time.Duration) *connectRecorder {
	tl.t.Helper()
	r := newConnectRecorder()
	tl.do(func() {
		sa, err := ResolveSockaddr(host, port)
		if err != nil {
			tl.t.Fatal(err)
		}
		c, err := tl.Connect(sa, timeout, r, func() { close(r.connected) })
		if err != nil {
			tl.t.Fatal(err)
		}
		r.c = c
		if !c.Connecting() {
			tl.t.Error("Connect returned a connection that is not connecting")
		}
	})
	return r
}

func (r *connectRecorder) waitClosed(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(d):
		t.Fatalf("not closed within %s", d)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cause
}

func TestConnectEcho(t *testing.T) {
	for _, b := range backends {
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(b+"/"+host, func(t *testing.T) {
				ln, err := net.Listen("tcp", JoinHostPort(host, 0))
				if err != nil {
					t.Skipf("no loopback for %s: %v", host, err)
				}
				defer ln.Close()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					io.Copy(c, c)
				}()
				tl := startLoop(t, Config{Poller: b})
				port := ln.Addr().(*net.TCPAddr).Port
				r := newConnectRecorder()
				r.echo = false
				tl.do(func() {
					sa, err := ResolveSockaddr("["+host+"]", port)
					if err != nil {
						t.Fatal(err)
					}
					c, err := tl.Connect(sa, 5*time.Second, r, func() {
						r.c.WriteString(" world")
						close(r.connected)
					})
					if err != nil {
						t.Fatal(err)
					}
					r.c = c
					// Written while connecting: queued, sent once connected.
					if !c.WriteString("hello") {
						t.Error("write while connecting reported false")
					}
					if c.Queued() != 5 {
						t.Errorf("queued %d while connecting, want 5", c.Queued())
					}
				})
				select {
				case <-r.connected:
				case <-time.After(5 * time.Second):
					t.Fatal("never connected")
				}
				want := []byte("hello world")
				deadline := time.Now().Add(5 * time.Second)
				for {
					r.mu.Lock()
					got := bytes.Clone(r.got.Bytes())
					r.mu.Unlock()
					if bytes.Equal(got, want) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("echo: got %q, want %q", got, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
				tl.do(func() {
					if r.c.Connecting() {
						t.Error("still connecting after the handshake")
					}
					r.c.Close(errors.New("done"))
				})
				if cause := r.waitClosed(t, 5*time.Second); cause == nil || cause.Error() != "done" {
					t.Fatalf("cause %v, want done", cause)
				}
			})
		}
	}
}

func TestConnectRefused(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			r := tl.connect("127.0.0.1", loopback.ClosedPort(t), 5*time.Second)
			if cause := r.waitClosed(t, 5*time.Second); !errors.Is(cause, unix.ECONNREFUSED) {
				t.Fatalf("cause %v, want ECONNREFUSED", cause)
			}
			select {
			case <-r.connected:
				t.Fatal("connected ran for a refused connection")
			default:
			}
			tl.do(func() {
				if r.c.FD() != -1 || tl.Conns() != 0 {
					t.Errorf("refused connection keeps fd %d; %d descriptors open", r.c.FD(), tl.Conns())
				}
			})
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	port := loopback.BlackholePort(t)
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: b})
			start := time.Now()
			r := tl.connect("127.0.0.1", port, 300*time.Millisecond)
			cause := r.waitClosed(t, 5*time.Second)
			if cause != ErrConnectTimeout {
				t.Fatalf("cause %v, want ErrConnectTimeout", cause)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("timed out after %s, want about 300ms", d)
			}
			tl.do(func() {
				if tl.Conns() != 0 {
					t.Errorf("%d descriptors open after the timeout", tl.Conns())
				}
			})
		})
	}
}

func TestConnectCloseWhileConnecting(t *testing.T) { eachBackend(t, testConnectCloseWhileConnecting) }

func testConnectCloseWhileConnecting(t *testing.T, poller string) {
	port := loopback.BlackholePort(t)
	tl := startLoop(t, Config{Poller: poller})
	r := tl.connect("127.0.0.1", port, 10*time.Second)
	tl.do(func() {
		r.c.Pause()
		r.c.Close(errors.New("gave up"))
		if r.c.FD() != -1 || tl.Conns() != 0 {
			t.Errorf("closed while connecting: fd %d, %d descriptors", r.c.FD(), tl.Conns())
		}
	})
	if cause := r.waitClosed(t, time.Second); cause == nil || cause.Error() != "gave up" {
		t.Fatalf("cause %v, want gave up", cause)
	}
	select {
	case <-r.connected:
		t.Fatal("connected ran after Close")
	default:
	}
}

// TestConnectCloseDeliversQueue: output queued while connecting, then
// Close: Closed runs at once, and the bytes still reach the peer once the
// connect completes, followed by EOF; a connect that never completes ends
// after LingerTimeout.
func TestConnectCloseDeliversQueue(t *testing.T) { eachBackend(t, testConnectCloseDeliversQueue) }

func testConnectCloseDeliversQueue(t *testing.T, poller string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := startLoop(t, Config{Poller: poller, LingerTimeout: 300 * time.Millisecond})
	r := newConnectRecorder()
	tl.do(func() { // one loop task: the handshake cannot end in between
		sa, _ := ResolveSockaddr("127.0.0.1", ln.Addr().(*net.TCPAddr).Port)
		c, err := tl.Connect(sa, 5*time.Second, r, func() { close(r.connected) })
		if err != nil {
			t.Fatal(err)
		}
		r.c = c
		c.WriteString("queued before the handshake")
		c.Close(errors.New("done"))
	})
	if cause := r.waitClosed(t, time.Second); cause == nil || cause.Error() != "done" {
		t.Fatalf("cause %v, want done", cause)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "queued before the handshake" {
		t.Fatalf("peer read %q, %v; want the queued bytes then EOF", got, err)
	}
	select {
	case <-r.connected:
		t.Fatal("connected ran for a connection closed before its handshake")
	default:
	}

	hole := tl.connect("127.0.0.1", loopback.BlackholePort(t), 10*time.Second)
	start := time.Now()
	tl.do(func() {
		hole.c.WriteString("never delivered")
		hole.c.Close(errors.New("done"))
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		var open int
		tl.do(func() { open = tl.Conns() })
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection that never connected kept its descriptor")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("gave up after %s, want the 300ms linger timeout", d)
	}
}

func TestConnectPeerReset(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			tl := startLoop(t, Config{Poller: b})
			r := tl.connect("127.0.0.1", ln.Addr().(*net.TCPAddr).Port, 5*time.Second)
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			<-r.connected
			c.(*net.TCPConn).SetLinger(0) // close sends RST
			c.Close()
			if cause := r.waitClosed(t, 5*time.Second); !errors.Is(cause, unix.ECONNRESET) {
				t.Fatalf("cause %v, want ECONNRESET", cause)
			}
		})
	}
}

func TestResolveSockaddr(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1", 80, true}, {"localhost", 80, true}, {"[::1]", 80, true}, {"::1", 1, true},
		{"127.0.0.1", 0, false}, {"127.0.0.1", 65536, false}, {"not a host", 80, false},
	} {
		_, err := ResolveSockaddr(tc.host, tc.port)
		if (err == nil) != tc.ok {
			t.Errorf("ResolveSockaddr(%q, %d): %v", tc.host, tc.port, err)
		}
	}
}
