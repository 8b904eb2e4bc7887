package main

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// consumeFixture is a worker whose sends go to /dev/null and a byte stream
// of n echoes of its message, as a server would send them.
func consumeFixture(tb testing.TB, size, n int) (*echoWorker, *window, []byte) {
	tb.Helper()
	cfg := defaultConfig("echo")
	cfg.Size, cfg.Pipeline = size, 1
	w := newEchoWorker(&cfg, &target{}, 0)
	w.hist = new(histogram)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { null.Close() })
	w.fd = int(null.Fd())
	w.writeBy = time.Now().Add(time.Hour)
	now := time.Now()
	win := &window{from: now.Add(-time.Hour), to: now.Add(time.Hour)}
	payload := make([]byte, size)
	fillPayload(payload, false, 0)
	var stream []byte
	for seq := range uint64(n) {
		putSeq(payload[:seqDigits(size)], seq)
		stream = append(stream, serverFrame(true, opBinary, payload)...)
	}
	return w, win, stream
}

// TestConsumeNoAlloc holds the load side to its promise: validating an
// echo, recording its latency and sending the next message allocate nothing.
func TestConsumeNoAlloc(t *testing.T) {
	w, win, stream := consumeFixture(t, 200, 64)
	allocs := testing.AllocsPerRun(20, func() {
		w.reset()
		w.inflight = 64
		if err := w.consume(win, stream); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("consume allocates %v times per 64 echoes", allocs)
	}
	if w.msgs != 21*64 {
		t.Fatalf("counted %d echoes", w.msgs)
	}
}

// BenchmarkConsume measures the load side's per-message work outside the
// kernel: frame parsing, byte-for-byte validation, latency recording, and
// one write(2) of the next frame (to /dev/null).
func BenchmarkConsume(b *testing.B) {
	for _, size := range []int{32, 4096} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			w, win, stream := consumeFixture(b, size, 64)
			b.ReportAllocs()
			b.SetBytes(int64(size) * 64)
			for b.Loop() {
				w.reset()
				w.inflight = 64
				if err := w.consume(win, stream); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/msg")
		})
	}
}
