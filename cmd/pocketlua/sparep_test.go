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
// of them as CPUs this process may keep busy.
func TestLoopsFillCPUs(t *testing.T) {
	for _, c := range []struct {
		workers, cpus int
		want          bool
	}{{2, 2, true}, {3, 2, true}, {1, 2, false}, {2, 64, false}, {1, 1, true}} {
		if got := loopsFillCPUs(c.workers, c.cpus); got != c.want {
			t.Errorf("loopsFillCPUs(%d workers, %d CPUs) = %v, want %v", c.workers, c.cpus, got, c.want)
		}
	}
}

// usableCPUs is the runtime's default GOMAXPROCS (a container's CPU quota
// included), or the CPUs alone when the environment sets GOMAXPROCS.
func TestUsableCPUs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1) // as the runtime would under a one-CPU quota
	if got := usableCPUs(); got != 1 {
		t.Errorf("GOMAXPROCS 1 by the runtime: usableCPUs %d, want 1", got)
	}
	t.Setenv("GOMAXPROCS", "1")
	if got := usableCPUs(); got != runtime.NumCPU() {
		t.Errorf("GOMAXPROCS=1 in the environment: usableCPUs %d, want the CPU count %d", got, runtime.NumCPU())
	}
}
