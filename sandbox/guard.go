package sandbox

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Guard interrupts a Lua handler that runs longer than the timeout, or
// that runs while the Go heap is over the memory cap. The loop pays two
// atomic operations per handler call; a watchdog goroutine samples the call
// generation (and, with a cap, the heap) and closes the current cancel
// channel only on overrun, so nothing is made per call.
//
// The Lua state and every coroutine share one context, guardContext, whose
// Done channel is the guard's current one: a fresh channel after each
// interruption, so coroutines that outlive an interrupted call keep
// working, and a coroutine registers nothing anywhere (a context.WithCancel
// per coroutine would stay in its parent until cancelled, for ever when the
// coroutine is abandoned suspended).
type Guard struct {
	L       *lua.LState
	timeout time.Duration
	maxHeap uint64 // --max-memory in bytes; 0: no cap
	on      bool   // timeout or cap set
	depth   int    // nested calls (a handler calling conn:close runs closed)
	state   atomic.Uint64
	done    atomic.Pointer[chan struct{}] // closed to interrupt the running call
	cause   atomic.Uint32                 // why the last interruption happened
	heapAt  atomic.Uint64                 // heap bytes seen by a memory interruption
	stop    chan struct{}
}

const (
	phaseIdle = iota
	phaseRunning
	phaseCancelling
	phaseCancelled
)

// Causes of an interruption.
const (
	causeTimeout = iota + 1
	causeMemory
)

// memPeriod is the shortest time between two looks at the heap while a
// call runs, when a memory cap is set: near the cap, allocation at a few
// GB/s overshoots it by at most a few hundred MB.
const memPeriod = 10 * time.Millisecond

// allocRate is the fastest the whole process is assumed to allocate. With
// the heap far below the cap, the watchdog waits for as long as that rate
// would take to fill half the headroom: a server with a 2 GiB cap and a
// small heap looks a few times a second instead of a hundred, so idle
// and busy loops alike are not woken for it (docs/PERFORMANCE.md).
const allocRate = 4 << 30 // bytes per second

// heapMetric is the heap in use: live objects plus those not swept yet.
const heapMetric = "/memory/classes/heap/objects:bytes"

// NewGuard guards L's handlers: timeout is the longest a call may run (0:
// none), maxMemory the heap cap in bytes (0: none); with neither the guard
// costs nothing. The cap also becomes the Go runtime's soft memory limit unless a lower one
// is set (GOMEMLIMIT), so the collector works to stay under it and a heap
// over it is live data, not garbage waiting for a collection.
func NewGuard(L *lua.LState, timeout time.Duration, maxMemory int64) *Guard {
	g := &Guard{L: L, timeout: max(timeout, 0), stop: make(chan struct{})}
	if maxMemory > 0 {
		g.maxHeap = uint64(maxMemory)
		if cur := debug.SetMemoryLimit(-1); cur > maxMemory || cur == math.MaxInt64 {
			debug.SetMemoryLimit(maxMemory)
		}
	}
	g.on = g.timeout > 0 || g.maxHeap > 0
	if !g.on {
		return g
	}
	g.arm()
	L.SetContext(guardContext{g})
	go g.watch()
	return g
}

// arm installs a fresh cancel channel.
func (g *Guard) arm() {
	ch := make(chan struct{})
	g.done.Store(&ch)
}

// Enter marks the start of a handler call.
func (g *Guard) Enter() {
	g.depth++
	if g.depth > 1 || !g.on {
		return
	}
	gen := g.state.Load() >> 2
	g.state.Store((gen+1)<<2 | phaseRunning)
}

// Exit marks its end and reports whether the watchdog interrupted it.
func (g *Guard) Exit() bool {
	g.depth--
	if g.depth > 0 || !g.on {
		return false
	}
	s := g.state.Load()
	if s&3 == phaseRunning && g.state.CompareAndSwap(s, s&^3) { // to phaseIdle
		return false
	}
	// The watchdog claimed this call: wait for its cancel, then re-arm.
	for g.state.Load()&3 != phaseCancelled {
		runtime.Gosched()
	}
	g.arm()
	g.state.Store(g.state.Load() &^ 3) // phaseIdle
	if g.cause.Load() == causeMemory {
		// What the interrupted call allocated is garbage now: collect it
		// and hand it back to the OS without waiting for the next cycle.
		ReleaseMemory(true)
	}
	return true
}

// MemoryInterrupt reports whether the last interruption was for the heap
// cap, with the heap size the watchdog saw.
func (g *Guard) MemoryInterrupt() (heap uint64, ok bool) {
	return g.heapAt.Load(), g.cause.Load() == causeMemory
}

func (g *Guard) watch() {
	sample := []metrics.Sample{{Name: heapMetric}}
	heap := func() uint64 {
		if g.maxHeap == 0 {
			return 0
		}
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	tick := time.NewTimer(g.period(heap()))
	defer tick.Stop()
	var seen uint64
	var since time.Time
	for {
		select {
		case <-g.stop:
			return
		case now := <-tick.C:
			h := heap()
			tick.Reset(g.period(h))
			s := g.state.Load()
			if s&3 != phaseRunning {
				seen = 0
				continue
			}
			if s != seen {
				seen, since = s, now
				continue
			}
			// The same call was running at two samples in a row.
			var cause uint32
			if g.timeout > 0 && now.Sub(since) >= g.timeout {
				cause = causeTimeout
			} else if g.maxHeap > 0 && h > g.maxHeap {
				cause = causeMemory
				g.heapAt.Store(h)
			}
			if cause == 0 {
				continue
			}
			if g.state.CompareAndSwap(s, s&^3|phaseCancelling) {
				g.cause.Store(cause)
				close(*g.done.Load())
				g.state.Store(s&^3 | phaseCancelled)
			}
			seen = 0
		}
	}
}

// period is how long the watchdog waits before its next look, with the
// heap at heap bytes: a quarter of the timeout, and with a cap no longer
// than allocRate takes to fill half the headroom left, nor shorter than
// memPeriod.
func (g *Guard) period(heap uint64) time.Duration {
	p := time.Duration(math.MaxInt64)
	if g.timeout > 0 {
		p = g.timeout / 4
	}
	if g.maxHeap > 0 {
		var headroom uint64
		if heap < g.maxHeap {
			headroom = g.maxHeap - heap
		}
		fill := time.Duration(float64(headroom/2) / allocRate * float64(time.Second))
		p = min(p, max(fill, memPeriod))
	}
	return max(p, time.Millisecond)
}

// Close stops the watchdog.
func (g *Guard) Close() {
	if g.on {
		close(g.stop)
	}
}

// guardContext is the context of the Lua state and of every coroutine:
// gopher-lua checks Done before each instruction.
type guardContext struct{ g *Guard }

func (c guardContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c guardContext) Done() <-chan struct{}       { return *c.g.done.Load() }
func (c guardContext) Value(any) any               { return nil }

func (c guardContext) Err() error {
	select {
	case <-c.Done():
		return context.Canceled
	default:
		return nil
	}
}

// AfterFunc makes context.WithCancel(guardContext) register nothing (no
// goroutine, no child list): gopher-lua derives one for each coroutine,
// which Install then replaces with guardContext itself.
func (c guardContext) AfterFunc(func()) func() bool { return func() bool { return true } }
