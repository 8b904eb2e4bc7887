package tests

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
	"time"
)

const pmd = "permessage-deflate"

// TestDeflateNegotiation: what the server answers to offers, through the
// real binary and websocket.lua, and that the frames then follow it.
func TestDeflateNegotiation(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		def := wsStartDeflate(t, poller, "")
		takeover := wsStartDeflate(t, poller, "compress_server_context_takeover = true, compress_client_max_window_bits = 11")
		off := startServer(t, poller, "../scripts/echo.lua")
		cases := []struct {
			srv   *server
			offer string
			want  string
		}{
			{def, pmd + "; client_max_window_bits", pmd + "; server_no_context_takeover"}, // Chromium's offer
			{def, pmd + "; server_no_context_takeover; client_no_context_takeover",
				pmd + "; server_no_context_takeover; client_no_context_takeover"}, // gorilla's
			{def, pmd, pmd + "; server_no_context_takeover"},
			{def, pmd + "; server_max_window_bits=10", pmd + "; server_no_context_takeover; server_max_window_bits=10"},
			{def, pmd + "; server_max_window_bits=7, " + pmd + "; client_no_context_takeover",
				pmd + "; server_no_context_takeover; client_no_context_takeover"},
			{def, "x-webkit-deflate-frame, " + pmd + "; unknown_param", ""},
			{def, pmd + "; server_max_window_bits", ""},
			{def, pmd + "; client_max_window_bits=16", ""},
			{def, pmd + "; server_no_context_takeover; server_no_context_takeover", ""},
			{takeover, pmd + "; client_max_window_bits", pmd + "; client_max_window_bits=11"},
			{takeover, pmd, pmd},
			{takeover, pmd + "; client_max_window_bits=9", pmd + "; client_max_window_bits=9"},
			{off, pmd + "; client_max_window_bits", ""}, // compress is off by default
		}
		for _, tc := range cases {
			c := wsDialDeflate(t, tc.srv.Addr, tc.offer)
			if c.ext != tc.want {
				t.Errorf("offer %q: answer %q, want %q", tc.offer, c.ext, tc.want)
				continue
			}
			if tc.want == "" {
				// Not negotiated: RSV1 is a protocol error.
				c.echo(wsOpText, []byte("plain"))
				c.send(wsFrameWith(true, wsOpText, []byte("x"), wsFrameOpts{rsv: 0x40}))
				c.expectClose(1002)
				continue
			}
			msg := bytes.Repeat([]byte("negotiated "), 20)
			c.sendCompressed(wsOpText, msg, 0)
			c.expectMessage(wsOpText, msg, true)
		}
		waitFor(t, 5*time.Second, "the open log line", func() bool {
			return strings.Contains(def.Logs(), `extensions="permessage-deflate; server_no_context_takeover"`)
		})
	})
}

// TestDeflateEcho: compressed messages of every length class, text and
// binary, one frame or fragmented, both ways; small ones come back plain.
func TestDeflateEcho(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := wsStartDeflate(t, poller, "compress_min_size = 64")
		for _, offer := range []string{pmd + "; client_max_window_bits", pmd} {
			t.Run(offer, func(t *testing.T) {
				d := wsDialDeflate(t, srv.Addr, offer)
				for _, n := range []int{0, 1, 63, 64, 125, 126, 127, 1000, 65535, 65536, 65537, 1 << 20} {
					for _, op := range []byte{wsOpText, wsOpBinary} {
						msg := wsTextOf(n, uint64(n))
						if op == wsOpBinary {
							msg = wsRandom(n)
						}
						errc := d.sendAsync(wsDeflateFrames(op, d.compress(msg), 0))
						gotOp, got, compressed := d.readMessage()
						if err := <-errc; err != nil {
							t.Fatal(err)
						}
						if gotOp != op || !bytes.Equal(got, msg) {
							t.Fatalf("%d-byte %#x message: echo op %#x, %d bytes", n, op, gotOp, len(got))
						}
						// The client compressed everything. The server leaves
						// messages below compress_min_size plain, and random
						// binary (compressing would not make it smaller);
						// text from 64 bytes on is compressed when that makes
						// it smaller, which it surely does from 1000 bytes.
						if (n < 64 || (op == wsOpBinary && n > 0)) && compressed {
							t.Fatalf("%d-byte %#x echo was compressed", n, op)
						}
						if n >= 1000 && op == wsOpText && !compressed {
							t.Fatalf("%d-byte text echo was not compressed", n)
						}
					}
				}
				// Fragmented: the compressed payload in 7-byte frames.
				for _, n := range []int{100, 5000} {
					msg := wsTextOf(n, 9)
					d.sendCompressed(wsOpText, msg, 7)
					d.expectMessage(wsOpText, msg, true)
				}
				// An uncompressed message on a compressed connection.
				plain := wsTextOf(500, 3)
				d.send(wsFrame(true, wsOpText, plain))
				d.expectMessage(wsOpText, plain, true)
				// A ping between the fragments of a compressed message.
				want := wsTextOf(300, 4)
				pl := d.compress(want)
				d.send(append(append(wsFrameWith(false, wsOpText, pl[:10], wsFrameOpts{rsv: 0x40}),
					wsFrame(true, wsOpPing, []byte("p"))...), wsFrame(true, wsOpCont, pl[10:])...))
				if f := d.readFrame(); f.op != wsOpPong || string(f.payload) != "p" || f.rsv != 0 {
					t.Fatalf("want a plain pong, got %v", f)
				}
				d.expectMessage(wsOpText, want, true)
				d.closeCleanly()
			})
		}
	})
}

