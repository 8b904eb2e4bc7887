package sandbox

import (
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestGuardInterruptsRunawayHandler(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	g := NewGuard(L, 50*time.Millisecond, 0)
	defer g.Close()
	if err := L.DoString(`function spin() while true do end end
function quick() return 1 + 1 end`); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		L.Push(L.GetGlobal("spin"))
		start := time.Now()
		g.Enter()
		err := L.PCall(0, 0, nil)
		if !g.Exit() {
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
		g.Enter()
		err = L.PCall(0, 1, nil)
		if g.Exit() || err != nil || L.Get(-1).String() != "2" {
			t.Fatalf("round %d: call after interruption: %v %v", round, err, L.Get(-1))
		}
		L.Pop(1)
	}
}

func TestGuardLeavesQuickHandlersAlone(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	const timeout = 250 * time.Millisecond
	g := NewGuard(L, timeout, 0)
	defer g.Close()
	if err := L.DoString(`function quick(n) local s = 0 for i = 1, n do s = s + i end return s end`); err != nil {
		t.Fatal(err)
	}
	// Many short calls spanning far more than the timeout in total. The
	// timeout is wall time, so a call the scheduler stalled past it on a
	// loaded machine may rightly be interrupted; one interrupted sooner
	// means the guard counted time from before the call.
	deadline := time.Now().Add(time.Second)
	calls, stalled := 0, 0
	for time.Now().Before(deadline) && calls < 1e6 {
		L.Push(L.GetGlobal("quick"))
		L.Push(lua.LNumber(100))
		start := time.Now()
		g.Enter()
		err := L.PCall(1, 1, nil)
		interrupted := g.Exit()
		took := time.Since(start)
		switch {
		case interrupted && took >= timeout:
			stalled++
			L.SetTop(0)
		case interrupted || err != nil:
			t.Fatalf("call %d interrupted after %s: %v", calls, took, err)
		default:
			L.Pop(1)
		}
		calls++
	}
	if stalled > 0 {
		t.Logf("%d of %d calls stalled past the timeout by the scheduler", stalled, calls)
	}
}

func TestCoroutinesShareTheGuard(t *testing.T) {
	L := NewState()
	defer L.Close()
	g := NewGuard(L, 100*time.Millisecond, 0)
	defer g.Close()
	Install(L, Limits{})
	call := func(src string) (error, bool) {
		fn, err := L.LoadString(src)
		if err != nil {
			t.Fatal(err)
		}
		L.Push(fn)
		g.Enter()
		err = L.PCall(0, 0, nil)
		return err, g.Exit()
	}
	if err, interrupted := call(`
		saved = coroutine.create(function() local n = 0 while true do n = n + 1 coroutine.yield(n) end end)
		wrapped = coroutine.wrap(function() local n = 0 while true do n = n + 1 coroutine.yield(n) end end)
		assert(coroutine.resume(saved)) assert(wrapped() == 1)`); err != nil || interrupted {
		t.Fatal(err)
	}
	err, interrupted := call(`local co = coroutine.create(function() while true do end end) coroutine.resume(co) error("not reached")`)
	if !interrupted {
		t.Fatalf("a runaway coroutine was not interrupted: %v", err)
	}
	err, interrupted = call(`local co = coroutine.wrap(function() while true do end end) co() error("not reached")`)
	if !interrupted {
		t.Fatalf("a runaway wrapped coroutine was not interrupted: %v", err)
	}
	if err, interrupted := call(`
		local ok, n = coroutine.resume(saved) assert(ok, n) assert(n == 2, n)
		assert(wrapped() == 2)`); err != nil || interrupted {
		t.Fatalf("coroutines made before the interruption: %v", err)
	}
	// 20,000 coroutines left suspended cost nothing once unreachable
	// (each used to leave about 230 bytes in the context's child list).
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	L2 := NewState()
	defer L2.Close()
	g2 := NewGuard(L2, time.Minute, 0)
	defer g2.Close()
	Install(L2, Limits{})
	fn, err := L2.LoadString(`for i = 1, 2e4 do local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co) end`)
	if err != nil {
		t.Fatal(err)
	}
	before := heap()
	L2.Push(fn)
	g2.Enter()
	err = L2.PCall(0, 0, nil)
	if g2.Exit() || err != nil {
		t.Fatal(err)
	}
	if after := heap(); after > before+1<<20 {
		t.Fatalf("heap grew from %d to %d bytes after 20,000 abandoned coroutines", before, after)
	}
}

func TestGuardMemoryCap(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := int64(ms.HeapAlloc) + 256<<20
	L := NewState()
	defer L.Close()
	g := NewGuard(L, 0, limit) // no timeout: the cap alone
	defer g.Close()
	Install(L, Limits{})
	if got := debug.SetMemoryLimit(-1); got != min(prev, limit) {
		t.Fatalf("runtime memory limit %d, want %d", got, min(prev, limit))
	}
	fn, err := L.LoadString(`keep = {} local i = 0 while true do i = i + 1 keep[i] = ("x"):rep(1e6) .. i end`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	L.Push(fn)
	g.Enter()
	err = L.PCall(0, 0, nil)
	if !g.Exit() || err == nil {
		t.Fatalf("not interrupted: %v", err)
	}
	heap, ok := g.MemoryInterrupt()
	if !ok || heap <= uint64(limit) {
		t.Fatalf("memoryInterrupt() = %d, %v; cap %d", heap, ok, limit)
	}
	t.Logf("interrupted after %s at heap %d MiB (cap %d MiB)", time.Since(start), heap>>20, limit>>20)
	// Quick calls go on even while the heap is over the cap.
	L.SetGlobal("keep", lua.LNil)
	for i := 0; i < 100; i++ {
		fn, _ := L.LoadString(`return 1 + 1`)
		L.Push(fn)
		g.Enter()
		if err := L.PCall(0, 1, nil); g.Exit() || err != nil {
			t.Fatalf("quick call %d: %v", i, err)
		}
		L.Pop(1)
	}
	if prev == math.MaxInt64 && debug.SetMemoryLimit(-1) != limit {
		t.Fatal("memory limit changed")
	}
}

func TestGuardPeriodFollowsHeadroom(t *testing.T) {
	const limit = 2 << 30
	g := &Guard{timeout: 2 * time.Second, maxHeap: limit}
	cases := []struct {
		heap uint64
		want time.Duration
	}{
		{0, 250 * time.Millisecond},                 // 1 GiB at 4 GiB/s
		{limit - 512<<20, 62500 * time.Microsecond}, // half of 512 MiB
		{limit - 1<<20, memPeriod},                  // near the cap: the floor
		{limit + 1<<30, memPeriod},                  // over it
	}
	for _, c := range cases {
		if got := g.period(c.heap); got != c.want {
			t.Errorf("period(heap %d MiB) = %s, want %s", c.heap>>20, got, c.want)
		}
	}
	// The timeout's quarter caps it: a 200 ms timeout is looked at every 50 ms.
	g.timeout = 200 * time.Millisecond
	if got := g.period(0); got != 50*time.Millisecond {
		t.Errorf("period with a 200ms timeout = %s, want 50ms", got)
	}
	// Without a cap the heap plays no part.
	g = &Guard{timeout: 2 * time.Second}
	if got := g.period(limit * 4); got != 500*time.Millisecond {
		t.Errorf("period without a cap = %s, want 500ms", got)
	}
}
