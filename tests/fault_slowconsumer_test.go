package tests

import (
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFaultNeverReadingClients: 50 WebSocket clients that never read while
// a timer broadcasts 64 KiB every 10 ms, with --max-queued-bytes 4 MiB.
// Each is dropped with reason "slow consumer" once its queue passes the
// limit (code 1006, no close frame: the queue is dropped); the server's RSS
// stays bounded (queues grow by reallocation, so the peak is up to about
// twice 50 x 4 MiB); the side client, which reads, keeps getting its echoes
// and the broadcasts. Under -race the loop copies about 10 times slower,
// so the limit is 1 MiB there to keep the test short.
func TestFaultNeverReadingClients(t *testing.T) { faultEachLoop(t, testFaultNeverReadingClients) }

func testFaultNeverReadingClients(t *testing.T, poller string) {
	faultSetup(t)
	const sinks = 50
	maxQueued := 4 << 20
	if raceEnabled {
		maxQueued = 1 << 20
	}
	srv := faultStart(t, poller, "broadcaster.lua", "--max-queued-bytes", strconv.Itoa(maxQueued), "--high-water", strconv.Itoa(maxQueued/4), "--low-water", strconv.Itoa(maxQueued/16))
	side := faultStartSide(t, srv.Addr, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	rss0 := srv.rssKiB()
	stopPeak := make(chan struct{})
	peak := faultRSSPeak(srv, stopPeak)
	start := time.Now()

	// The sinks: a small receive buffer, a handshake, then never a read.
	var wg sync.WaitGroup
	conns := make([]*wsClient, sinks)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
			}}
			c, err := d.Dial("tcp", srv.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { c.Close() })
			conns[i] = &wsClient{Conn: c}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte(wsUpgradeRequest(srv.Addr, wsKey()))); err != nil {
				t.Error(err)
			}
			// Read nothing, not even the 101.
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	dropped := rawWaitLogs(t, srv, 60*time.Second, sinks, `msg="fault closed"`, "path=/chat", "code=1006", `reason="slow consumer"`)
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // more broadcasts after the drops
	close(stopPeak)
	peakKiB := <-peak
	if n := len(dropped); n != sinks {
		t.Fatalf("%d slow consumers dropped, want %d", n, sinks)
	}
	if n := faultLogCount(srv, `msg="fault closed"`, "path=/chat"); n != sinks {
		t.Fatalf("%d sinks ended, want %d:\n%s", n, sinks, rlTail(srv.Logs(), 20))
	}
	if n := faultLogCount(srv, `msg="fault closed"`, "path=/side"); n != 0 {
		t.Fatal("the side client was dropped")
	}
	faultWaitCount(t, srv, 5*time.Second, 1)
	// Each sink held at most maxQueued of queue, in a buffer up to twice
	// that while it grew.
	if grew := peakKiB - rss0; grew > faultRaceFactor*(sinks*2*maxQueued>>10+128<<10) {
		t.Fatalf("RSS grew by %d KiB (from %d KiB), more than %d sinks x 2 x %d KiB + 128 MiB", grew, rss0, sinks, maxQueued>>10)
	}
	rss := srv.rssKiB()
	t.Logf("%d never-reading clients dropped as slow consumers (queue limit %d KiB) within %s; RSS %d KiB -> peak %d -> %d KiB",
		sinks, maxQueued>>10, took.Round(time.Millisecond), rss0, peakKiB, rss)
	side.check(t, int(took/(50*time.Millisecond))/4)
	faultNoCrash(t, srv)
	srv.stop()
}
