package tests

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFaultSighupStorm: 50 SIGHUP reloads in 5 s while 100 WebSocket
// clients echo without pause. No client is dropped or loses an echo, every
// reload succeeds (and moves the open connections to the new class).
func TestFaultSighupStorm(t *testing.T) { faultEachLoop(t, testFaultSighupStorm) }

func testFaultSighupStorm(t *testing.T, poller string) {
	faultSetup(t)
	const clients, reloads = 100, 50
	srv := faultStart(t, poller, "storm.lua")
	side := faultStartSide(t, srv.Addr, 2*time.Second)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var echoes atomic.Int64
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, err := faultDial(srv.Addr, "/storm")
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		t.Cleanup(func() { c.Close() })
	}
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				msg := fmt.Sprintf("c%d-%d", i, n)
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
					errs <- fmt.Errorf("client %d: echo %q, %v; want %q", i, p, err, msg)
					return
				}
				echoes.Add(1)
			}
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		}()
	}
	start := time.Now()
	before := echoes.Load()
	for i := 0; i < reloads; i++ {
		time.Sleep(100 * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGHUP)
	}
	time.Sleep(500 * time.Millisecond)
	during := echoes.Load() - before
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a client failed during the reloads: %v", err)
	}
	// Signals do not queue: SIGHUPs that arrive while one is pending
	// coalesce (more so on a loaded machine), so up to 50 reloads run.
	time.Sleep(time.Second)
	done := int(faultStats(t, srv.Addr)["reloads"])
	if done < reloads/5 || done > reloads {
		t.Fatalf("%d reloads for %d SIGHUPs", done, reloads)
	}
	if n := faultLogCount(srv, "reload failed"); n != 0 {
		t.Fatalf("%d reloads failed:\n%s", n, rlTail(srv.Logs(), 10))
	}
	if n := faultLogCount(srv, `msg=reloaded`, "migrated=101 ", "migration_failed=0"); n != done {
		t.Fatalf("%d of %d reloads moved all 101 connections", n, done)
	}
	t.Logf("%d SIGHUPs in %s gave %d reloads; %d echoes meanwhile by %d clients, none lost", reloads, time.Since(start).Round(time.Millisecond), done, during, clients)
	side.check(t, 20)
	faultNoCrash(t, srv)
	srv.stop()
}

// TestFaultSigtermUnderLoad: SIGTERM with 1,000 WebSocket clients open.
// Every client gets close 1001 "shutdown", and the process exits 0 within
// the grace period (--shutdown-grace, 5 s).
func TestFaultSigtermUnderLoad(t *testing.T) { faultEachLoop(t, testFaultSigtermUnderLoad) }

func testFaultSigtermUnderLoad(t *testing.T, poller string) {
	faultSetup(t)
	const clients = 1000
	srv := faultStart(t, poller, "fault.lua")
	conns := make([]*websocket.Conn, clients)
	var wg sync.WaitGroup
	dialers := make(chan struct{}, 50)
	var dialErr atomic.Value
	for i := range conns {
		wg.Add(1)
		dialers <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-dialers }()
			c, err := faultDial(srv.Addr, "/term")
			if err != nil {
				dialErr.Store(err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		t.Cleanup(func() { c.Close() })
	}
	codes := make([]string, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _, err := c.ReadMessage() // gorilla answers the close frame
			if code := faultCloseCode(err); code != 0 {
				codes[i] = fmt.Sprintf("%d %s", code, err.(*websocket.CloseError).Text)
			} else {
				codes[i] = fmt.Sprint(err)
			}
		}()
	}
	start := time.Now()
	code, ok := srv.signal(syscall.SIGTERM, 10*time.Second)
	took := time.Since(start)
	wg.Wait()
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited %v, status %d; logs:\n%s", ok, code, rlTail(srv.Logs(), 20))
	}
	if took > 5*time.Second+500*time.Millisecond {
		t.Fatalf("exit took %s, over the 5 s grace period", took)
	}
	bad := map[string]int{}
	for _, c := range codes {
		if c != "1001 shutdown" {
			bad[c]++
		}
	}
	if len(bad) > 0 {
		t.Fatalf("clients did not all get close 1001 shutdown: %v", bad)
	}
	if n := faultLogCount(srv, `msg="fault closed"`, "path=/term", "code=1001", "reason=shutdown"); n != clients {
		t.Fatalf("closed ran with 1001 shutdown %d times, want %d", n, clients)
	}
	if logs := srv.Logs(); strings.Contains(logs, "grace over") || strings.Contains(logs, "panic:") || strings.Contains(logs, "DATA RACE") {
		t.Fatalf("the grace period ran out, or a crash:\n%s", rlTail(logs, 20))
	}
	t.Logf("SIGTERM with %d clients: all got 1001, exit 0 after %s", clients, took.Round(time.Millisecond))
}
