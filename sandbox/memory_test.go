package sandbox

import (
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
