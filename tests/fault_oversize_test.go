package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFaultOversizedInput: input far over the limits gets its precise
// answer, and the excess is never buffered (the server's RSS grows by far
// less than what was sent). Default limits: max_head 8192 (websocket.lua)
// and --max-message 16 MiB.
func TestFaultOversizedInput(t *testing.T) { faultEachLoop(t, testFaultOversizedInput) }

func testFaultOversizedInput(t *testing.T, poller string) {
	faultSetup(t)
	srv := faultStart(t, poller, "fault.lua")
	// The 100 MiB frames are built and masked before the side client
	// starts (slow under -race), so its echoes measure the server, not this
	// process; 5 s still leaves room for the copies of sending them.
	msg := wsRandom(100 << 20)
	oneFrame := wsFrame(true, wsOpBinary, msg)
	fragmented := wsFragments(wsOpBinary, msg, 1<<20)
	side := faultStartSide(t, srv.Addr, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()

	// peakGrowth runs fn and returns how far the server's RSS rose above
	// what it was before, at its highest.
	peakGrowth := func(fn func()) int {
		before := srv.rssKiB()
		stop := make(chan struct{})
		peak := faultRSSPeak(srv, stop)
		fn()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		return <-peak - before
	}
	httpRefusal := func(t *testing.T, head []byte, want int) {
		c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() { // the server refuses long before the end
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write(head)
		}()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		resp, err := faultReadHTTP(br)
		if err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		if resp.StatusCode != want {
			t.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
		b, err := br.ReadByte()
		if err == nil || (err.Error() != "EOF" && !faultIsReset(err)) {
			t.Fatalf("after the %d: byte %q, %v; want the connection closed", want, b, err)
		}
	}

	t.Run("header-line-1MiB", func(t *testing.T) {
		head := append([]byte("GET /chat HTTP/1.1\r\nHost: x\r\nX-Long: "), bytes.Repeat([]byte("a"), 1<<20)...)
		grew := peakGrowth(func() { httpRefusal(t, append(head, "\r\n\r\n"...), 431) })
		t.Logf("431; RSS +%d KiB", grew)
		if grew > faultRaceFactor*8<<10 {
			t.Fatalf("RSS grew by %d KiB for a refused 1 MiB header line", grew)
		}
	})

	t.Run("10000-headers", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(wsUpgradeRequest(srv.Addr, wsKey())[:strings.Index(wsUpgradeRequest(srv.Addr, "k"), "\r\n\r\n")+2])
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, "X-Header-%d: value\r\n", i)
		}
		b.WriteString("\r\n")
		grew := peakGrowth(func() { httpRefusal(t, []byte(b.String()), 431) })
		t.Logf("431 for %d bytes of headers; RSS +%d KiB", b.Len(), grew)
	})

	// frameRefusal sends data after a handshake and expects close 1009
	// with reason, then the TCP close.
	frameRefusal := func(t *testing.T, data []byte, reason string) {
		c := wsDial(t, srv.Addr)
		done := c.sendAsync(data)
		if got := c.expectCloseFrame(1009); got != reason {
			t.Fatalf("close reason %q, want %q", got, reason)
		}
		c.expectEOF()
		<-done // the server discards what follows its close frame, until it closes
	}

	t.Run("frame-2^62", func(t *testing.T) {
		// The header announces 4 EiB; 4 MiB follow to tempt a server that
		// buffers before it judges.
		data := append(wsFrameWith(true, wsOpBinary, nil, wsFrameOpts{length: wsPtr(uint64(1) << 62)}), make([]byte, 4<<20)...)
		grew := peakGrowth(func() { frameRefusal(t, data, "frame too big") })
		t.Logf("1009; RSS +%d KiB", grew)
		if grew > faultRaceFactor*8<<10 {
			t.Fatalf("RSS grew by %d KiB for a refused 2^62-byte frame", grew)
		}
	})

	t.Run("100MiB-one-frame", func(t *testing.T) {
		grew := peakGrowth(func() { frameRefusal(t, oneFrame, "frame too big") })
		t.Logf("1009; RSS +%d KiB", grew)
		if grew > faultRaceFactor*8<<10 {
			t.Fatalf("RSS grew by %d KiB for a refused 100 MiB frame", grew)
		}
	})

	t.Run("100MiB-fragmented", func(t *testing.T) {
		// 1 MiB fragments: the first 16 MiB are a legal message in the
		// making and are buffered; the 17th fragment's header ends it.
		grew := peakGrowth(func() { frameRefusal(t, fragmented, "message too big") })
		t.Logf("1009; RSS +%d KiB", grew)
		// 16 MiB is a legal message in the making; the buffer doubles up
		// to it (1+2+...+16 MiB allocated in all). Without -race the peak
		// growth measured about 50 MiB.
		if grew > faultRaceFactor*64<<10 {
			t.Fatalf("RSS grew by %d KiB for a refused 100 MiB message", grew)
		}
	})

	t.Run("still-serving", func(t *testing.T) {
		c := wsDial(t, srv.Addr)
		c.echo(wsOpText, []byte("fine"))
		c.closeCleanly()
	})
	faultWaitCount(t, srv, 10*time.Second, 1)
	side.check(t, int(time.Since(start)/(50*time.Millisecond))/4)
	faultNoCrash(t, srv)
	srv.stop()
}
