package tests

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRawMaxConns: with --max-conns 5 the sixth connection is closed at
// once (EOF within a second, no greeting, no Lua event) while the five keep
// echoing; once one of the five has closed, a new connection is served.
func TestRawMaxConns(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/greeter.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--max-conns", "5", script)
		cs := make([]*rawClient, 5)
		for i := range cs {
			cs[i] = dialRaw(t, srv.Addr)
			cs[i].expect("hello")
		}
		extra := dialRaw(t, srv.Addr)
		took := extra.expectEOF(time.Second)
		extra.Close()
		t.Logf("sixth connection saw EOF after %s", took)
		for i, c := range cs {
			c.roundTrip(fmt.Sprintf("still %d", i), fmt.Sprintf("still %d", i))
		}
		if l := rawLogLines(srv, "conn closed"); len(l) > 0 {
			t.Fatalf("closed ran before any served connection closed: %s", l[0])
		}

		gone := cs[0].LocalAddr().String()
		cs[0].Close()
		rawWaitLogs(t, srv, 5*time.Second, 1, "conn closed", "peer="+gone+" ", `reason="peer closed"`)
		next := dialRaw(t, srv.Addr)
		next.expect("hello")
		next.roundTrip("served", "served")
		for _, c := range append(cs[1:], next) {
			c.Close()
		}
		srv.stop()
	})
}

var rawBufferedField = regexp.MustCompile(`buffered=(\d+)`)

// TestRawSigterm: SIGTERM with 20 connections open, each with output its
// client has not read yet (64 KiB, or 6 MiB for every fifth, more than the
// kernel's buffers take, so part of it is still queued in the server) and a
// goodbye line: closed runs once per connection with reason "shutdown"
// (code nil), each client still reads all it was sent then EOF (and then
// closes), and the process exits 0 within --shutdown-grace, before the grace
// is over.
func TestRawSigterm(t *testing.T) {
	rawQuickExit(t)
	const clients = 20
	const grace = 5 * time.Second
	script := testdata(t, "raw/goodbye.lua")
	size := func(i int) int {
		if i%5 == 0 {
			return 6 << 20
		}
		return 64 << 10
	}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--shutdown-grace", grace.String(), script)
		cs := make([]*rawClient, clients)
		for i := range cs {
			cs[i] = rawDialSmallRcvBuf(t, srv.Addr)
			cs[i].expect("hello")
			cs[i].send(fmt.Sprintf("fill %d\n", size(i)))
		}
		rawWaitLogs(t, srv, 10*time.Second, clients, `msg=filled`)

		sent := time.Now()
		exited := make(chan time.Duration, 1)
		go func() { <-srv.done; exited <- time.Since(sent) }()
		if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, clients)
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(grace + 5*time.Second))
				got, err := io.ReadAll(c.r)
				c.Close()
				want := append(bytes.Repeat([]byte("0123456789abcdef"), size(i)/16), "goodbye\n"...)
				if err != nil {
					errs[i] = fmt.Errorf("client %d: %v after %d bytes", i, err, len(got))
				} else if !bytes.Equal(got, want) {
					errs[i] = fmt.Errorf("client %d: %s", i, rawFirstDiff(got, want))
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("after SIGTERM: %v; logs:\n%s", err, srv.Logs())
			}
		}
		code, ok := srv.rawExitWithin(grace + time.Second)
		if !ok {
			t.Fatalf("server still running %s after SIGTERM; logs:\n%s", time.Since(sent), srv.Logs())
		}
		took := <-exited
		if code != 0 || took > grace {
			t.Fatalf("server exited with %d after %s, want 0 within %s; logs:\n%s", code, took, grace, srv.Logs())
		}
		if l := rawLogLines(srv, "grace over"); len(l) > 0 {
			t.Fatalf("shutdown needed the whole grace period: %s", l[0])
		}
		closed := rawLogLines(srv, "conn closed")
		shutdown := rawLogLines(srv, "conn closed", "reason=shutdown ", "code=nil")
		if len(closed) != clients || len(shutdown) != clients {
			t.Fatalf("closed ran %d times, %d with reason shutdown; want %d and %d; logs:\n%s",
				len(closed), len(shutdown), clients, clients, srv.Logs())
		}
		for _, c := range cs {
			if n := len(rawLogLines(srv, "conn closed", "peer="+c.LocalAddr().String()+" ")); n != 1 {
				t.Fatalf("closed ran %d times for %s", n, c.LocalAddr())
			}
		}
		if l := rawLogLines(srv, "lua handler failed"); len(l) > 0 {
			t.Fatalf("unexpected Lua error: %s", l[0])
		}
		queued := 0
		for _, l := range shutdown {
			if m := rawBufferedField.FindStringSubmatch(l); m != nil {
				queued += rawAtoi(t, m[1])
			}
		}
		if queued == 0 {
			t.Fatalf("no output was queued in the server at shutdown: the test did not exercise the flush")
		}
		t.Logf("exit 0 after %s; %d bytes were still queued in the server when closed ran", took, queued)
	})
}

