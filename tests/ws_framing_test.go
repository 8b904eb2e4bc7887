package tests

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// wsSizeClasses are payload lengths at every boundary of the three length
// encodings (RFC 6455 §5.2), plus big ones.
var wsSizeClasses = []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20}

// wsBigMessage is just under the server's default --max-message (16 MiB).
const wsBigMessage = 16<<20 - 1024

// TestWSFraming: messages of every length class echo intact, whole, one
// byte per write, many per write, and with non-minimal length encodings
// (Autobahn cases 1.x and 9.x in spirit). Both pollers; the 16 MiB case on
// epoll only, and as binary only without -race (it costs seconds there).
func TestWSFraming(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		for _, op := range []byte{wsOpText, wsOpBinary} {
			sizes := wsSizeClasses
			if poller == "epoll" && (op == wsOpText || !raceEnabled) {
				sizes = append(sizes[:len(sizes):len(sizes)], wsBigMessage)
			}
			for _, n := range sizes {
				t.Run(fmt.Sprintf("whole/%s/%d", wsOpName(op), n), func(t *testing.T) {
					c := wsDial(t, addr)
					var payload []byte
					if op == wsOpText {
						payload = wsPattern(n)
					} else {
						payload = wsRandom(n)
					}
					done := c.sendAsync(wsFrame(true, op, payload))
					c.expectFrame(op, payload)
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					c.echo(op, []byte("next"))
					c.closeCleanly()
				})
			}
		}

		// One byte per write, TCP_NODELAY on, a short pause between
		// writes: the header, the mask key and the payload all arrive
		// split at every position.
		for _, tc := range []struct {
			op byte
			n  int
		}{{wsOpText, 0}, {wsOpText, 1}, {wsOpText, 125}, {wsOpBinary, 126}, {wsOpBinary, 127}} {
			t.Run(fmt.Sprintf("bytewise/%s/%d", wsOpName(tc.op), tc.n), func(t *testing.T) {
				c := wsDial(t, addr)
				payload := wsPattern(tc.n)
				c.sendBytewise(wsFrame(true, tc.op, payload), 500*time.Microsecond)
				c.expectFrame(tc.op, payload)
				c.closeCleanly()
			})
		}

		t.Run("bytewise/ping-and-close", func(t *testing.T) {
			c := wsDial(t, addr)
			c.sendBytewise(wsFrame(true, wsOpPing, []byte("ping!")), 500*time.Microsecond)
			c.expectFrame(wsOpPong, []byte("ping!"))
			c.sendBytewise(wsCloseFrame(1000, "done"), 500*time.Microsecond)
			c.expectClose(1000)
		})

		t.Run("many-frames-one-write", func(t *testing.T) {
			c := wsDial(t, addr)
			type msg struct {
				op      byte
				payload []byte
			}
			var msgs []msg
			var buf []byte
			for i := range 300 {
				op, p := wsOpText, wsPattern(i%200)
				if i%3 == 1 {
					op, p = wsOpBinary, wsRandom(i*7%400)
				}
				if i == 150 {
					p = wsRandom(70000)
					op = wsOpBinary
				}
				msgs = append(msgs, msg{op, p})
				buf = append(buf, wsFrame(true, op, p)...)
			}
			done := c.sendAsync(buf)
			for i, m := range msgs {
				f := c.readFrame()
				if f.op != m.op || !f.fin || !bytes.Equal(f.payload, m.payload) {
					t.Fatalf("message %d: got %v, want op %#x with %d bytes", i, f, m.op, len(m.payload))
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			c.closeCleanly()
		})

		t.Run("frames-split-across-writes", func(t *testing.T) {
			// Two frames cut at odd places: inside the first header's
			// 16-bit length, inside its mask key, and across the boundary
			// between the two frames.
			c := wsDial(t, addr)
			a, b := wsPattern(300), wsRandom(5)
			stream := append(wsFrame(true, wsOpText, a), wsFrame(true, wsOpBinary, b)...)
			for _, cut := range [][2]int{{0, 3}, {3, 6}, {6, 100}, {100, 306}, {306, 309}, {309, len(stream)}} {
				c.send(stream[cut[0]:cut[1]])
				time.Sleep(2 * time.Millisecond)
			}
			c.expectFrame(wsOpText, a)
			c.expectFrame(wsOpBinary, b)
			c.closeCleanly()
		})

		// RFC 6455 §5.2 asks senders for the minimal length encoding; a
		// receiver gains nothing by refusing a longer one, and this
		// server accepts it.
		for _, tc := range []struct {
			name string
			n    int
			form int
		}{
			{"len0-as-16bit", 0, 126},
			{"len5-as-16bit", 5, 126},
			{"len5-as-64bit", 5, 127},
			{"len300-as-64bit", 300, 127},
			{"len0-as-64bit", 0, 127},
		} {
			t.Run("non-minimal-length/"+tc.name, func(t *testing.T) {
				c := wsDial(t, addr)
				payload := wsPattern(tc.n)
				c.send(wsFrameWith(true, wsOpText, payload, wsFrameOpts{lenForm: tc.form}))
				c.expectFrame(wsOpText, payload)
				c.closeCleanly()
			})
		}

		t.Run("zero-mask-key", func(t *testing.T) {
			c := wsDial(t, addr)
			var zero [4]byte
			c.send(wsFrameWith(true, wsOpText, []byte("clear"), wsFrameOpts{key: &zero}))
			c.expectFrame(wsOpText, []byte("clear"))
			c.closeCleanly()
		})
		srv.stop()
	})
}

