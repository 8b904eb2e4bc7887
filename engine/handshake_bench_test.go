package engine

import (
	"testing"

	"golang.org/x/sys/unix"

	"pocketlua/scripts"
)

// BenchmarkHandshake is one connection's life under `pocketbench connect`
// without the network: open on a socketpair, the whole handshake of
// scripts/echo.lua (Lua, parsing, the 101 written), then close. Allocations
// per op are the figure to watch; time includes the socketpair syscalls.
func BenchmarkHandshake(b *testing.B) {
	src, err := scripts.FS.ReadFile("echo.lua")
	if err != nil {
		b.Fatal(err)
	}
	s, _, _ := benchServer(b, string(src), 0)
	head := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n" +
		"User-Agent: pocketlua-bench\r\n\r\n")
	buf := make([]byte, len(head))
	var resp [512]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fds, err := socketPair()
		if err != nil {
			b.Fatal(err)
		}
		id := s.nextID + 1
		s.openConn(fds[0], nil, s.main)
		c := s.conns[id]
		copy(buf, head)
		c.Data(buf)
		s.loop.Round(0) // writes the 101
		if c.ws == nil {
			b.Fatal("not upgraded")
		}
		if n, _ := unix.Read(fds[1], resp[:]); n < 12 || string(resp[9:12]) != "101" {
			b.Fatalf("response %q", resp[:max(n, 0)])
		}
		unix.Close(fds[1])
		s.loop.Round(0) // the hang-up closes the connection
		if !c.ended() {
			c.pc.Abort(nil)
		}
	}
}
