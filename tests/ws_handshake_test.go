package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsOnEcho runs fn against scripts/echo.lua on each poller, then stops the
// server and wants a clean exit.
func wsOnEcho(t *testing.T, fn func(t *testing.T, addr string)) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		fn(t, srv.Addr)
		srv.stop()
	})
}

// TestWSHandshake: the opening handshake of RFC 6455 §4.2 against
// scripts/echo.lua, on both pollers. A valid request, whatever the case of
// its tokens and however its bytes are cut, gets 101 with the right
// Sec-WebSocket-Accept, and no subprotocol or extension the script did not
// choose.
func TestWSHandshake(t *testing.T) {
	wsOnEcho(t, func(t *testing.T, addr string) {
		t.Run("valid", func(t *testing.T) {
			// The key and accept value of the example in RFC 6455 §1.3.
			c := wsDialTCP(t, addr)
			c.send([]byte(wsUpgradeRequest(addr, "dGhlIHNhbXBsZSBub25jZQ==")))
			resp := c.readResponse()
			if resp.StatusCode != 101 {
				t.Fatalf("status %d, want 101", resp.StatusCode)
			}
			if a := resp.Header.Get("Sec-WebSocket-Accept"); a != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("Sec-WebSocket-Accept %q, want s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", a)
			}
			if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
				t.Fatalf("Upgrade %q", resp.Header.Get("Upgrade"))
			}
			if !wsHeaderHasToken(resp.Header, "Connection", "upgrade") {
				t.Fatalf("Connection %q", resp.Header.Values("Connection"))
			}
			if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
				t.Fatalf("no subprotocol was offered, but the server chose %q", p)
			}
			if e := resp.Header.Get("Sec-WebSocket-Extensions"); e != "" {
				t.Fatalf("no extension was offered, but the server answered %q", e)
			}
			c.echo(wsOpText, []byte("after the handshake"))
			c.closeCleanly()
		})

		t.Run("valid/case-insensitive-tokens", func(t *testing.T) {
			c := wsDialTCP(t, addr)
			key := wsKey()
			c.send([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n" +
				"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " + key +
				"\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n"))
			resp := c.readResponse()
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				t.Fatalf("status %d accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
			}
			c.echo(wsOpBinary, []byte{1, 2, 3})
		})

		t.Run("valid/request-in-pieces", func(t *testing.T) {
			c := wsDialTCP(t, addr)
			key := wsKey()
			req := []byte(wsUpgradeRequest(addr, key))
			for _, cut := range [][2]int{{0, 3}, {3, 20}, {20, len(req) - 2}, {len(req) - 2, len(req)}} {
				c.send(req[cut[0]:cut[1]])
				time.Sleep(5 * time.Millisecond)
			}
			if resp := c.readResponse(); resp.StatusCode != 101 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.echo(wsOpText, []byte("ok"))
		})

		t.Run("subprotocol-offered-none-chosen", func(t *testing.T) {
			// echo.lua selects no subprotocol: the answer must not name one
			// (RFC 6455 §4.2.2).
			c := wsDialTCP(t, addr)
			key := wsKey()
			c.send([]byte("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n"))
			resp := c.readResponse()
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				t.Fatalf("status %d accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
			}
			if p := resp.Header.Values("Sec-WebSocket-Protocol"); len(p) != 0 {
				t.Fatalf("server answered Sec-WebSocket-Protocol %q without selecting one", p)
			}
			c.echo(wsOpText, []byte("no subprotocol"))
		})

		t.Run("extension-offered-is-declined", func(t *testing.T) {
			// No extension is implemented, so permessage-deflate is not
			// accepted, and RSV1 stays a protocol error.
			c := wsDialTCP(t, addr)
			key := wsKey()
			c.send([]byte("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"))
			resp := c.readResponse()
			if resp.StatusCode != 101 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if e := resp.Header.Values("Sec-WebSocket-Extensions"); len(e) != 0 {
				t.Fatalf("server accepted extensions %q", e)
			}
			c.echo(wsOpText, []byte("uncompressed"))
			c.send(wsFrameWith(true, wsOpText, []byte("x"), wsFrameOpts{rsv: 0x40}))
			c.expectClose(1002)
		})
	})
}

// TestWSHandshakeEarlyFrames: frames a client pipelines behind its
// request (a whole frame, half a frame, a frame and a close) are served
// after the upgrade, not lost.
func TestWSHandshakeEarlyFrames(t *testing.T) {
	wsOnEcho(t, func(t *testing.T, addr string) {
		t.Run("first-frame-in-handshake-write", func(t *testing.T) {
			// A client may pipeline its first frame behind the request;
			// those bytes must not be lost.
			c := wsDial(t, addr, append(wsFrame(true, wsOpText, []byte("early bird")),
				wsFrame(true, wsOpBinary, []byte{0, 1, 2})...)...)
			c.expectFrame(wsOpText, []byte("early bird"))
			c.expectFrame(wsOpBinary, []byte{0, 1, 2})
			c.closeCleanly()
		})

		t.Run("partial-first-frame-in-handshake-write", func(t *testing.T) {
			// The leftover after the request head is half a frame; the
			// rest comes later.
			f := wsFrame(true, wsOpText, []byte("split across the upgrade"))
			c := wsDial(t, addr, f[:4]...)
			time.Sleep(20 * time.Millisecond)
			c.send(f[4:])
			c.expectFrame(wsOpText, []byte("split across the upgrade"))
			c.closeCleanly()
		})

		t.Run("first-frame-and-close-in-handshake-write", func(t *testing.T) {
			c := wsDial(t, addr, append(wsFrame(true, wsOpText, []byte("hi")), wsCloseFrame(1000, "bye")...)...)
			c.expectFrame(wsOpText, []byte("hi"))
			c.expectClose(1000)
		})
	})
}

