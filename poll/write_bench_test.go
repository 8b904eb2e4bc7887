package poll

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkWrite2 is one frame (a 10-byte header and a payload) queued
// and written by a loop round, the peer reading it: the output path of a
// WebSocket echo. Payloads of DirectWrite and more take the writev path.
func BenchmarkWrite2(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			l, err := NewLoop(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			fds, err := socketPair()
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Close(fds[1])
			c, err := l.NewConn(fds[0], &echoHandler{})
			if err != nil {
				b.Fatal(err)
			}
			body := strings.Repeat("x", size)
			head := make([]byte, 10)
			back := make([]byte, 256<<10)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Write2(head, body)
				for got := 0; got < size+len(head); {
					l.Round(0)
					n, _ := unix.Read(fds[1], back)
					got += max(n, 0)
				}
			}
		})
	}
}
