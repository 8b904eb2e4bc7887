package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRawTimers: conn:after fires once, no earlier than asked, on its
// connection; server.after fires once; server.every ticks at its interval
// until timer:cancel() (which returns true, then false, and leaves pending
// false), after which no tick comes; a server.every callback may cancel its
// own timer; the timers of a connection that closed (by the client or by
// the script) never fire and log nothing.
func TestRawTimers(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/timers.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		c := dialRaw(t, srv.Addr)

		// conn:after
		sent := time.Now()
		c.roundTrip("after", "scheduled")
		c.expect("after fired")
		if d := time.Since(sent); d < 90*time.Millisecond {
			t.Fatalf("conn:after(0.1) fired after %s", d)
		}
		c.expectSilence(250 * time.Millisecond)

		// server.after (armed at load)
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg="server after fired"`)

		// server.every, cancelled from a handler
		started := time.Now()
		c.roundTrip("every", "started true")
		n := 0
		for n < 5 {
			if time.Since(started) > 10*time.Second {
				t.Fatalf("server.every(0.02) ticked %d times in 10s", n)
			}
			time.Sleep(20 * time.Millisecond)
			c.send("ticks\n")
			n = rawAtoi(t, c.line())
		}
		c.send("cancel\n")
		f := strings.Fields(c.line())
		elapsed := time.Since(started)
		if len(f) != 5 || f[0] != "cancelled" || f[2] != "true" || f[3] != "false" || f[4] != "false" {
			t.Fatalf("cancel answered %q, want \"cancelled <n> true false false\"", f)
		}
		atCancel := rawAtoi(t, f[1])
		if atCancel < 5 || time.Duration(atCancel)*20*time.Millisecond > elapsed+20*time.Millisecond {
			t.Fatalf("server.every(0.02) ticked %d times in %s", atCancel, elapsed)
		}
		time.Sleep(200 * time.Millisecond)
		c.roundTrip("ticks", strconv.Itoa(atCancel))

		// server.every cancelled from its own callback
		c.roundTrip("selfcancel", "started")
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg="self cancel"`, "ret=true")
		time.Sleep(200 * time.Millisecond)
		c.roundTrip("selfticks", "3")

		// A connection's timers die with it: closed by the client...
		g := dialRaw(t, srv.Addr)
		g.roundTrip("ghost", "armed")
		g.Close()
		// ...and closed by the script.
		g2 := dialRaw(t, srv.Addr)
		g2.send("ghostclose\n")
		g2.expectEOF(5 * time.Second)
		g2.Close()
		time.Sleep(400 * time.Millisecond)
		if l := rawLogLines(srv, "ghost timer fired"); len(l) > 0 {
			t.Fatalf("a closed connection's timer fired: %s", l[0])
		}
		if l := rawLogLines(srv, "lua handler failed"); len(l) > 0 {
			t.Fatalf("unexpected Lua error: %s", l[0])
		}
		if l := rawLogLines(srv, `msg="server after fired"`); len(l) != 1 {
			t.Fatalf("server.after fired %d times, want 1", len(l))
		}
		c.Close()
		srv.stop()
	})
}

func rawAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("want a number, got %q", s)
	}
	return n
}

// TestRawBroadcast: server.broadcast(bytes, except) reaches every raw
// connection but except (an instance or a conn) and returns how many it
// reached; without except it reaches all, the sender included.
func TestRawBroadcast(t *testing.T) {
	rawQuickExit(t)
	const clients = 5
	script := testdata(t, "raw/broadcast.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		cs := make([]*rawClient, clients)
		for i := range cs {
			cs[i] = dialRaw(t, srv.Addr)
			cs[i].expect("hello")
		}
		round := func(from int, cmd, word string, except bool) {
			t.Helper()
			cs[from].send(fmt.Sprintf("%s %s\n", cmd, word))
			for i, c := range cs {
				if i == from {
					if !except {
						c.expect(word)
					}
					n := clients
					if except {
						n--
					}
					c.expect(fmt.Sprintf("sent %d", n))
				} else {
					c.expect(word)
				}
			}
		}
		round(0, "bcast", "one", true)
		round(2, "bcastconn", "two", true)
		// The next line everyone reads is "three": the senders above did not
		// get their own broadcasts.
		round(3, "bcastall", "three", false)
		for _, c := range cs {
			c.expectSilence(100 * time.Millisecond)
			c.Close()
		}
		srv.stop()
	})
}
