package engine

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pocketlua/ws"
)

// deflateScript is a compressing echo with the given extra options.
func deflateScript(opts string) string {
	return `local WebSocket = require "websocket"
local Echo = WebSocket:extend({ compress = true, ` + opts + ` })
function Echo:message(data, kind)
  if not self.conn:send(data, kind) then self.conn:pause() end
end
function Echo:drain() self.conn:resume() end
return Echo`
}

// deflateChat is a JSON chat workload: n messages of about 100-300 bytes.
func deflateChat(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	words := strings.Fields("hello world the meeting is at noon lunch today anyone deploy done thanks see you later " +
		"ok sure why not build failed again fixed it now review please merged coffee release notes ship")
	out := make([][]byte, n)
	for i := range out {
		var text []byte
		for len(text) < 40+r.IntN(180) {
			text = append(append(text, words[r.IntN(len(words))]...), ' ')
		}
		out[i] = fmt.Appendf(nil, `{"type":"message","id":%d,"room":"general","user":{"name":%q,"id":%d},"ts":%d,"text":%q}`,
			100000+i, users[r.IntN(len(users))], r.IntN(1000), 1700000000000+int64(i)*1234, text)
	}
	return out
}

// clientFrame is a masked client frame; compressed sets RSV1.
func clientFrame(op byte, payload []byte, compressed bool) []byte {
	b0 := 0x80 | op
	if compressed {
		b0 |= 0x40
	}
	var f []byte
	switch n := len(payload); {
	case n < 126:
		f = []byte{b0, 0x80 | byte(n)}
	case n <= 0xFFFF:
		f = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		f = []byte{b0, 0x80 | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	start := len(f)
	f = append(f, payload...)
	ws.Mask(key, 0, f[start:])
	return f
}

// compressAlone is RFC 7692 §7.2.1 for one message without context.
func compressAlone(msg []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 6)
	w.Write(msg)
	w.Flush()
	return b.Bytes()[:b.Len()-4]
}

// upgradeWith runs the real handshake of the script on c with offer.
func upgradeWith(tb testing.TB, s *Server, c *Conn, offer string) {
	tb.Helper()
	req := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	c.Data([]byte(req + "\r\n"))
	if c.ws == nil {
		tb.Fatalf("not upgraded: conn %d open=%v", c.id, c.Open())
	}
	if (offer != "") != (c.ws.def != nil) {
		tb.Fatalf("offer %q: deflate negotiated %v", offer, c.ws.def != nil)
	}
}

// drainPeer reads and discards what the server wrote to the peer.
func drainPeer(fd int, buf []byte) int {
	total := 0
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return total
		}
		total += n
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds: on a
// busy machine it says more about the cost of an operation than the wall
// clock does.
func cpuTime() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDeflateEcho is one JSON chat message (about 185 bytes, sent
// compressed by the client without context takeover) through the whole
// server path but the socket read: decode, inflate, Lua echo, compress,
// write; the peer reads the echo. "wire" is the bytes written back per
// message; the plain case is the same message uncompressed both ways.
func BenchmarkDeflateEcho(b *testing.B) {
	msgs := deflateChat(1000)
	frames := make([][]byte, len(msgs))
	plainFrames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i] = clientFrame(0x1, compressAlone(m), true)
		plainFrames[i] = clientFrame(0x1, m, false)
	}
	cases := []struct {
		name, opts, offer string
	}{
		{"plain", "", ""},
		{"no-takeover", "", "permessage-deflate; client_no_context_takeover"},
		{"server-takeover", "compress_server_context_takeover = true", "permessage-deflate; client_no_context_takeover"},
		{"server-takeover-level2", "compress_server_context_takeover = true, compress_level = 2",
			"permessage-deflate; client_no_context_takeover"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, c, peer := benchServer(b, deflateScript(tc.opts), 0)
			upgradeWith(b, s, c, tc.offer)
			s.loop.Round(0)
			back := make([]byte, 64<<10)
			drainPeer(peer, back)
			in := make([]byte, 0, 1024)
			var wire, plain int64
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				f := frames[i%len(frames)]
				if tc.offer == "" {
					f = plainFrames[i%len(frames)]
				}
				in = append(in[:0], f...) // decoding unmasks in place
				c.Data(in)
				s.loop.Round(0)
				wire += int64(drainPeer(peer, back))
				plain += int64(len(msgs[i%len(msgs)]))
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.SetBytes(plain / int64(b.N))
			b.ReportMetric(float64(wire)/float64(b.N), "wire-B/msg")
		})
	}
}

// BenchmarkDeflateConnMemory reports the live Go heap per connection
// after the handshake (with the offer Chromium sends) and one 185-byte
// JSON message each way, for the ways compression can be set up.
// Kernel socket memory is not included.
func BenchmarkDeflateConnMemory(b *testing.B) {
	msg := deflateChat(1)[0]
	cases := []struct {
		name, opts, offer string
		conns             int
		compressedIn      bool
	}{
		{"no-compression", "", "", 1000, false},
		{"default", "", "permessage-deflate; client_max_window_bits", 1000, true},
		{"no-takeover-either-way", "compress_client_context_takeover = false", "permessage-deflate; client_max_window_bits", 1000, true},
		{"client-window-10", "compress_client_max_window_bits = 10", "permessage-deflate; client_max_window_bits", 1000, true},
		{"server-takeover", "compress_server_context_takeover = true", "permessage-deflate; client_max_window_bits", 100, true},
	}
	// A big message first, so that a client-takeover history is
	// full-grown: 40 KiB of chat; then one chat message.
	var history []byte
	for _, m := range deflateChat(220) {
		history = append(history, m...)
	}
	compressedIn := [][]byte{clientFrame(0x1, compressAlone(history), true), clientFrame(0x1, compressAlone(msg), true)}
	plainIn := [][]byte{clientFrame(0x1, history, false), clientFrame(0x1, msg, false)}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			in := plainIn
			if tc.compressedIn {
				in = compressedIn
			}
			for b.Loop() {
				s, _, _ := benchServer(b, deflateScript(tc.opts), 0)
				var peers []int
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for range tc.conns {
					fds, err := socketPair()
					if err != nil {
						b.Fatal(err)
					}
					peers = append(peers, fds[1])
					s.openConn(fds[0], nil, s.main)
				}
				back := make([]byte, 256<<10)
				for _, c := range s.connList() {
					if c.id == 1 {
						continue // benchServer's own, opened before the count
					}
					upgradeWith(b, s, c, tc.offer)
					for _, f := range in {
						c.Data(bytes.Clone(f)) // decoding unmasks in place
						s.loop.Round(0)
					}
				}
				for _, p := range peers {
					drainPeer(p, back)
				}
				s.loop.Round(0)
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tc.conns), "heapB/conn")
				for _, p := range peers {
					unix.Close(p)
				}
			}
		})
	}
}
