package engine

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// guard interrupts a Lua handler that runs longer than the timeout. The loop
// pays two atomic operations per handler call; a watchdog goroutine samples
// the call generation and cancels the state's context only on overrun, so
// no context is made per call.
type guard struct {
	L       *lua.LState
	timeout time.Duration
	depth   int           // nested calls (a handler calling conn:close runs closed)
	state   atomic.Uint64 // generation<<2 | phase
	ctx     atomic.Pointer[guardCtx]
	stop    chan struct{}
}

type guardCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

const (
	phaseIdle = iota
	phaseRunning
	phaseCancelling
	phaseCancelled
)

func newGuard(L *lua.LState, timeout time.Duration) *guard {
	g := &guard{L: L, timeout: timeout, stop: make(chan struct{})}
	if timeout <= 0 {
		return g
	}
	g.arm()
	go g.watch()
	return g
}

func (g *guard) arm() {
	ctx, cancel := context.WithCancel(context.Background())
	g.ctx.Store(&guardCtx{ctx, cancel})
	g.L.SetContext(ctx)
}

// enter marks the start of a handler call.
func (g *guard) enter() {
	g.depth++
	if g.depth > 1 || g.timeout <= 0 {
		return
	}
	gen := g.state.Load() >> 2
	g.state.Store((gen+1)<<2 | phaseRunning)
}

// exit marks its end and reports whether the watchdog interrupted it.
func (g *guard) exit() bool {
	g.depth--
	if g.depth > 0 || g.timeout <= 0 {
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
	return true
}

func (g *guard) watch() {
	tick := time.NewTicker(max(g.timeout/4, time.Millisecond))
	defer tick.Stop()
	var seen uint64
	var since time.Time
	for {
		select {
		case <-g.stop:
			return
		case now := <-tick.C:
			s := g.state.Load()
			if s&3 != phaseRunning {
				seen = 0
				continue
			}
			if s != seen {
				seen, since = s, now
				continue
			}
			// Sampled running in the same call for at least the timeout.
			if now.Sub(since) < g.timeout {
				continue
			}
			c := g.ctx.Load()
			if g.state.CompareAndSwap(s, s&^3|phaseCancelling) {
				c.cancel()
				g.state.Store(s&^3 | phaseCancelled)
			}
			seen = 0
		}
	}
}

func (g *guard) close() {
	if g.timeout > 0 {
		close(g.stop)
	}
}
