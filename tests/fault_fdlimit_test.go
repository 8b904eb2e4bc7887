package tests

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFaultDescriptorExhaustion runs the server with 128 descriptors
// (prlimit, or sh -c 'ulimit -n 128') and opens more connections than it
// can take. The server keeps serving the clients it has, logs the pause
// once, does not spin (its CPU time over a second stays low), and accepts
// again once clients close.
// Both backends: the pause is the loop's, the readiness API differs.
func TestFaultDescriptorExhaustion(t *testing.T) {
	faultSetup(t)
	eachPoller(t, faultDescriptorExhaustion)
}

func faultDescriptorExhaustion(t *testing.T, poller string) {
	const limit, healthy, extra = 128, 100, 100
	wrapper := []string{"prlimit", "--nofile=128:128"}
	if _, err := exec.LookPath("prlimit"); err != nil {
		wrapper = []string{"sh", "-c", `ulimit -n 128 && exec "$0" "$@"`}
	}
	path := testdata(t, "fault/fault.lua")
	srv := launch{poller: poller, wrapper: wrapper}.start(t, path)
	side := faultStartSide(t, srv.Addr, 2*time.Second)
	time.Sleep(200 * time.Millisecond)
	fds0 := srv.openFDs()
	start := time.Now()

	// 100 healthy WebSocket clients: fds0 + 100 of the 128.
	clients := make([]*websocket.Conn, healthy)
	for i := range clients {
		c, err := faultDial(srv.Addr, "/healthy")
		if err != nil {
			t.Fatalf("healthy client %d (server at %d fds): %v", i, srv.openFDs(), err)
		}
		clients[i] = c
		t.Cleanup(func() { c.Close() })
	}
	echoAll := func(what string) {
		t.Helper()
		for i, c := range clients {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			msg := []byte(what)
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				t.Fatalf("%s: client %d: %v", what, i, err)
			}
			if _, p, err := c.ReadMessage(); err != nil || string(p) != what {
				t.Fatalf("%s: client %d: %q, %v", what, i, p, err)
			}
		}
	}
	echoAll("before")

	// 100 more: the kernel completes them in the backlog, the server runs
	// out of descriptors while accepting.
	extras := make([]net.Conn, extra)
	for i := range extras {
		c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("extra connection %d: %v", i, err)
		}
		extras[i] = c
		t.Cleanup(func() { c.Close() })
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "accept paused: out of resources", "too many open files")
	// Every descriptor below the limit is taken. (The server may also hold
	// one above it, inherited from "go test", which the count includes.)
	if n := srv.openFDs(); n < limit {
		t.Fatalf("the server holds %d descriptors, want all %d", n, limit)
	}

	// No spinning: CPU time over one second while paused.
	time.Sleep(300 * time.Millisecond)
	cpu0 := srv.rawCPUTicks()
	time.Sleep(time.Second)
	cpu := srv.rawCPUTicks() - cpu0
	echoAll("during")
	if cpu > 30 {
		t.Fatalf("the server used %d ticks (1/100 s) of CPU in one second while out of descriptors", cpu)
	}
	if n := faultLogCount(srv, "accept paused"); n != 1 {
		t.Fatalf("the pause was logged %d times, want once:\n%s", n, strings.Join(rawLogLines(srv, "accept paused"), "\n"))
	}

	// Clients leave: the server accepts again, the backlog first.
	for _, c := range clients {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		c.Close()
	}
	for _, c := range extras {
		c.Close()
	}
	faultWaitFDs(t, srv, 15*time.Second, fds0+2)
	c, err := faultDial(srv.Addr, "/after")
	if err != nil {
		t.Fatalf("a new client after the descriptors freed up: %v", err)
	}
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "after" {
		t.Fatalf("echo after: %q, %v", p, err)
	}
	c.Close()
	if n := faultLogCount(srv, "accept paused"); n != 1 {
		t.Fatalf("the pause was logged %d times, want once", n)
	}
	t.Logf("at %d descriptors: paused once, %d CPU ticks in 1 s, served %d clients throughout, accepted again", limit, cpu, healthy)
	side.check(t, int(time.Since(start)/(50*time.Millisecond))/4)
	faultNoCrash(t, srv)
	srv.stop()
}
