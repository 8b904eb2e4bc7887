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
