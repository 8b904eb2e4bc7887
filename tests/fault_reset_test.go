package tests

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFaultResetAndHalfOpen: 5,000 connections in batches of 500, each
// ended by the client at a bad moment: reset (SO_LINGER 0) in the middle
// of the handshake, reset in the middle of a frame after the handshake, or
// a half-close (FIN, the client still reading) in the middle of the
// handshake. Nothing leaks: the server's descriptors and server.count()
// return to their baseline, every connection's closed handler ran once,
// nothing crashed, and the side client kept getting its echoes.
func TestFaultResetAndHalfOpen(t *testing.T) { faultEachLoop(t, testFaultResetAndHalfOpen) }

func testFaultResetAndHalfOpen(t *testing.T, poller string) {
	faultSetup(t)
	const batches, perBatch = 10, 500
	srv := faultStart(t, poller, "fault.lua")
	side := faultStartSide(t, srv.Addr, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	fds0 := srv.openFDs()
	start := time.Now()

	req := wsUpgradeRequest(srv.Addr, wsKey())
	// A frame announcing 1000 bytes, cut after its header and 10 bytes.
	frame := wsFrame(true, wsOpBinary, wsPattern(1000))[:8+10]
	kinds := []string{"reset mid-handshake", "reset mid-frame", "half-close mid-handshake"}
	var mu sync.Mutex
	failures := map[string]int{}
	var firstErr error
	for b := 0; b < batches; b++ {
		var wg sync.WaitGroup
		for i := 0; i < perBatch; i++ {
			kind := kinds[(b*perBatch+i)%len(kinds)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := faultAbuse(srv.Addr, kind, req, frame); err != nil {
					mu.Lock()
					failures[kind]++
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", kind, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if firstErr != nil {
		t.Fatalf("client side failures %v; first: %v", failures, firstErr)
	}
	took := time.Since(start)
	fds := faultWaitFDs(t, srv, 15*time.Second, fds0)
	faultWaitCount(t, srv, 10*time.Second, 1) // the side client
	total := batches * perBatch
	ended := 0
	for _, line := range rawLogLines(srv, `msg="fault closed"`) {
		if !strings.Contains(line, "path=/stats") { // faultWaitCount's own probes
			ended++
		}
	}
	resets := faultLogCount(srv, `msg="fault closed"`, `reason="connection reset by peer"`)
	peerClosed := faultLogCount(srv, `msg="fault closed"`, `reason="peer closed"`)
	if ended != total {
		t.Fatalf("closed ran %d times for %d connections", ended, total)
	}
	// Resets mid-handshake or mid-frame end as resets, half-closes as
	// "peer closed" (kinds take turns: 1667 + 1667 resets, 1666 FINs).
	if resets != 3334 || peerClosed != 1666 {
		t.Fatalf("%d resets and %d peer closed of %d connections, want 3334 and 1666", resets, peerClosed, total)
	}
	if n := faultLogCount(srv, "level=ERROR"); n != 0 {
		t.Fatalf("%d ERROR lines in the log:\n%s", n, rlTail(srv.Logs(), 20))
	}
	t.Logf("%d abusive connections in %s; closed: %d resets, %d peer closed; fds %d -> %d", total, took.Round(time.Millisecond), resets, peerClosed, fds0, fds)
	side.check(t, int(took/(50*time.Millisecond))/4)
	faultNoCrash(t, srv)
	srv.stop()
}

// faultAbuse opens one connection and ends it as kind says.
func faultAbuse(addr, kind, req string, frame []byte) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	switch kind {
	case "reset mid-handshake":
		if _, err := c.Write([]byte(req[:len(req)/2])); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // let the server read it
		faultLinger0(c)
	case "reset mid-frame":
		if _, err := c.Write([]byte(req)); err != nil {
			return err
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != 101 {
			return fmt.Errorf("handshake status %d", resp.StatusCode)
		}
		if _, err := c.Write(frame); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
		faultLinger0(c)
	case "half-close mid-handshake":
		if _, err := c.Write([]byte(req[:len(req)/2])); err != nil {
			return err
		}
		if err := tc.CloseWrite(); err != nil {
			return err
		}
		// The server sees EOF and closes: we read EOF, without any byte.
		var b [64]byte
		n, err := c.Read(b[:])
		if n != 0 || err == nil {
			return fmt.Errorf("after a half-close: %d bytes %q, %v", n, b[:n], err)
		}
		if faultIsReset(err) {
			return fmt.Errorf("after a half-close: %v, want EOF", err)
		}
	}
	return nil
}
