package tests

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestWSFragmentation: fragmented messages (RFC 6455 §5.4; Autobahn cases
// 5.x) reassemble into one echo; control frames may come between the
// fragments; a broken fragment sequence is 1002. Both pollers.
func TestWSFragmentation(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		for _, tc := range []struct {
			op   byte
			n    int
			size int // fragment size
		}{
			{wsOpText, 20, 10},  // 2 fragments
			{wsOpText, 30, 10},  // 3
			{wsOpText, 100, 10}, // 10
			{wsOpText, 30, 1},   // 1-byte fragments
			{wsOpBinary, 2, 1},  // 2 one-byte fragments
			{wsOpBinary, 65536, 1000},
			{wsOpText, 200000, 65536},
			{wsOpBinary, 70000, 65535},
		} {
			t.Run(fmt.Sprintf("%s-%d-in-%d-byte-fragments", wsOpName(tc.op), tc.n, tc.size), func(t *testing.T) {
				c := wsDial(t, addr)
				msg := wsPattern(tc.n)
				if tc.op == wsOpBinary {
					msg = wsRandom(tc.n)
				}
				done := c.sendAsync(wsFragments(tc.op, msg, tc.size))
				c.expectFrame(tc.op, msg)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				c.closeCleanly()
			})
		}

		t.Run("fragments-in-separate-writes", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsFrame(false, wsOpText, []byte("frag1 ")))
			time.Sleep(10 * time.Millisecond)
			c.send(wsFrame(false, wsOpCont, []byte("frag2 ")))
			time.Sleep(10 * time.Millisecond)
			c.send(wsFrame(true, wsOpCont, []byte("frag3")))
			c.expectFrame(wsOpText, []byte("frag1 frag2 frag3"))
			c.closeCleanly()
		})

		t.Run("empty-fragments", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(append(wsFrame(false, wsOpText, nil), wsFrame(true, wsOpCont, nil)...))
			c.expectFrame(wsOpText, []byte{})
			c.send(append(append(wsFrame(false, wsOpBinary, nil), wsFrame(false, wsOpCont, []byte("mid"))...),
				wsFrame(true, wsOpCont, nil)...))
			c.expectFrame(wsOpBinary, []byte("mid"))
			c.closeCleanly()
		})

		t.Run("ping-between-fragments/pong-comes-first", func(t *testing.T) {
			// The pong must not wait for the message to complete.
			c := wsDial(t, addr)
			c.send(wsFrame(false, wsOpText, []byte("fragment1 ")))
			c.send(wsFrame(true, wsOpPing, []byte("mid-message ping")))
			c.expectFrame(wsOpPong, []byte("mid-message ping"))
			c.send(wsFrame(true, wsOpCont, []byte("fragment2")))
			c.expectFrame(wsOpText, []byte("fragment1 fragment2"))
			c.closeCleanly()
		})

		t.Run("ping-between-fragments/one-write", func(t *testing.T) {
			c := wsDial(t, addr)
			var b []byte
			b = append(b, wsFrame(false, wsOpBinary, []byte{1, 2})...)
			b = append(b, wsFrame(true, wsOpPing, []byte("p1"))...)
			b = append(b, wsFrame(false, wsOpCont, []byte{3})...)
			b = append(b, wsFrame(true, wsOpPing, []byte("p2"))...)
			b = append(b, wsFrame(true, wsOpCont, []byte{4})...)
			c.send(b)
			c.expectFrame(wsOpPong, []byte("p1"))
			c.expectFrame(wsOpPong, []byte("p2"))
			c.expectFrame(wsOpBinary, []byte{1, 2, 3, 4})
			c.closeCleanly()
		})

		t.Run("ping-between-one-byte-fragments", func(t *testing.T) {
			c := wsDial(t, addr)
			msg := []byte("fragmented")
			var b []byte
			for i := range msg {
				op := wsOpCont
				if i == 0 {
					op = wsOpText
				}
				b = append(b, wsFrame(i == len(msg)-1, op, msg[i:i+1])...)
				if i < len(msg)-1 {
					b = append(b, wsFrame(true, wsOpPing, []byte{byte('0' + i)})...)
				}
			}
			c.send(b)
			for i := range len(msg) - 1 {
				c.expectFrame(wsOpPong, []byte{byte('0' + i)})
			}
			c.expectFrame(wsOpText, msg)
			c.closeCleanly()
		})

		t.Run("pong-between-fragments-is-ignored", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(append(append(wsFrame(false, wsOpText, []byte("a")), wsFrame(true, wsOpPong, []byte("x"))...),
				wsFrame(true, wsOpCont, []byte("b"))...))
			c.expectFrame(wsOpText, []byte("ab"))
			c.closeCleanly()
		})

		t.Run("close-between-fragments", func(t *testing.T) {
			// A control frame in the middle of a message is legal; a close
			// there ends the connection normally.
			c := wsDial(t, addr)
			c.send(append(wsFrame(false, wsOpText, []byte("never finished")), wsCloseFrame(1000, "bye")...))
			c.expectClose(1000)
		})

		for _, v := range []wsViolation{
			{"continuation-without-start/final", wsFrame(true, wsOpCont, []byte("orphan")), 1002},
			{"continuation-without-start/non-final", wsFrame(false, wsOpCont, []byte("orphan")), 1002},
			{"continuation-after-complete-message", append(wsFrame(true, wsOpText, []byte("done")),
				wsFrame(true, wsOpCont, []byte("late"))...), 1002},
			{"text-inside-fragmented-text", append(wsFrame(false, wsOpText, []byte("a")),
				wsFrame(true, wsOpText, []byte("b"))...), 1002},
			{"binary-inside-fragmented-text", append(wsFrame(false, wsOpText, []byte("a")),
				wsFrame(false, wsOpBinary, []byte("b"))...), 1002},
			{"text-inside-fragmented-binary", append(append(wsFrame(false, wsOpBinary, []byte("a")),
				wsFrame(false, wsOpCont, []byte("b"))...), wsFrame(true, wsOpText, []byte("c"))...), 1002},
		} {
			t.Run(v.name, func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(append(v.bytes, wsFrame(true, wsOpPing, []byte("unanswered"))...))
				if v.name == "continuation-after-complete-message" {
					c.expectFrame(wsOpText, []byte("done"))
				}
				c.expectClose(v.code)
			})
		}
		srv.stop()
	})
}

