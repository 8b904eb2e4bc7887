package tests

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFaultScriptErrors: a script that fails in every event, loops for
// ever, recurses without end, allocates without end or asks a library for
// gigabytes. Each time only the guilty connection ends (WebSocket: close
// 1011; raw: the socket closes), the failure is logged with its cause, and
// a bystander and the side client go on.
func TestFaultScriptErrors(t *testing.T) {
	faultSetup(t)
	srv := faultStart(t, "", "script.lua", "--handler-timeout", "2s", "--max-memory", "1GiB",
		"--high-water", "65536", "--low-water", "16384")
	side := faultStartSide(t, srv.Addr, 5*time.Second) // a runaway handler holds the loop up to ~2.5 s
	bystander := wsDial(t, srv.Addr)
	ports := map[string]string{}
	for _, line := range rawWaitLogs(t, srv, 5*time.Second, 3, `msg="raw listener"`) {
		m := regexp.MustCompile(`event=(\w+) port=(\d+)`).FindStringSubmatch(line)
		ports[m[1]] = "127.0.0.1:" + m[2]
	}

	// logged waits for the "lua handler failed" line of event whose err
	// contains want.
	logged := func(t *testing.T, event, want string) string {
		t.Helper()
		lines := rawWaitLogs(t, srv, 10*time.Second, 1, `msg="lua handler failed"`, "event="+event+" ", want)
		return lines[len(lines)-1]
	}

	for _, event := range []string{"accept", "start", "data"} {
		t.Run("raw/"+event, func(t *testing.T) {
			c := dialRaw(t, ports[event])
			if event == "data" {
				c.send("hello\n")
			}
			c.expectEOF(10 * time.Second)
			logged(t, event, "boom "+event)
			rawWaitLogs(t, srv, 5*time.Second, 1, `msg="fault closed"`, "path=raw/"+event, "reason=error")
		})
	}

	// ws connects on path, does what the case needs, and expects close 1011
	// with one of the reasons in outcomes; the log must show the event and
	// the cause that goes with the reason.
	type outcomes map[string]string // close reason -> text in the log line
	ws := func(name, path, event string, want outcomes, act func(c *wsClient)) {
		t.Run(name, func(t *testing.T) {
			c := wsDialPath(t, srv.Addr, path)
			act(c)
			got := c.expectCloseFrame(1011)
			c.send(wsCloseFrame(1011, ""))
			c.expectEOF()
			text, ok := want[got]
			if !ok {
				t.Fatalf("close reason %q, want one of %v", got, want)
			}
			t.Logf("close 1011 %q; log: %.160s", got, logged(t, event, text))
		})
	}
	send := func(msg string) func(c *wsClient) {
		return func(c *wsClient) { c.send(wsFrame(true, wsOpText, []byte(msg))) }
	}
	fails := func(ev string) outcomes { return outcomes{"error": "boom " + ev} }
	ws("message", "/fail/message", "message", fails("message"), send("hi"))
	ws("ping", "/fail/ping", "ping", fails("ping"), func(c *wsClient) {
		c.send(wsFrame(true, wsOpPing, []byte("p")))
		c.expectFrame(wsOpPong, []byte("p")) // answered before the handler ran
	})
	ws("pong", "/fail/pong", "pong", fails("pong"), func(c *wsClient) { c.send(wsFrame(true, wsOpPong, []byte("q"))) })
	ws("timer", "/fail/timer", "timer", fails("timer"), func(c *wsClient) {})
	ws("drain", "/fail/drain", "drain", fails("drain"), func(c *wsClient) {
		f := c.readFrame() // reading it lets the queue drain
		if len(f.payload) != 300000 {
			t.Fatalf("got %v", f)
		}
	})
	ws("infinite-loop", "/", "message", outcomes{"handler timeout": "handler ran longer than 2s"}, send("spin"))
	ws("unbounded-recursion", "/", "message", outcomes{"error": "stack overflow"}, send("recurse"))
	// Whichever comes first: the 1 GiB cap or the 2 s timeout.
	ws("allocation-without-end", "/", "message", outcomes{"memory limit": "over --max-memory 1024 MiB",
		"handler timeout": "handler ran longer than 2s"}, send("hog1000000")) // 1 MB a turn: short Go calls
	ws("string.rep-1e10", "/", "message", outcomes{"error": "string.rep: the result would be 10000000000 bytes, over the 67108864-byte limit (--max-string)"}, send("rep"))
	ws("string.format-widths", "/", "message", outcomes{"error": "string.format: the result would be"}, send("format"))
	ws("loadstring-deep", "/", "message", outcomes{"error": "chunk has too many syntax levels"}, send("deep"))

	t.Run("closed", func(t *testing.T) {
		// An error in closed is only logged: the close handshake completes.
		c := wsDialPath(t, srv.Addr, "/fail/closed")
		c.closeCleanly()
		logged(t, "closed", "boom closed")
	})

	t.Run("gsub-1e5-replacements", func(t *testing.T) {
		// gopher-lua's own gsub took 19 s here, uninterruptible.
		c := wsDial(t, srv.Addr)
		began := time.Now()
		c.send(wsFrame(true, wsOpText, []byte("gsub")))
		c.expectFrame(wsOpText, []byte("gsub 200000 100000"))
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("took %s", d)
		}
		c.closeCleanly()
	})

	// The guard counted what it stopped; nothing else ended.
	stats := faultStats(t, srv.Addr)
	if stats["timeouts"]+stats["memory_interrupts"] != 2 {
		t.Fatalf("timeouts %v, memory_interrupts %v; want 2 in all", stats["timeouts"], stats["memory_interrupts"])
	}
	bystander.echo(wsOpText, []byte("still here"))
	bystander.closeCleanly()
	faultWaitCount(t, srv, 10*time.Second, 1)
	side.check(t, 3) // two runaway handlers held the loop for about 4 s of it
	faultNoCrash(t, srv)
	srv.stop()
}

