package bindings

import (
	"testing"
	"time"
)

// TestDurationsObserve: a bound is inclusive, beyond the last goes to the
// overflow slot, and the sum adds up.
func TestDurationsObserve(t *testing.T) {
	var h Durations
	for _, d := range []time.Duration{0, DurationBuckets[0], DurationBuckets[0] + 1, time.Second, time.Hour} {
		h.Observe(d)
	}
	want := map[int]uint64{0: 2, 1: 1, 15: 1, len(DurationBuckets): 1}
	for i, n := range h.Counts {
		if n != want[i] {
			t.Errorf("slot %d: %d, want %d", i, n, want[i])
		}
	}
	if DurationBuckets[15] != time.Second {
		t.Fatalf("bucket 15 is %s", DurationBuckets[15])
	}
	if h.Sum != 2*DurationBuckets[0]+1+time.Second+time.Hour {
		t.Errorf("sum %s", h.Sum)
	}
	if ProtocolOf("http") != ProtoHTTP || ProtocolOf("raw") != ProtoRaw || ProtocolOf("gopher") != ProtoOther || ProtocolOf("other") != ProtoOther {
		t.Error("ProtocolOf")
	}
}

// BenchmarkHandlerTiming is what timing one handler call adds to the data
// path (engine.Server.invoke): two monotonic clock reads and a bucket scan.
func BenchmarkHandlerTiming(b *testing.B) {
	var h Durations
	epoch := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		start := time.Since(epoch)
		h.Observe(time.Since(epoch) - start)
	}
}

// BenchmarkTimeNowSince is the same with time.Now, for comparison.
func BenchmarkTimeNowSince(b *testing.B) {
	var h Durations
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		h.Observe(time.Since(start))
	}
}