// TestWSHandshakeHeadSize: ws.ParseRequest answers 431 once the head is
// longer than max_head (8192 bytes); a head of exactly 8192 bytes is served.
func TestWSHandshakeHeadSize(t *testing.T) {
	wsOnEcho(t, func(t *testing.T, addr string) {
		for _, tc := range []struct {
			size   int
			status int
		}{{8192, 101}, {8193, 431}} {
			t.Run(fmt.Sprintf("head-of-%d-bytes", tc.size), func(t *testing.T) {
				c := wsDialTCP(t, addr)
				head := wsUpgradeRequest(addr, wsKey())
				head = head[:len(head)-2] + "X-Pad: "
				head += strings.Repeat("p", tc.size-len(head)-4) + "\r\n\r\n"
				if len(head) != tc.size {
					t.Fatalf("test bug: head of %d bytes", len(head))
				}
				c.send([]byte(head))
				if resp := c.readResponse(); resp.StatusCode != tc.status {
					t.Fatalf("status %d for a %d-byte head, want %d", resp.StatusCode, tc.size, tc.status)
				}
				if tc.status == 101 {
					c.echo(wsOpText, []byte("big head"))
				} else {
					c.expectEOF()
				}
			})
		}
	})
}

// TestWSHandshakeRefusals: every refusal is an HTTP error with the right
// status (426 with Sec-WebSocket-Version: 13), never an accept value, after
// which the server closes TCP.
func TestWSHandshakeRefusals(t *testing.T) {
	wsOnEcho(t, func(t *testing.T, addr string) {
		key := wsKey()
		refusals := []struct {
			name   string
			req    string
			status []int
			header [2]string // a header the response must carry
		}{
			{name: "missing-key", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "bad-key/not-base64", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!!!not-base64-at-all!!!\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "bad-key/15-bytes", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "bad-key/empty", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "version-8", status: []int{426}, header: [2]string{"Sec-WebSocket-Version", "13"},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 8\r\n\r\n"},
			{name: "version-missing", status: []int{400, 426},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"},
			{name: "method-POST", status: []int{405, 400},
				req: "POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"},
			{name: "missing-upgrade", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "upgrade-not-websocket", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "missing-connection", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "connection-without-upgrade", status: []int{400},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "missing-host", status: []int{400},
				req: "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "http-1.0", status: []int{400, 505},
				req: "GET / HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
			{name: "garbage", status: []int{400},
				req: "HELLO THERE\r\n\r\n"},
			{name: "head-over-8KiB/complete", status: []int{431},
				req: "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
					"\r\nSec-WebSocket-Version: 13\r\nX-Padding: " + strings.Repeat("p", 9000) + "\r\n\r\n"},
			{name: "head-over-8KiB/unterminated", status: []int{431},
				req: "GET / HTTP/1.1\r\nHost: h\r\nX-Padding: " + strings.Repeat("p", 9000)},
		}
		for _, tc := range refusals {
			t.Run("refuse/"+tc.name, func(t *testing.T) {
				c := wsDialTCP(t, addr)
				c.send([]byte(tc.req))
				resp := c.readResponse()
				ok := false
				for _, s := range tc.status {
					ok = ok || resp.StatusCode == s
				}
				if !ok {
					t.Fatalf("status %d %q, want one of %v", resp.StatusCode, resp.Status, tc.status)
				}
				if resp.StatusCode == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
					t.Fatalf("426 without Sec-WebSocket-Version: 13 (RFC 6455 §4.4): %v", resp.Header)
				}
				if tc.header[0] != "" && resp.Header.Get(tc.header[0]) != tc.header[1] {
					t.Fatalf("header %s = %q, want %q", tc.header[0], resp.Header.Get(tc.header[0]), tc.header[1])
				}
				if resp.Header.Get("Sec-WebSocket-Accept") != "" {
					t.Fatal("a refusal carries Sec-WebSocket-Accept")
				}
				c.expectEOF()
			})
		}
	})
}

// TestWSHandshakeTimeout: a handshake that never completes gets 408 and a
// closed connection once the script's handshake_timeout passes; one that
// completes in time is unaffected. Both pollers.
func TestWSHandshakeTimeout(t *testing.T) {
	script := testdata(t, "ws/slow_handshake.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		for _, tc := range []struct{ name, sent string }{
			{"silent", ""},
			{"partial-head", "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := wsDialTCP(t, srv.Addr)
				start := time.Now()
				if tc.sent != "" {
					c.send([]byte(tc.sent))
				}
				resp := c.readResponse()
				elapsed := time.Since(start)
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("status %d, want 408", resp.StatusCode)
				}
				if elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
					t.Fatalf("timed out after %s; the script asked for 0.3 s", elapsed)
				}
				c.expectEOF()
			})
		}
		t.Run("completed-in-time-is-kept", func(t *testing.T) {
			c := wsDial(t, srv.Addr)
			time.Sleep(500 * time.Millisecond) // past the handshake timeout
			c.echo(wsOpText, []byte("still here"))
			c.closeCleanly()
		})
		srv.stop()
	})
}

func wsHeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