// TestWSFragmentedReassemblyCost: reassembling a message costs time linear
// in its size, however small its fragments. A buffer that grows only to
// the end of the current fragment is copied again for every fragment:
// quadratic, and the one event loop stalls for every client. Linear
// reassembly takes well under a second here even under -race; the bounds
// are 10 s for 2 MiB in 32-byte fragments and 3 s for 64 KiB in 1-byte
// fragments. Epoll only; its own server, as a failure leaves it busy.
func TestWSFragmentedReassemblyCost(t *testing.T) {
	srv := startServer(t, "epoll", "../scripts/echo.lua")
	for _, tc := range []struct {
		n, size int
		limit   time.Duration
	}{{2 << 20, 32, 10 * time.Second}, {64 << 10, 1, 3 * time.Second}} {
		if t.Failed() {
			break // the server is still busy with the case that failed
		}
		t.Run(fmt.Sprintf("%d-bytes-in-%d-byte-fragments", tc.n, tc.size), func(t *testing.T) {
			c := wsDial(t, srv.Addr)
			msg := wsRandom(tc.n)
			start := time.Now()
			done := c.sendAsync(wsFragments(wsOpBinary, msg, tc.size))
			f, err := c.tryReadFrame(tc.limit)
			if err != nil {
				t.Fatalf("no echo of %d bytes sent in %d-byte fragments after %s (%v): reassembly is "+
					"slower than linear (see ws.Decoder.grow)", tc.n, tc.size, time.Since(start), err)
			}
			if f.op != wsOpBinary || !f.fin || !bytes.Equal(f.payload, msg) {
				t.Fatalf("got %v, want the %d-byte binary message", f, tc.n)
			}
			<-done
			t.Logf("%d bytes in %d-byte fragments echoed in %s", tc.n, tc.size, time.Since(start))
			c.closeCleanly()
		})
	}
	if t.Failed() {
		return // the loop may still be busy reassembling; the cleanup kills it
	}
	srv.stop()
}
