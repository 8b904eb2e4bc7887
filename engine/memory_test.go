package engine

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"golang.org/x/sys/unix"

	"pocketlua/scripts"
)

// BenchmarkIdleWebSocketMemory opens connections on socketpairs, runs the
// real handshake of scripts/echo.lua on each, and reports the live Go heap
// per idle connection after a GC (kernel socket memory is not included):
// heapB/conn is the growth from 2,000 to 4,000 connections.
// POCKETLUA_HEAPPROFILE=file writes a heap profile.
func BenchmarkIdleWebSocketMemory(b *testing.B) {
	const conns = 2000
	src, err := scripts.FS.ReadFile("echo.lua")
	if err != nil {
		b.Fatal(err)
	}
	handshake := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n" +
		"User-Agent: pocketlua-bench\r\n\r\n")
	if os.Getenv("POCKETLUA_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	for i := 0; i < b.N; i++ {
		s, _, _ := benchServer(b, string(src), 0)
		var peers []int
		open := func() {
			for j := 0; j < conns; j++ {
				fds, err := socketPair()
				if err != nil {
					b.Fatal(err)
				}
				peers = append(peers, fds[1])
				s.openConn(fds[0], nil, s.main)
			}
			for _, c := range s.connList() {
				if c.ws == nil {
					buf := append([]byte(nil), handshake...)
					c.Data(buf)
				}
			}
			s.loop.Round(0) // writes the 101 responses, releasing output buffers
			for _, c := range s.connList() {
				if c.ws == nil && c.id != 1 {
					b.Fatalf("connection %d not upgraded", c.id)
				}
			}
		}
		heap := func() uint64 {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		// The first batch also pays the fixed costs (the loop's output
		// buffer free list, 1 MiB once full); the second is the slope.
		h0 := heap()
		open()
		h1 := heap()
		open()
		h2 := heap()
		b.ReportMetric(float64(h1-h0)/conns, "firstB/conn")
		b.ReportMetric(float64(h2-h1)/conns, "heapB/conn")
		if path := os.Getenv("POCKETLUA_HEAPPROFILE"); path != "" {
			runtime.GC()
			f, _ := os.Create(path)
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		for _, p := range peers {
			unix.Close(p)
		}
	}
}
