package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRawLuaErrors: a Lua error in start, data, closed (after conn:close
// and after the peer's half-close) or a conn:after callback closes only the
// guilty connection (its client reads EOF; closed runs with reason "error"
// after a data or timer failure), is logged exactly once as "lua handler
// failed" with the event and the script's file:line, and a healthy
// connection on the same server keeps echoing, as do new connections.
func TestRawLuaErrors(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/faulty.lua")
	at := func(ev string) string {
		return fmt.Sprintf("%s:%d: boom in %s", script, fileLineOf(t, script, "FAIL:"+ev), ev)
	}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		healthy := dialRaw(t, srv.Addr)
		healthy.expect("hello")

		failures := 0
		// closedWith waits for the closed log line of the client at local.
		closedWith := func(local, reason string) {
			t.Helper()
			rawWaitLogs(t, srv, 5*time.Second, 1, "msg=closed", "peer="+local+" ", "reason="+reason)
		}
		checkLogged := func(ev string) {
			t.Helper()
			failures++
			rawWaitLogs(t, srv, 5*time.Second, failures, `msg="lua handler failed"`)
			lines := rawLogLines(srv, `msg="lua handler failed"`, "event="+ev+" ")
			if len(lines) != 1 {
				t.Fatalf("want one %q failure logged, got %d; logs:\n%s", ev, len(lines), srv.Logs())
			}
			if !strings.Contains(lines[0], at(ev)) {
				t.Fatalf("the %s failure's log line lacks %q:\n%s", ev, at(ev), lines[0])
			}
			if all := rawLogLines(srv, `msg="lua handler failed"`); len(all) != failures {
				t.Fatalf("%d failures logged after %d faults; logs:\n%s", len(all), failures, srv.Logs())
			}
			healthy.roundTrip("still here after "+ev, "still here after "+ev)
		}

		// start: armed by the healthy connection, hit by the next one.
		healthy.roundTrip("arm start", "armed")
		victim := dialRaw(t, srv.Addr)
		victim.expectEOF(5 * time.Second)
		victim.Close()
		checkLogged("start")

		// data
		victim = dialRaw(t, srv.Addr)
		victim.expect("hello")
		victim.send("fail data\n")
		victim.expectEOF(5 * time.Second)
		victim.Close()
		checkLogged("data")
		closedWith(victim.LocalAddr().String(), "error")

		// timer
		victim = dialRaw(t, srv.Addr)
		victim.expect("hello")
		victim.roundTrip("fail timer", "scheduled")
		victim.expectEOF(5 * time.Second)
		victim.Close()
		checkLogged("timer")
		closedWith(victim.LocalAddr().String(), "error")

		// closed, after the script closes the connection
		victim = dialRaw(t, srv.Addr)
		victim.expect("hello")
		victim.send("fail closed\n")
		victim.expectEOF(5 * time.Second)
		victim.Close()
		checkLogged("closed")
		closedWith(victim.LocalAddr().String(), "closed")

		// closed, after the client half-closes
		victim = dialRaw(t, srv.Addr)
		victim.expect("hello")
		victim.roundTrip("fail closed later", "armed")
		if err := victim.closeWrite(); err != nil {
			t.Fatal(err)
		}
		victim.expectEOF(5 * time.Second)
		victim.Close()
		closedWith(victim.LocalAddr().String(), `"peer closed"`)
		failures++
		lines := rawWaitLogs(t, srv, 5*time.Second, 2, `msg="lua handler failed"`, "event=closed ")
		if len(lines) != 2 || !strings.Contains(lines[1], at("closed")) {
			t.Fatalf("want a second closed failure with %q; logs:\n%s", at("closed"), srv.Logs())
		}
		healthy.roundTrip("still here at the end", "still here at the end")

		fresh := dialRaw(t, srv.Addr)
		fresh.expect("hello")
		fresh.roundTrip("fresh", "fresh")
		if got := len(rawLogLines(srv, `msg="lua handler failed"`)); got != failures {
			t.Fatalf("%d failures logged, want %d; logs:\n%s", got, failures, srv.Logs())
		}
		healthy.Close()
		fresh.Close()
		srv.stop()
	})
}

// TestRawHandlerTimeout: with --handler-timeout 200ms a data handler that
// loops for ever is interrupted after at least 200 ms: its connection is
// closed (reason "handler timeout"), the log says it ran longer than 200ms
// and was interrupted, a healthy connection's echo (sent during the spin)
// arrives, new connections are served, and afterwards the idle server uses
// (almost) no CPU.
func TestRawHandlerTimeout(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/faulty.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--handler-timeout", "200ms", script)
		healthy := dialRaw(t, srv.Addr)
		healthy.expect("hello")
		victim := dialRaw(t, srv.Addr)
		victim.expect("hello")

		start := time.Now()
		victim.send("spin\n")
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg=spinning`)
		healthy.send("during the spin\n")
		took := victim.expectEOF(10 * time.Second)
		victim.Close()
		if since := time.Since(start); since < 200*time.Millisecond {
			t.Fatalf("spinning connection closed after %s (EOF wait %s), before the 200ms timeout", since, took)
		}
		healthy.expect("during the spin")

		lines := rawWaitLogs(t, srv, 5*time.Second, 1, `msg="lua handler failed"`)
		if len(lines) != 1 || !strings.Contains(lines[0], "event=data ") ||
			!strings.Contains(lines[0], "handler ran longer than 200ms and was interrupted") {
			t.Fatalf("want one data failure saying the handler was interrupted; logs:\n%s", srv.Logs())
		}
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg=closed`, "peer="+victim.LocalAddr().String()+" ", `reason="handler timeout"`)

		fresh := dialRaw(t, srv.Addr)
		fresh.expect("hello")
		fresh.roundTrip("fresh", "fresh")
		healthy.roundTrip("again", "again")

		// The loop must be idle again, not spinning.
		before := srv.rawCPUTicks()
		time.Sleep(time.Second)
		if used := srv.rawCPUTicks() - before; used > 20 {
			t.Fatalf("idle server used %d0 ms of CPU in 1 s after the interrupted handler", used)
		}
		healthy.Close()
		fresh.Close()
		srv.stop()
	})
}
