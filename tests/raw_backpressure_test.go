package tests

import (
	"io"
	"testing"
	"time"
)

// TestRawBackpressure: a script that sends while send returns true sees
// false exactly when its queue passes --high-water (the default 1 MiB), as
// conn:buffered() shows; while the client does not read, the server cannot
// finish (16 MiB is more than the kernel's buffers hold); once the client
// reads, drain fires (once per false) and the script sends the rest. The
// client gets all 16 MiB in order, then the END marker.
func TestRawBackpressure(t *testing.T) {
	rawQuickExit(t)
	const total = 16 << 20
	script := testdata(t, "raw/pump.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		c := rawDialSmallRcvBuf(t, srv.Addr)

		first := rawWaitLogs(t, srv, 5*time.Second, 1, `msg="send returned false"`)[0]
		m := rawBufferedField.FindStringSubmatch(first)
		if m == nil {
			t.Fatalf("no buffered= in %s", first)
		}
		// The send that returns false is the one that takes the queue past
		// the 1 MiB high-water mark.
		if b := rawAtoi(t, m[1]); b <= 1<<20 || b > 1<<20+64<<10 {
			t.Fatalf("first false from send with %d bytes queued, want above the 1 MiB high-water mark by at most one 64 KiB chunk:\n%s", b, first)
		}

		// The client does not read yet: the script must stay blocked.
		time.Sleep(300 * time.Millisecond)
		if l := rawLogLines(srv, `msg="all sent"`); len(l) > 0 {
			t.Fatalf("the script sent all 16 MiB to a client that reads nothing: %s", l[0])
		}
		drainsBefore := len(rawLogLines(srv, `msg="drain fired"`))

		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		got := make([]byte, total)
		if n, err := io.ReadFull(c.r, got); err != nil {
			t.Fatalf("read after %d of %d bytes: %v; logs:\n%s", n, total, err, srv.Logs())
		}
		const pat = "0123456789abcdef"
		for i := 0; i < total; i++ {
			if got[i] != pat[i%16] {
				t.Fatalf("byte %d is %q, want %q", i, got[i], pat[i%16])
			}
		}
		c.expect("END")
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg="all sent"`)
		if after := len(rawLogLines(srv, `msg="drain fired"`)); after <= drainsBefore {
			t.Fatalf("drain fired %d times before the client read and %d times in all: want more once it reads", drainsBefore, after)
		}
		falses := len(rawLogLines(srv, `msg="send returned false"`))
		drainsAll := len(rawLogLines(srv, `msg="drain fired"`))
		if drainsAll != falses {
			t.Fatalf("send returned false %d times but drain fired %d times: want one drain per false", falses, drainsAll)
		}
		c.Close()
		srv.stop()
	})
}

// TestRawSlowConsumer: with --max-queued-bytes 1 MiB and --high-water
// 256 KiB, four clients that never read while the script keeps sending are
// each closed with reason "slow consumer" (code nil), every client sees its
// connection end, no Lua error is logged, and the server's RSS grows by less
// than 64 MiB.
func TestRawSlowConsumer(t *testing.T) {
	rawQuickExit(t)
	const clients = 4
	script := testdata(t, "raw/flood.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--max-queued-bytes", "1048576", "--high-water", "262144", "--low-water", "65536", script)
		rssBefore := srv.rssKiB()
		var cs []*rawClient
		for i := 0; i < clients; i++ {
			cs = append(cs, rawDialSmallRcvBuf(t, srv.Addr))
		}
		for _, c := range cs {
			rawWaitLogs(t, srv, 20*time.Second, 1, `msg=closed`, "peer="+c.LocalAddr().String()+" ", `reason="slow consumer"`, "code=nil")
		}
		rssAfter := srv.rssKiB()
		if grow := rssAfter - rssBefore; grow > 64<<10 {
			t.Fatalf("server RSS grew by %d KiB (from %d to %d) with %d slow consumers capped at 1 MiB each", grow, rssBefore, rssAfter, clients)
		}
		t.Logf("RSS %d KiB -> %d KiB", rssBefore, rssAfter)
		for i, c := range cs {
			// What reached the client's socket buffer may be read; then the end.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c.r)
			if rawIsTimeout(err) {
				t.Fatalf("client %d: connection still open 10s after the server dropped it as a slow consumer (read %d bytes)", i, n)
			}
		}
		if l := rawLogLines(srv, "lua handler failed"); len(l) > 0 {
			t.Fatalf("unexpected Lua error: %s", l[0])
		}
		if got := len(rawLogLines(srv, `reason="slow consumer"`)); got != clients {
			t.Fatalf("%d slow-consumer closes logged, want %d; logs:\n%s", got, clients, srv.Logs())
		}
		srv.stop()
	})
}
