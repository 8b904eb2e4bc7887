package sandbox

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A quiet release that comes too soon after the last one still happens once
// the interval is over, and two of them in the interval make one.
func TestQuietReleaseDeferredNotDropped(t *testing.T) {
	prev := releaseInterval
	releaseInterval = 200 * time.Millisecond
	t.Cleanup(func() { releaseInterval = prev })
	for releasing.Load() || deferred.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	lastRelease.Store(0)
	start := releases.Load()
	ReleaseMemory(false)
	if got := releases.Load() - start; got != 1 {
		t.Fatalf("first quiet release: %d started, want 1", got)
	}
	ReleaseMemory(false)
	ReleaseMemory(false)
	if got := releases.Load() - start; got != 1 {
		t.Fatalf("quiet releases within the interval started %d at once, want them deferred", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for releases.Load()-start < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := releases.Load() - start; got != 2 {
		t.Fatalf("after the interval: %d releases started, want 2 (the deferred one, once)", got)
	}
	time.Sleep(3 * releaseInterval)
	if got := releases.Load() - start; got != 2 {
		t.Fatalf("%d releases in all, want 2: the deferred call ran more than once", got)
	}
}

func TestHeadroomPercent(t *testing.T) {
	for _, c := range []struct {
		base, headroom int64
		live           uint64
		want           int64
	}{
		{50, 16 << 20, 16 << 20, 100},   // live 16 MiB: garbage (16+16)×0.5 = 16 MiB = 100%
		{50, 16 << 20, 4 << 20, 250},    // live 4 MiB: 10 MiB of garbage
		{50, 16 << 20, 1 << 30, 50},     // a large heap: the headroom hardly matters
		{100, 256 << 20, 0, 100_000},    // nothing live yet: capped
		{100, 256 << 20, 1024, 100_000}, // capped
	} {
		if got := headroomPercent(c.base, c.headroom, c.live); got != c.want {
			t.Errorf("headroomPercent(%d, %d, %d) = %d, want %d", c.base, c.headroom, c.live, got, c.want)
		}
	}
}

// The headroom follows collections: with a small live heap the percent in
// force rises above the base.
func TestGCHeadroomRaisesPercent(t *testing.T) {
	prev := debug.SetGCPercent(50)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	stop := GCHeadroom(64 << 20)
	defer stop()
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // the finalizer runs after the collection
	}
	got := debug.SetGCPercent(50)
	if got <= 50 {
		t.Fatalf("GC percent %d after collections with 64 MiB of headroom and a small heap, want above 50", got)
	}
}
