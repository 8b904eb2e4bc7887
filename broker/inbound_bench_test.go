package broker

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// BenchmarkInbound: messages of 100 bytes from one node to another
// through a real broker, timed until the receiver has taken or dropped
// every one (or the sender dropped it); dropped/op says how many were lost.
func BenchmarkInbound(b *testing.B) {
	for _, kind := range []string{"nats", "redis"} {
		b.Run(kind, func(b *testing.B) {
			url := brokertest.Start(b, kind).URL
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			hubs := [2]*Hub{NewHub(), NewHub()}
			var remotes [2]Remote
			for i, h := range hubs {
				r, err := Dial(url, h, Queue{}, log)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(r.Close)
				remotes[i] = r
			}
			sender := hubs[0].Join(func(func()) {}, func([]*Message) {})
			recv := hubs[1].Join(func(fn func()) { go fn() }, func([]*Message) {})
			recv.Subscribed("bench")
			accounted := func() int64 {
				in := remotes[1].Stats()
				return in.Received + in.InDropped + remotes[0].Stats().Dropped
			}
			// The subscription takes effect a little after Subscribed.
			for i := 0; remotes[1].Stats().Received == 0; i++ {
				if i == 500 {
					b.Fatal("no probe arrived")
				}
				sender.Publish("bench", "probe", false, 0)
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // the probes sent meanwhile arrived
			base := accounted()
			data := strings.Repeat("x", 100)
			const window = 1024 // in flight at most: a flood would measure drops
			b.ReportAllocs()
			b.ResetTimer()
			deadline := time.Now().Add(time.Minute)
			for i := 0; i < b.N; i++ {
				for int64(i)-(accounted()-base) >= window {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d accounted for after a minute", accounted()-base, i)
					}
					time.Sleep(20 * time.Microsecond)
				}
				sender.Publish("bench", data, false, 0)
			}
			for accounted()-base < int64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d accounted for after a minute", accounted()-base, b.N)
				}
				time.Sleep(20 * time.Microsecond)
			}
			b.StopTimer()
			in := remotes[1].Stats()
			b.ReportMetric(float64(in.InDropped+remotes[0].Stats().Dropped)/float64(b.N), "dropped/op")
		})
	}
}
