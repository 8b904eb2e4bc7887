package sandbox

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// ReleaseMemory collects the heap and hands its free pages back to the OS
// in the background: after a handler was stopped over --max-memory
// (urgent), and when a loop goes quiet, so an idle server does not keep
// the garbage its last burst of traffic left. A forced collection of a
// large heap costs CPU, so releases are at least releaseInterval apart
// unless urgent: a quiet call that comes sooner is deferred to the end of
// the interval, never dropped (a pause mid-burst must not use up the
// release the end of the burst needs). Calls while one runs are dropped.
func ReleaseMemory(urgent bool) {
	now := time.Now().UnixNano()
	if !urgent {
		if wait := lastRelease.Load() + int64(releaseInterval) - now; wait > 0 {
			if deferred.CompareAndSwap(false, true) {
				time.AfterFunc(time.Duration(wait), func() {
					deferred.Store(false)
					ReleaseMemory(false)
				})
			}
			return
		}
	}
	if !releasing.CompareAndSwap(false, true) {
		return
	}
	lastRelease.Store(now)
	releases.Add(1)
	go func() {
		debug.FreeOSMemory()
		releasing.Store(false)
	}()
}

// releaseInterval is a variable for the tests only.
var releaseInterval = 10 * time.Second

var (
	releasing   atomic.Bool
	deferred    atomic.Bool  // a quiet release waits for the interval's end
	lastRelease atomic.Int64 // unix nanoseconds of the last start
	releases    atomic.Int64 // releases started, for the tests
)

// GCHeadroom lets garbage grow to (live heap + headroom) × percent/100
// before a collection, instead of live × percent/100: a busy server with a
// small live heap is then not collected dozens of times a second. It does
// what a never-touched block of headroom bytes in the heap would (the old
// "ballast"), without one: such a block sometimes overlaps pages the heap
// used before, and then the runtime zeroes the whole of it, costing its
// full size in RSS. After each collection it sets the GC percent from the
// live heap that collection found, starting from the percent in force
// (GOGC or --gc-percent); with the collector off or headroom <= 0 it does
// nothing. stop ends it (the tests).
func GCHeadroom(headroom int64) (stop func()) {
	base := gcPercent()
	h := &gcHeadroom{base: base, headroom: headroom, set: base}
	if base < 0 || headroom <= 0 {
		return func() {}
	}
	h.arm()
	return func() { h.stopped.Store(true) }
}

type gcHeadroom struct {
	base, headroom int64
	set            int64 // the percent in force
	stopped        atomic.Bool
}

// gcCycle dies with every collection; its finalizer runs after it.
type gcCycle struct{ h *gcHeadroom }

func (h *gcHeadroom) arm() {
	runtime.SetFinalizer(&gcCycle{h}, func(c *gcCycle) {
		if c.h.stopped.Load() {
			return
		}
		c.h.adjust(LiveHeap())
		c.h.arm()
	})
}

func (h *gcHeadroom) adjust(live uint64) {
	p := headroomPercent(h.base, h.headroom, live)
	// Within an eighth: not worth recomputing the pacer for.
	if d := p - h.set; d*8 > h.set || -d*8 > h.set {
		h.set = p
		debug.SetGCPercent(int(p))
	}
}

// headroomPercent is the percent that allows (live+headroom)×base/100 of
// garbage over a live heap of live bytes, capped so that a nearly empty
// heap does not get an absurd figure.
func headroomPercent(base, headroom int64, live uint64) int64 {
	const maxPercent = 100_000
	if live == 0 {
		return maxPercent
	}
	p := base * (int64(live) + headroom) / int64(live)
	return min(max(p, base), maxPercent)
}

// gcPercent is the collector's percent in force, -1 when it is off.
func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	if p := s[0].Value.Uint64(); p > 0 && p < 1<<31 {
		return int64(p)
	}
	return -1
}

// LiveHeap is the heap marked live by the last garbage collection.
func LiveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
