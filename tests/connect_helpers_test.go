package tests

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers for the server.connect tests (tests/connect_*_test.go).

// ctlConn is a control connection to connectDriver: lines arrive on a
// goroutine and are matched by the waiting test.
type ctlConn struct {
	t     *testing.T
	c     net.Conn
	mu    sync.Mutex
	lines []string
	seen  chan struct{}
}

func dialCtl(t *testing.T, addr string) *ctlConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cc := &ctlConn{t: t, c: c, seen: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			cc.mu.Lock()
			cc.lines = append(cc.lines, sc.Text())
			cc.mu.Unlock()
			select {
			case cc.seen <- struct{}{}:
			default:
			}
		}
	}()
	return cc
}

func (cc *ctlConn) cmd(line string) {
	cc.t.Helper()
	cc.c.SetWriteDeadline(time.Now().Add(rawIOTimeout))
	if _, err := cc.c.Write([]byte(line + "\n")); err != nil {
		cc.t.Fatal(err)
	}
}

// wait returns the first line that starts with prefix, waiting up to d;
// the line is consumed so the next wait finds the next one.
func (cc *ctlConn) wait(prefix string, d time.Duration) string {
	cc.t.Helper()
	deadline := time.After(d)
	for {
		cc.mu.Lock()
		for i, l := range cc.lines {
			if strings.HasPrefix(l, prefix) {
				cc.lines = append(cc.lines[:i], cc.lines[i+1:]...)
				cc.mu.Unlock()
				return l
			}
		}
		have := strings.Join(cc.lines, " | ")
		cc.mu.Unlock()
		select {
		case <-cc.seen:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			cc.t.Fatalf("no line starting with %q within %s; unmatched lines: %s", prefix, d, have)
		}
	}
}

// none fails if a line starting with prefix has arrived.
func (cc *ctlConn) none(prefix string) {
	cc.t.Helper()
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, l := range cc.lines {
		if strings.HasPrefix(l, prefix) {
			cc.t.Fatalf("unexpected line %q", l)
		}
	}
}

// ping measures a round trip through the server's loop.
func (cc *ctlConn) ping() time.Duration {
	cc.t.Helper()
	start := time.Now()
	cc.cmd("ping")
	cc.wait("pong", 5*time.Second)
	return time.Since(start)
}

// connectBackend is a loopback TCP listener run by the test; accepted
// connections arrive on conns.
type connectBackend struct {
	ln    net.Listener
	port  int
	conns chan net.Conn
}

func newConnectBackend(t *testing.T, network, addr string) *connectBackend {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	b := &connectBackend{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, conns: make(chan net.Conn, 16)}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(b.conns)
		for c := range b.conns { // not taken by the test
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case b.conns <- c:
			default:
				c.Close() // more than the test will take
			}
		}
	}()
	return b
}

func (b *connectBackend) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-b.conns:
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(rawIOTimeout))
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the server's outbound connection never arrived")
		return nil
	}
}
