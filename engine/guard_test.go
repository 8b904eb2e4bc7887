package engine

import (
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestGuardInterruptsRunawayHandler(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	g := newGuard(L, 50*time.Millisecond)
	defer g.close()
	if err := L.DoString(`function spin() while true do end end
function quick() return 1 + 1 end`); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		L.Push(L.GetGlobal("spin"))
		start := time.Now()
		g.enter()
		err := L.PCall(0, 0, nil)
		if !g.exit() {
			t.Fatalf("round %d: guard did not report the interruption", round)
		}
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("round %d: err = %v, want the cancellation", round, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("round %d: interrupted only after %s", round, d)
		}
		// The state is usable again at once, with a fresh context.
		L.Push(L.GetGlobal("quick"))
		g.enter()
		err = L.PCall(0, 1, nil)
		if g.exit() || err != nil || L.Get(-1).String() != "2" {
			t.Fatalf("round %d: call after interruption: %v %v", round, err, L.Get(-1))
		}
		L.Pop(1)
	}
}

func TestGuardLeavesQuickHandlersAlone(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	g := newGuard(L, 250*time.Millisecond) // wall time: generous for a loaded machine
	defer g.close()
	if err := L.DoString(`function quick(n) local s = 0 for i = 1, n do s = s + i end return s end`); err != nil {
		t.Fatal(err)
	}
	// Many short calls spanning far more than the timeout in total.
	deadline := time.Now().Add(time.Second)
	calls := 0
	for time.Now().Before(deadline) && calls < 1e6 {
		L.Push(L.GetGlobal("quick"))
		L.Push(lua.LNumber(100))
		g.enter()
		err := L.PCall(1, 1, nil)
		if g.exit() || err != nil {
			t.Fatalf("call %d interrupted: %v", calls, err)
		}
		L.Pop(1)
		calls++
	}
}
