package engine

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkPublishFanout is one server.publish of a 32-byte text message
// to N WebSocket subscribers of one worker, through the whole path but
// the kernel's delivery: the hub's batch posted to the loop, the shared
// frame queued on every subscriber, one write each at the end of the
// round. batch messages are published per round (a busy server's
// rounds carry several). The peers are drained every 1000 rounds.
// cpu-ns/delivery is the process's CPU time (user and system), which a
// busy machine inflates less than the wall clock.
func BenchmarkPublishFanout(b *testing.B) {
	for _, tc := range []struct{ n, batch int }{{10, 1}, {100, 1}, {1000, 1}, {100, 10}} {
		n, batch := tc.n, tc.batch
		b.Run("subscribers="+strconv.Itoa(n)+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
			s, first, peer := benchServer(b, "return {}", 0)
			conns, peers := []*Conn{first}, []int{peer}
			for len(conns) < n {
				fds, err := socketPair()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { unix.Close(fds[1]) })
				before := s.nextID
				s.openConn(fds[0], nil, s.main)
				conns, peers = append(conns, s.conns[before+1]), append(peers, fds[1])
			}
			for _, c := range conns {
				if err := c.Upgrade("websocket", nil, ""); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Subscribe("bench.room"); err != nil {
					b.Fatal(err)
				}
			}
			data := strings.Repeat("x", 32)
			sink := make([]byte, 64<<10)
			drain := func() {
				for _, p := range peers {
					for {
						if k, _ := unix.Read(p, sink); k < len(sink) {
							break
						}
					}
				}
			}
			for _, p := range peers {
				unix.SetNonblock(p, true)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i += batch {
				for range batch {
					if err := s.Publish("bench.room", data, "", nil); err != nil {
						b.Fatal(err)
					}
				}
				s.loop.Round(0)
				if i/batch%1000 == 999 {
					drain()
				}
			}
			b.StopTimer()
			cpu = cpuTime() - cpu
			if got := s.ps.delivered; got < int64(b.N/batch*batch*n) {
				b.Fatalf("%d deliveries for %d messages to %d subscribers", got, b.N, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			b.ReportMetric(float64(cpu)/float64(b.N*n), "cpu-ns/delivery")
		})
	}
}
