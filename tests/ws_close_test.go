package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// wsValidCloseCodes may be sent by a client (RFC 6455 §7.4 and the IANA
// registry): the server answers with the same code.
var wsValidCloseCodes = []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}

// wsInvalidCloseCodes must not appear on the wire: reserved, local-only or
// unassigned. The server fails the connection with 1002.
var wsInvalidCloseCodes = []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}

// TestWSClose: the closing handshake (RFC 6455 §5.5.1 and §7; Autobahn case
// 7). The server answers a close with a close, closes TCP, and delivers
// nothing after it. Both pollers.
func TestWSClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		t.Run("1000-with-reason", func(t *testing.T) {
			c := wsDial(t, addr)
			c.echo(wsOpText, []byte("hello"))
			c.send(wsCloseFrame(1000, "goodbye, κόσμε"))
			c.expectClose(1000)
		})

		t.Run("empty-payload", func(t *testing.T) {
			// §5.5.1: the answer to a close without a status may itself be
			// empty, or carry 1000.
			c := wsDial(t, addr)
			c.send(wsFrame(true, wsOpClose, nil))
			f := c.readFrame()
			code, _ := f.closeCode()
			if f.op != wsOpClose || !f.fin || (code != wsNoStatus && code != 1000) {
				t.Fatalf("got %v, want an empty close or close 1000", f)
			}
			c.expectEOF()
		})

		t.Run("reason-123-bytes", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsCloseFrame(1000, strings.Repeat("r", 123)))
			c.expectClose(1000)
		})

		t.Run("close-in-bytewise-writes", func(t *testing.T) {
			c := wsDial(t, addr)
			c.sendBytewise(wsCloseFrame(4000, "slow"), 500*time.Microsecond)
			c.expectClose(4000)
		})

		for _, code := range wsValidCloseCodes {
			t.Run(fmt.Sprintf("valid-code/%d", code), func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(wsCloseFrame(code, "reason"))
				c.expectClose(code)
			})
		}

		for _, code := range wsInvalidCloseCodes {
			t.Run(fmt.Sprintf("invalid-code/%d", code), func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(wsCloseFrame(code, ""))
				c.expectClose(1002)
			})
		}

		t.Run("payload-of-1-byte", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsFrame(true, wsOpClose, []byte{0x03}))
			c.expectClose(1002)
		})

		t.Run("reason-invalid-utf8", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsFrame(true, wsOpClose, append(wsClosePayload(1000, "bad "), 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65)))
			c.expectClose(1007)
		})

		t.Run("reason-truncated-utf8", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsFrame(true, wsOpClose, append(wsClosePayload(1000, "κόσμ"), 0xce)))
			c.expectClose(1007)
		})

		t.Run("close-payload-126-bytes", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsFrame(true, wsOpClose, wsClosePayload(1000, strings.Repeat("r", 124))))
			c.expectClose(1002)
		})

		t.Run("nothing-after-close/same-write", func(t *testing.T) {
			// §5.5.1: after sending a close the endpoint sends no more
			// data; the server must not echo what follows ours.
			c := wsDial(t, addr)
			c.send(append(append(wsCloseFrame(1000, ""), wsFrame(true, wsOpText, []byte("too late"))...),
				wsFrame(true, wsOpPing, []byte("too late"))...))
			c.expectClose(1000)
		})

		t.Run("nothing-after-close/later-write", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(wsCloseFrame(1000, ""))
			c.expectCloseFrame(1000)
			// The server may already be gone; a failed write is fine.
			c.SetWriteDeadline(time.Now().Add(wsIOTimeout))
			c.Write(wsFrame(true, wsOpText, []byte("too late")))
			c.expectEOF()
		})

		t.Run("ping-before-close-is-answered", func(t *testing.T) {
			c := wsDial(t, addr)
			c.send(append(wsFrame(true, wsOpPing, []byte("last")), wsCloseFrame(1001, "")...))
			c.expectFrame(wsOpPong, []byte("last"))
			c.expectClose(1001)
		})
		srv.stop()
	})
}
