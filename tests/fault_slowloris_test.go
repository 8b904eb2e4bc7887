package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestFaultSlowloris: 2,000 connections send a WebSocket handshake one byte
// per second against handshake_timeout = 2. Each gets 408 and is closed
// about 2 s after it connected; the server's descriptors and RSS return to
// their baseline; a healthy client on the side keeps getting its echoes.
func TestFaultSlowloris(t *testing.T) { faultEachLoop(t, testFaultSlowloris) }

func testFaultSlowloris(t *testing.T, poller string) {
	faultSetup(t)
	const conns = 2000
	srv := faultStart(t, poller, "slowloris.lua")
	side := faultStartSide(t, srv.Addr, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	fds0, rss0 := srv.openFDs(), srv.rssKiB()

	stopPeak := make(chan struct{})
	peak := faultRSSPeak(srv, stopPeak)
	req := []byte(wsUpgradeRequest(srv.Addr, wsKey()))
	type result struct {
		status  int
		elapsed time.Duration // from the dial to the 408
		eof     bool
		sent    int
		err     error
	}
	results := make([]result, conns)
	var wg sync.WaitGroup
	dialers := make(chan struct{}, 100)
	start := time.Now()
	for i := range results {
		wg.Add(1)
		dialers <- struct{}{}
		go func() {
			defer wg.Done()
			r := &results[i]
			first := time.Now() // before the dial: the server's timer starts later
			c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
			<-dialers
			if err != nil {
				r.err = err
				return
			}
			defer c.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				resp, err := faultReadHTTP(br)
				if err != nil {
					r.err = fmt.Errorf("reading the response: %w", err)
					return
				}
				r.status, r.elapsed = resp.StatusCode, time.Since(first)
				n, err := io.Copy(io.Discard, br)
				r.eof = n == 0 && err == nil
				if err != nil {
					r.err = fmt.Errorf("after the response: %w", err)
				}
			}()
			for r.sent < len(req) {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(req[r.sent : r.sent+1]); err != nil {
					break // the server has closed; the reader tells
				}
				r.sent++
				select {
				case <-done:
					return
				case <-time.After(time.Second):
				}
			}
			<-done
		}()
	}
	wg.Wait()
	dialDone := time.Since(start)
	close(stopPeak)
	peakKiB := <-peak

	var slowest, fastest time.Duration = 0, time.Hour
	for i, r := range results {
		if r.err != nil || r.status != 408 || !r.eof {
			t.Fatalf("connection %d: status %d, eof %v, %d bytes sent, err %v", i, r.status, r.eof, r.sent, r.err)
		}
		slowest, fastest = max(slowest, r.elapsed), min(fastest, r.elapsed)
		if r.sent >= len(req) {
			t.Fatalf("connection %d sent its whole request", i)
		}
	}
	if fastest < 2*time.Second || slowest > 6*time.Second {
		t.Fatalf("408 came between %s and %s after the dial, want about 2 s", fastest, slowest)
	}
	// Each close is logged before its client sees the EOF, but the log
	// reaches the test through a pipe that may lag 2,000 lines behind.
	if n := len(rawWaitLogs(t, srv, 5*time.Second, conns, `msg="fault closed"`, "reason=closed")); n != conns {
		t.Fatalf("%d connections ended with reason closed, want %d", n, conns)
	}

	fds := faultWaitFDs(t, srv, 10*time.Second, fds0+2)
	faultWaitCount(t, srv, 5*time.Second, 1) // the side client
	rss := srv.rssKiB()
	t.Logf("%d slowloris connections: 408 after %s..%s (all done in %s); fds %d -> %d; RSS %d KiB -> peak %d -> %d KiB",
		conns, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), dialDone.Round(time.Millisecond), fds0, fds, rss0, peakKiB, rss)
	if rss > rss0+32<<10 {
		t.Fatalf("RSS %d KiB after the slowloris, baseline %d KiB", rss, rss0)
	}
	side.check(t, int(dialDone/(50*time.Millisecond))/4)
	faultNoCrash(t, srv)
	srv.stop()
}