// TestWSBackpressure: a client writes without reading, through a small
// receive window, until echo.lua's queue passes the high-water mark (a
// probe subclass logs it), so that its send returns false and it pauses
// reading; the client then stops writing and reads everything. The paused
// input waits, reading resumes on drain, and every message comes back
// once, whole, in order. Both pollers.
func TestWSBackpressure(t *testing.T) {
	script := testdata(t, "ws/probe.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--high-water", "262144", "--low-water", "65536", script)
		d := &net.Dialer{Timeout: wsIOTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			})
		}}
		c := wsHandshake(wsDialTCPWith(t, srv.Addr, d), srv.Addr)
		const most, size = 64, 256 << 10
		msgs := make([][]byte, most)
		for i := range msgs {
			msgs[i] = wsRandom(size)
		}
		var sent atomic.Int32
		var stop atomic.Bool
		done := make(chan error, 1)
		go func() {
			c.SetWriteDeadline(time.Now().Add(4 * wsIOTimeout))
			for i := 0; i < most && !stop.Load(); i++ {
				sent.Add(1)
				if _, err := c.Write(wsFrame(true, wsOpBinary, msgs[i])); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		over := func() bool { return strings.Contains(srv.Logs(), "probe: over high water") }
		deadline := time.Now().Add(4 * wsIOTimeout)
		for !over() && sent.Load() < most && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		stop.Store(true)
		time.Sleep(100 * time.Millisecond) // the server stays paused meanwhile
		writerDone := false
		for i := 0; ; i++ {
			if !writerDone && i == int(sent.Load()) {
				// Everything sent so far came back, so the writer is not
				// blocked: it is on its way out.
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				writerDone = true
			}
			if writerDone && i == int(sent.Load()) {
				break
			}
			f := c.readFrame()
			if f.op != wsOpBinary || !f.fin || !bytes.Equal(f.payload, msgs[i]) {
				t.Fatalf("message %d of %d: got %v", i, sent.Load(), f)
			}
		}
		c.closeCleanly()
		if !over() || !strings.Contains(srv.Logs(), "probe: drain") {
			t.Fatalf("after %d messages of %d bytes the queue never passed the high-water mark, "+
				"so pause and drain went untested; logs:\n%s", sent.Load(), size, srv.Logs())
		}
		t.Logf("%d messages of %d bytes echoed through a pause", sent.Load(), size)
		srv.stop()
	})
}

func wsOpName(op byte) string {
	switch op {
	case wsOpText:
		return "text"
	case wsOpBinary:
		return "binary"
	}
	return fmt.Sprintf("op%d", op)
}