// TestDeflateProtocolErrors: RSV1 where it may not be, bad compressed
// data, bad UTF-8 after inflating, and a zip bomb.
func TestDeflateProtocolErrors(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := wsStartDeflate(t, poller, "max_message = 1048576")
		offer := pmd + "; client_max_window_bits"
		cases := []struct {
			name string
			in   func(c *wsDeflateClient) []byte
			code int
		}{
			{"rsv1 on a continuation frame", func(c *wsDeflateClient) []byte {
				p := c.compress([]byte("hello hello hello"))
				return append(wsFrameWith(false, wsOpText, p[:3], wsFrameOpts{rsv: 0x40}),
					wsFrameWith(true, wsOpCont, p[3:], wsFrameOpts{rsv: 0x40})...)
			}, 1002},
			{"rsv1 on a ping", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpPing, nil, wsFrameOpts{rsv: 0x40})
			}, 1002},
			{"rsv1 on a close", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpClose, wsClosePayload(1000, ""), wsFrameOpts{rsv: 0x40})
			}, 1002},
			{"rsv2 on a message", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpText, []byte("x"), wsFrameOpts{rsv: 0x20})
			}, 1002},
			{"rsv1 and rsv3", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpText, c.compress([]byte("x")), wsFrameOpts{rsv: 0x50})
			}, 1002},
			{"invalid deflate data", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpBinary, []byte{0xff, 0xff, 0xff}, wsFrameOpts{rsv: 0x40})
			}, 1007},
			{"truncated deflate data", func(c *wsDeflateClient) []byte {
				p := c.compress(wsTextOf(2000, 1))
				return wsFrameWith(true, wsOpBinary, p[:len(p)/2], wsFrameOpts{rsv: 0x40})
			}, 1007},
			{"a match before the message start without context", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpBinary, []byte{0x02, 0x13, 0x00}, wsFrameOpts{rsv: 0x40})
			}, 1007},
			{"invalid utf-8 after inflating", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpText, c.compress([]byte("ok \xff\xfe bad")), wsFrameOpts{rsv: 0x40})
			}, 1007},
			{"truncated utf-8 after inflating, fragmented", func(c *wsDeflateClient) []byte {
				return wsDeflateFrames(wsOpText, c.compress([]byte("caf\xc3")), 2)
			}, 1007},
			{"inflates past max_message", func(c *wsDeflateClient) []byte {
				return wsFrameWith(true, wsOpBinary, c.compress(make([]byte, 1048577)), wsFrameOpts{rsv: 0x40})
			}, 1009},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := wsDialDeflate(t, srv.Addr, offer)
				first := []byte("first, a good one: hello hello hello hello")
				c.sendCompressed(wsOpText, first, 0)
				c.expectMessage(wsOpText, first, false) // below compress_min_size
				c.send(tc.in(c))
				c.expectClose(tc.code)
			})
		}

		t.Run("exactly max_message inflated", func(t *testing.T) {
			c := wsDialDeflate(t, srv.Addr, offer)
			msg := make([]byte, 1048576)
			errc := c.sendAsync(wsDeflateFrames(wsOpBinary, c.compress(msg), 0))
			c.expectMessage(wsOpBinary, msg, true)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})

		t.Run("zip bomb", func(t *testing.T) {
			// 256 MiB of zeros is about 256 KiB compressed; max_message is
			// 1 MiB. Inflating it all would show in the server's RSS.
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, 9)
			chunk := make([]byte, 1<<20)
			for range 256 {
				w.Write(chunk)
			}
			w.Flush()
			bomb := b.Bytes()[:b.Len()-4]
			before := srv.rssKiB()
			for i := range 3 {
				c := wsDialDeflate(t, srv.Addr, offer)
				errc := c.sendAsync(wsDeflateFrames(wsOpBinary, bomb, 32<<10))
				c.expectClose(1009)
				if err := <-errc; err != nil {
					t.Logf("bomb %d: the server closed while it was being sent: %v", i, err)
				}
			}
			after := srv.rssKiB()
			t.Logf("3 bombs of %d KiB (256 MiB inflated each): server RSS %d -> %d KiB", len(bomb)>>10, before, after)
			if after-before > 64<<10 {
				t.Fatalf("server RSS grew by %d KiB on a zip bomb", after-before)
			}
		})
	})
}

