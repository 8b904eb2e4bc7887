package sandbox

import (
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

// LiveHeap is the heap marked live by the last garbage collection.
func LiveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
