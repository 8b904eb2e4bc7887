package tests

import (
	"fmt"
	"testing"
)

// TestWSControl: pings, pongs, reserved bits, reserved opcodes and
// unmasked frames (Autobahn cases 2.x, 3.x and 4.x). Both pollers.
func TestWSControl(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		// RFC 6455 §5.5.2-3: a pong answers with the ping's payload.
		for _, tc := range []struct {
			name    string
			payload []byte
		}{
			{"empty", nil},
			{"text-10", []byte("Hello, pong")},
			{"binary-125", wsRandom(125)},
		} {
			t.Run("ping/"+tc.name, func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(wsFrame(true, wsOpPing, tc.payload))
				c.expectFrame(wsOpPong, tc.payload)
				c.closeCleanly()
			})
		}

		t.Run("ping/ten-in-one-write", func(t *testing.T) {
			c := wsDial(t, addr)
			var buf []byte
			for i := range 10 {
				buf = append(buf, wsFrame(true, wsOpPing, []byte(fmt.Sprintf("ping %d", i)))...)
			}
			c.send(buf)
			for i := range 10 {
				c.expectFrame(wsOpPong, []byte(fmt.Sprintf("ping %d", i)))
			}
			c.closeCleanly()
		})

		t.Run("pong/unsolicited-is-ignored", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(append(wsFrame(true, wsOpPong, []byte("unsolicited")), wsFrame(true, wsOpPong, nil)...))
			c.echo(wsOpText, []byte("after the pongs"))
			c.closeCleanly()
		})

		// Each violation: the server answers a close with the code and
		// then closes TCP, answering nothing that follows (the trailing
		// ping below).
		trailer := wsFrame(true, wsOpPing, []byte("must not be answered"))
		violations := []wsViolation{
			{"ping-126-bytes", wsFrame(true, wsOpPing, wsPattern(126)), 1002},
			{"pong-126-bytes", wsFrame(true, wsOpPong, wsPattern(126)), 1002},
			{"fragmented-ping", wsFrame(false, wsOpPing, []byte("frag")), 1002},
			{"fragmented-pong", wsFrame(false, wsOpPong, []byte("frag")), 1002},
			{"fragmented-close", wsFrame(false, wsOpClose, wsClosePayload(1000, "")), 1002},
			{"unmasked-text", wsFrameWith(true, wsOpText, []byte("naked"), wsFrameOpts{unmasked: true}), 1002},
			{"unmasked-ping", wsFrameWith(true, wsOpPing, []byte("naked"), wsFrameOpts{unmasked: true}), 1002},
			{"unmasked-empty-binary", wsFrameWith(true, wsOpBinary, nil, wsFrameOpts{unmasked: true}), 1002},
		}
		for _, rsv := range []struct {
			name string
			bits byte
		}{{"rsv1", 0x40}, {"rsv2", 0x20}, {"rsv3", 0x10}, {"rsv1+2+3", 0x70}} {
			violations = append(violations,
				wsViolation{"reserved-bits/" + rsv.name + "/text", wsFrameWith(true, wsOpText, []byte("Hello"), wsFrameOpts{rsv: rsv.bits}), 1002},
				wsViolation{"reserved-bits/" + rsv.name + "/ping", wsFrameWith(true, wsOpPing, []byte("Hello"), wsFrameOpts{rsv: rsv.bits}), 1002},
			)
		}
		violations = append(violations, wsViolation{"reserved-bits/rsv1/continuation", append(wsFrame(false, wsOpText, []byte("a")),
			wsFrameWith(true, wsOpCont, []byte("b"), wsFrameOpts{rsv: 0x40})...), 1002})
		for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
			violations = append(violations,
				wsViolation{fmt.Sprintf("reserved-opcode/%d", op), wsFrame(true, op, nil), 1002},
				wsViolation{fmt.Sprintf("reserved-opcode/%d/with-payload", op), wsFrame(true, op, []byte("reserved")), 1002},
			)
		}
		for _, v := range violations {
			t.Run(v.name, func(t *testing.T) {
				c := wsDial(t, addr)
				// A valid message first: it is echoed, the violation
				// closes, and the ping after it is never answered.
				c.send(append(append(wsFrame(true, wsOpText, []byte("before")), v.bytes...), trailer...))
				c.expectFrame(wsOpText, []byte("before"))
				c.expectClose(v.code)
			})
		}
		srv.stop()
	})
}