// TestDeflateContextTakeover: 1,000 chat messages each way with context
// takeover on both sides, then without; logs the ratios.
func TestDeflateContextTakeover(t *testing.T) {
	msgs := wsChatMessages(1000, 1)
	plain := 0
	for _, m := range msgs {
		plain += len(m)
	}
	for _, tc := range []struct {
		name, opts, offer string
	}{
		{"takeover both ways, level 2 (its default)", "compress_server_context_takeover = true", pmd},
		{"no takeover, level 1 (the default)", "", pmd + "; client_no_context_takeover"},
		{"takeover, level 1", "compress_server_context_takeover = true, compress_level = 1", pmd},
		{"takeover, level 6", "compress_server_context_takeover = true, compress_level = 6", pmd},
		{"takeover, level 9", "compress_server_context_takeover = true, compress_level = 9", pmd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wsStartDeflate(t, "epoll", tc.opts)
			c := wsDialDeflate(t, srv.Addr, tc.offer)
			wantServer := strings.Contains(tc.opts, "server_context_takeover = true")
			if c.serverTakeover != wantServer || c.clientTakeover != (tc.offer == pmd) {
				t.Fatalf("answer %q", c.ext)
			}
			wireOut := 0
			for i, m := range msgs {
				p := c.compress(m)
				wireOut += len(p)
				c.send(wsDeflateFrames(wsOpText, p, 0))
				if i%100 == 99 { // a hundred in flight at a time
					for j := i - 99; j <= i; j++ {
						op, got, _ := c.readMessage()
						if op != wsOpText || !bytes.Equal(got, msgs[j]) {
							t.Fatalf("message %d came back as %q", j, got)
						}
					}
				}
			}
			wireBack := c.wireIn + (plain - c.plainIn) // plain echoes count as they are
			t.Logf("%s: 1000 chat messages, %d bytes of JSON; payload bytes client->server %d (%.2fx), server->client %d (%.2fx)",
				tc.name, plain, wireOut, float64(plain)/float64(wireOut), wireBack, float64(plain)/float64(wireBack))
			if wantServer && float64(plain)/float64(wireBack) < 1.8 {
				t.Fatalf("server compression with takeover only %.2fx", float64(plain)/float64(wireBack))
			}
			c.closeCleanly()
		})
	}
}

// TestDeflateBroadcast: broadcasts to receivers that negotiated nothing,
// compression without takeover, a 9-bit window, and takeover; each
// decodes them, and the takeover receiver's stream stays in step while
// echoes are interleaved.
func TestDeflateBroadcast(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := wsStartDeflate(t, poller, "compress_server_context_takeover = true")
		plain := wsDialDeflate(t, srv.Addr, "")
		noctx := wsDialDeflate(t, srv.Addr, pmd+"; server_no_context_takeover")
		noctx2 := wsDialDeflate(t, srv.Addr, pmd+"; server_no_context_takeover; client_no_context_takeover")
		small := wsDialDeflate(t, srv.Addr, pmd+"; server_max_window_bits=9")
		ctx := wsDialDeflate(t, srv.Addr, pmd)
		if ctx.ext != pmd || noctx.serverTakeover || small.serverTakeover || plain.ext != "" {
			t.Fatalf("answers %q %q %q %q", ctx.ext, noctx.ext, small.ext, plain.ext)
		}
		all := []*wsDeflateClient{plain, noctx, noctx2, small, ctx}
		msgs := append(wsChatMessages(50, 7), wsTextOf(3000, 8))
		for i, m := range msgs {
			from := all[i%len(all)]
			cmd := append([]byte("bcast:text:"), m...)
			if from.ext != "" {
				from.sendCompressed(wsOpText, cmd, 0)
			} else {
				from.send(wsFrame(true, wsOpText, cmd))
			}
			for _, c := range all {
				op, got, compressed := c.readMessage()
				if op != wsOpText || !bytes.Equal(got, m) {
					t.Fatalf("broadcast %d: receiver %q got %q", i, c.ext, got)
				}
				switch {
				case c.ext == "" && compressed:
					t.Fatalf("broadcast %d: compressed to a receiver that did not negotiate", i)
				case c == ctx && !compressed:
					t.Fatalf("broadcast %d: plain to the takeover receiver", i)
				case c == small && len(m) > 512 && compressed:
					t.Fatalf("broadcast %d: %d bytes compressed beyond a 9-bit window", i, len(m))
				case c != small && len(m) >= 3000 && c.ext != "" && !compressed:
					t.Fatalf("broadcast %d: %d bytes of text sent plain to %q", i, len(m), c.ext)
				}
			}
			ctx.sendCompressed(wsOpText, m, 0)
			ctx.expectMessage(wsOpText, m, true)
		}
		for _, c := range all {
			c.closeCleanly()
		}
	})
}
