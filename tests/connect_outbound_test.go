package tests

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"pocketlua/internal/loopback"
)

// TestConnectOutcomes: server.connect from a script, with every outcome at
// once on one server: two successful connections (IPv4 and IPv6), one
// refused (a closed loopback port), one that times out (a blackholed
// loopback port, see loopback.BlackholePort) and one reset by its peer
// (SO_LINGER 0). Each gets its own closed reason, none disturbs another,
// and the loop answers a ping promptly while the timeout is pending.
func TestConnectOutcomes(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, testdata(t, "connect/driver.lua"))
		ok := newConnectBackend(t, "tcp", "127.0.0.1:0")
		ok6 := newConnectBackend(t, "tcp6", "[::1]:0")
		rst := newConnectBackend(t, "tcp", "127.0.0.1:0")
		refused, hole := loopback.ClosedPort(t), loopback.BlackholePort(t)
		ctl := dialCtl(t, srv.Addr)

		start := time.Now()
		ctl.cmd("connect hole 127.0.0.1 " + strconv.Itoa(hole) + " 0.8")
		ctl.cmd("connect ok 127.0.0.1 " + strconv.Itoa(ok.port))
		ctl.cmd("connect ok6 ::1 " + strconv.Itoa(ok6.port))
		ctl.cmd("connect ref 127.0.0.1 " + strconv.Itoa(refused))
		ctl.cmd("connect rst 127.0.0.1 " + strconv.Itoa(rst.port))

		// Success, both ways, IPv4 and IPv6.
		okc := ok.accept(t)
		ctl.wait("ok start 127.0.0.1:"+strconv.Itoa(ok.port), 5*time.Second)
		okc6 := ok6.accept(t)
		ctl.wait("ok6 start [::1]:"+strconv.Itoa(ok6.port), 5*time.Second)
		for _, c := range []net.Conn{okc, okc6} {
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
		}
		ctl.wait("ok data hello", 5*time.Second)
		ctl.wait("ok6 data hello", 5*time.Second)
		ctl.cmd("send ok world")
		buf := make([]byte, 5)
		if _, err := io.ReadFull(okc, buf); err != nil || string(buf) != "world" {
			t.Fatalf("backend read %q, %v; want world", buf, err)
		}

		// Refused: closed without a start.
		ctl.wait("ref closed nil connection refused", 5*time.Second)
		ctl.none("ref start")

		// Reset by the peer after the handshake.
		rc := rst.accept(t)
		ctl.wait("rst start", 5*time.Second)
		rc.(*net.TCPConn).SetLinger(0)
		rc.Close()
		ctl.wait("rst closed nil connection reset by peer", 5*time.Second)

		// The blackholed connect is still pending: the loop is not blocked.
		if d := ctl.ping(); d > 300*time.Millisecond {
			t.Fatalf("ping took %s while a connect was pending", d)
		}
		ctl.wait("hole closed nil connect timeout", 5*time.Second)
		if d := time.Since(start); d < 700*time.Millisecond || d > 4*time.Second {
			t.Fatalf("connect timeout after %s, want about 0.8s", d)
		}
		ctl.none("hole start")

		// The others are untouched: the first connection still carries data.
		if _, err := okc.Write([]byte("still")); err != nil {
			t.Fatal(err)
		}
		ctl.wait("ok data still", 5*time.Second)
		okc.Close()
		ctl.wait("ok closed nil peer closed", 5*time.Second)
		ctl.cmd("close ok6")
		ctl.wait("ok6 closed nil closed", 5*time.Second)
		if _, err := io.ReadAll(okc6); err != nil {
			t.Fatalf("backend of a closed connection: %v, want EOF", err)
		}
		ctl.cmd("count")
		if got := ctl.wait("count", 5*time.Second); got != "count 1 5" {
			t.Fatalf("%q, want count 1 5 (the control connection; 5 outbound started)", got)
		}
		srv.stop()
	})
}

// TestConnectErrors: bad arguments give nil and a message at once (no
// closed event); closing a connection that is still connecting runs closed
// once and never start.
func TestConnectErrors(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "connect/driver.lua"))
	ctl := dialCtl(t, srv.Addr)
	ctl.cmd("connect p0 127.0.0.1 0")
	ctl.wait("p0 error connect 127.0.0.1:0: port 0 out of range (1-65535)", 5*time.Second)
	ctl.cmd("connect p1 127.0.0.1 70000")
	ctl.wait("p1 error connect 127.0.0.1:70000: port 70000 out of range", 5*time.Second)
	ctl.cmd("connect h bad!host 80")
	if got := ctl.wait("h error connect bad!host:80: ", 5*time.Second); !strings.Contains(got, "bad!host") {
		t.Fatalf("bad host: %q", got)
	}

	hole := loopback.BlackholePort(t)
	ctl.cmd("connect c 127.0.0.1 " + strconv.Itoa(hole) + " 5")
	ctl.ping() // the connect has been made
	ctl.cmd("send c queued while connecting")
	ctl.cmd("close c")
	ctl.wait("c closed nil closed", 5*time.Second)
	ctl.ping()
	ctl.none("c ")
	ctl.cmd("count")
	if got := ctl.wait("count", 5*time.Second); got != "count 1 1" {
		t.Fatalf("%q, want count 1 1", got)
	}
	srv.stop()
}

// TestConnectShutdown: SIGTERM ends outbound connections too, connected
// or still connecting, with reason "shutdown", and the server exits 0.
func TestConnectShutdown(t *testing.T) {
	ok := newConnectBackend(t, "tcp", "127.0.0.1:0")
	hole := loopback.BlackholePort(t)
	srv := startServer(t, "epoll", scriptFrom(t, "", "connect/shutdown.lua", map[string]int{"Up": ok.port, "Pending": hole}))
	c := ok.accept(t)
	rawWaitLogs(t, srv, 5*time.Second, 1, "outbound started", "tag=up")
	srv.stop()
	rawWaitLogs(t, srv, time.Second, 1, "outbound closed", "tag=up", "reason=shutdown")
	rawWaitLogs(t, srv, time.Second, 1, "outbound closed", "tag=pending", "reason=shutdown")
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("backend: %v, want EOF after shutdown", err)
	}
}
