package tests

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The runtime's tables seen through the real server: a raw TCP class whose
// commands exercise what scripts do with tables (third_party/gopher-lua).

// tablesClient connects and reads the greeting.
func tablesClient(t *testing.T, addr string) *rawClient {
	c := dialRaw(t, addr)
	c.expect("hi")
	return c
}

func (c *rawClient) ask(cmd string) string {
	c.t.Helper()
	c.send(cmd + "\n")
	return c.line()
}

// tablesHeapKiB asks for collectgarbage("collect") then "count": the live
// Go heap in KiB, and how many members the set holds.
func tablesHeapKiB(t *testing.T, c *rawClient) (float64, int) {
	t.Helper()
	f := strings.Fields(c.ask("mem"))
	if len(f) != 2 {
		t.Fatalf("mem answered %q", f)
	}
	kib, err := strconv.ParseFloat(f[0], 64)
	n, err2 := strconv.Atoi(f[1])
	if err != nil || err2 != nil {
		t.Fatalf("mem answered %q", f)
	}
	return kib, n
}

// churn opens n connections from 4 goroutines in a tight loop: connect,
// read the greeting (start ran), reset (no TIME_WAIT to run out of ports).
func churn(t *testing.T, addr string, n int) {
	t.Helper()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Minute)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 3)
			for next.Add(1) <= int64(n) && time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					failed.Store(err)
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = c.Read(buf)
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				if err != nil || string(buf) != "hi\n" {
					failed.Store(fmt.Errorf("greeting %q: %v", buf, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("churn: %v", err)
	}
	if time.Now().After(deadline) {
		t.Fatalf("churn of %d connections did not finish in 3 minutes", n)
	}
}

// TestTablesChurnStaysFlat: a class that adds self to a module-level set in
// start and removes it in closed, 100,000 connections later, holds no more
// Go heap than after the first few thousand. (Race-free pass only: the
// race detector makes 100,000 connections slow.)
func TestTablesChurnStaysFlat(t *testing.T) {
	if raceEnabled {
		t.Skip("100,000 connections: run without -race (tests/run's second pass)")
	}
	srv := startServer(t, "epoll", testdata(t, "runtime/tables.lua"))
	ctl := tablesClient(t, srv.Addr)
	churn(t, srv.Addr, 2000) // warm-up: buffers, pools, the set's own size
	before, _ := tablesHeapKiB(t, ctl)
	start := time.Now()
	churn(t, srv.Addr, 100000)
	took := time.Since(start)
	var after float64
	var members int
	// closed runs when the server sees each reset: wait for the last ones.
	waitFor(t, 20*time.Second, "every churned connection closed", func() bool {
		after, members = tablesHeapKiB(t, ctl)
		return members == 1
	})
	t.Logf("Go heap after collection: %.0f KiB after 2,000 connections, %.0f KiB after 100,000 more (%+.0f KiB); churn took %v",
		before, after, after-before, took.Round(time.Millisecond))
	if after-before > 384 {
		t.Fatalf("Go heap grew by %.0f KiB over 100,000 connections (from %.0f to %.0f KiB)", after-before, before, after)
	}
	srv.stop()
}

// TestTablesNetworkIntegerKeys: a number a client sends, used as a table
// key, costs O(1) whatever its size: ids[n] = true for n up to 2^53 answers
// at once (the time is logged for docs/PERFORMANCE.md, not asserted) and
// the server's RSS grows by less than 8 MiB.
func TestTablesNetworkIntegerKeys(t *testing.T) {
	if raceEnabled {
		t.Skip("RSS bound: run without -race (tests/run's second pass)")
	}
	srv := startServer(t, "epoll", "--handler-timeout", "2s", testdata(t, "runtime/tables.lua"))
	c := tablesClient(t, srv.Addr)
	c.ask("mem")
	rss := srv.rssKiB()
	keys := []string{"20000000", "67108865", "4294967296", "1000000000000000", "9007199254740991", "9007199254740992", "-5", "2.5"}
	for i, k := range keys {
		start := time.Now()
		got := c.ask("key " + k)
		took := time.Since(start)
		// #ids stays 0: no key 1; every key is counted once.
		if want := fmt.Sprintf("true 0 %d", i+1); got != want {
			t.Fatalf("key %s: got %q, want %q", k, got, want)
		}
		t.Logf("ids[%s] = true: answered in %v", k, took.Round(time.Microsecond))
	}
	if got := c.ask("key 1"); got != fmt.Sprintf("true 1 %d", len(keys)+1) {
		t.Fatalf("key 1: got %q", got)
	}
	c.ask("mem")
	if grow := srv.rssKiB() - rss; grow >= 8<<10 {
		t.Fatalf("RSS grew by %d KiB for %d sparse keys", grow, len(keys))
	} else {
		t.Logf("RSS %d KiB before, %+d KiB after the sparse keys", rss, grow)
	}
	if strings.Contains(srv.Logs(), "handler timeout") {
		t.Fatalf("a handler timed out; logs:\n%s", srv.Logs())
	}
	srv.stop()
}

// TestTablesWeakAndClearing: weak-keyed and weak-valued tables lose the
// entries whose objects nothing else holds once collectgarbage() returns,
// and keep the others; clearing a table inside pairs visits every key once.
func TestTablesWeakAndClearing(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "runtime/tables.lua"))
	c := tablesClient(t, srv.Addr)
	// wk: 100 fresh tables and kept; wv: t[1..100] fresh tables, kept and a string.
	if got := c.ask("weak"); got != "101 102 100" {
		t.Fatalf("weak: got %q", got)
	}
	if got := c.ask("weakcheck"); got != "1 2 0 kept true nil" {
		t.Fatalf("after collectgarbage: got %q, want %q", got, "1 2 0 kept true nil")
	}
	// 500 array keys, 500 strings, 500 sparse integers (4096 and up), 4 others.
	if got := c.ask("clear"); got != "1504 nil 0" {
		t.Fatalf("clear: got %q", got)
	}
	srv.stop()
}
