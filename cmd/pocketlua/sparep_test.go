package main

import (
	"runtime"
	"testing"
)

func TestSparePKeepsOnePIdle(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })

	t.Setenv("GOMAXPROCS", "")
	spareP(3)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("3 workers on GOMAXPROCS 1: GOMAXPROCS %d, want 4", got)
	}
	runtime.GOMAXPROCS(8)
	spareP(3)
	if got := runtime.GOMAXPROCS(0); got != 8 {
		t.Errorf("3 workers on GOMAXPROCS 8: GOMAXPROCS %d, want 8 (never lowered)", got)
	}

	runtime.GOMAXPROCS(1)
	t.Setenv("GOMAXPROCS", "1")
	spareP(3)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d, want 1", got)
	}
}

// The loops yield before they block only when there are at least as many
// of them as CPUs this process may run on.
func TestLoopsFillCPUs(t *testing.T) {
	n := runtime.NumCPU()
	if !loopsFillCPUs(n) || !loopsFillCPUs(n+1) {
		t.Errorf("%d and %d workers on %d CPUs: want yields", n, n+1, n)
	}
	if n > 1 && loopsFillCPUs(n-1) {
		t.Errorf("%d workers on %d CPUs: want no yields", n-1, n)
	}
}