// TestRawSigtermSlowReader: the grace period is for the connections to
// finish: with --shutdown-grace 10s, a client that reads steadily but slowly
// (64 KiB every 20 ms, at most 3.2 MB/s, so 12 MiB takes about 4 s) still gets
// all 12 MiB queued before SIGTERM and the goodbye line, then EOF, and the
// server exits 0 before the grace is over.
func TestRawSigtermSlowReader(t *testing.T) {
	rawQuickExit(t)
	const size = 12 << 20
	const grace = 10 * time.Second
	script := testdata(t, "raw/goodbye.lua")
	want := append(bytes.Repeat([]byte("0123456789abcdef"), size/16), "goodbye\n"...)
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--shutdown-grace", grace.String(), script)
		c := rawDialSmallRcvBuf(t, srv.Addr)
		c.expect("hello")
		c.send(fmt.Sprintf("fill %d\n", size))
		rawWaitLogs(t, srv, 10*time.Second, 1, `msg=filled`)

		sent := time.Now()
		exited := make(chan time.Duration, 1)
		go func() { <-srv.done; exited <- time.Since(sent) }()
		if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 64<<10)
		c.SetReadDeadline(time.Now().Add(grace + 5*time.Second))
		var err error
		for {
			var n int
			n, err = io.ReadFull(c.r, buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		readFor := time.Since(sent)
		c.Close()
		if (err != io.EOF && err != io.ErrUnexpectedEOF) || !bytes.Equal(got, want) {
			t.Fatalf("slow reader after SIGTERM: %v after %s: %s (queued output dropped before the %s grace was over?); logs:\n%s",
				err, readFor.Round(time.Millisecond), rawFirstDiff(got, want), grace, srv.Logs())
		}
		code, ok := srv.rawExitWithin(grace)
		if !ok || code != 0 {
			t.Fatalf("exit %d (exited: %v) after SIGTERM, want 0 within %s; logs:\n%s", code, ok, grace, srv.Logs())
		}
		if took := <-exited; took > grace {
			t.Fatalf("server exited %s after SIGTERM, want within %s", took, grace)
		}
		if l := rawLogLines(srv, "conn closed", "reason=shutdown "); len(l) != 1 {
			t.Fatalf("closed ran %d times with reason shutdown, want 1; logs:\n%s", len(l), srv.Logs())
		}
	})
}

// TestRawSigtermRightAfterListening: the listening line promises a running
// server, so a SIGTERM sent as soon as it appears must shut down gracefully
// (exit 0), not kill the process with the signal's default action. Ten
// tries per poller, since the window is narrow.
func TestRawSigtermRightAfterListening(t *testing.T) {
	rawQuickExit(t)
	eachPoller(t, func(t *testing.T, poller string) {
		for i := 0; i < 10; i++ {
			srv := startServer(t, poller, "../scripts/tcp_echo.lua")
			code, ok := srv.signal(syscall.SIGTERM, 10*time.Second)
			if !ok {
				t.Fatalf("run %d: no exit within 10s of SIGTERM", i)
			}
			if code != 0 {
				t.Fatalf("run %d: SIGTERM sent right after the listening line: exit %d (%v), want 0 after a graceful shutdown; "+
					"the signal handler is installed only after the line is printed; logs:\n%s",
					i, code, srv.cmd.ProcessState, strings.TrimSpace(srv.Logs()))
			}
		}
	})
}