// wsDialPath is wsDial with a request path.
func wsDialPath(t *testing.T, addr, path string) *wsClient {
	t.Helper()
	c := wsDialTCP(t, addr)
	key := wsKey()
	c.send([]byte(strings.Replace(wsUpgradeRequest(addr, key), "GET /chat ", "GET "+path+" ", 1)))
	if resp := c.readResponse(); resp.StatusCode != 101 {
		t.Fatalf("handshake on %s: %d", path, resp.StatusCode)
	}
	return c
}

// TestFaultMemoryCap: with no handler timeout at all, --max-memory alone
// stops a handler that allocates without end: close 1011 "memory limit",
// the heap size in the log, and the memory handed back afterwards.
func TestFaultMemoryCap(t *testing.T) {
	faultSetup(t)
	srv := faultStart(t, "", "script.lua", "--handler-timeout", "0", "--max-memory", "64MiB")
	side := faultStartSide(t, srv.Addr, 20*time.Second) // the loop is busy allocating meanwhile
	c := wsDial(t, srv.Addr)
	rss0 := srv.rssKiB()
	start := time.Now()
	c.send(wsFrame(true, wsOpText, []byte("hog16000000"))) // 16 MB a turn
	f, err := c.tryReadFrame(60 * time.Second)
	if err != nil || f.op != wsOpClose {
		t.Fatalf("want close 1011, got %v, %v", f, err)
	}
	if code, reason := f.closeCode(); code != 1011 || reason != "memory limit" {
		t.Fatalf("close %d %q, want 1011 memory limit", code, reason)
	}
	took := time.Since(start)
	line := rawWaitLogs(t, srv, 5*time.Second, 1, `msg="lua handler failed"`, "over --max-memory 64 MiB: handler interrupted")[0]
	stats := faultStats(t, srv.Addr)
	if stats["memory_interrupts"] != 1 || stats["timeouts"] != 0 {
		t.Fatalf("memory_interrupts %v, timeouts %v", stats["memory_interrupts"], stats["timeouts"])
	}
	// The garbage is collected at once (and handed back to the OS: without
	// -race the RSS falls back to its baseline; the race detector's shadow
	// memory stays).
	var heap float64
	waitFor(t, 10*time.Second, "the live heap back under the cap", func() bool {
		heap = faultStats(t, srv.Addr)["heap_bytes"]
		return heap < 64<<20
	})
	t.Logf("stopped after %s; %s; live heap %.1f MiB after; RSS %d KiB before, %d KiB after",
		took.Round(time.Millisecond), line[strings.Index(line, "err="):strings.Index(line, " traceback")], heap/(1<<20), rss0, srv.rssKiB())
	c.echoOrClosed(t)
	side.check(t, 1) // the loop was busy allocating meanwhile
	faultNoCrash(t, srv)
	srv.stop()
}

// echoOrClosed finishes the close handshake the server started.
func (c *wsClient) echoOrClosed(t *testing.T) {
	t.Helper()
	c.send(wsCloseFrame(1011, ""))
	c.expectEOF()
}
