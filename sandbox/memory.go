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
// the garbage its last burst of traffic left. Calls while one runs are
// dropped, and so are calls that are not urgent within releaseInterval of
// the last one: a forced collection of a large heap costs CPU.
func ReleaseMemory(urgent bool) {
	now := time.Now().UnixNano()
	if !urgent && now-lastRelease.Load() < int64(releaseInterval) {
		return
	}
	if !releasing.CompareAndSwap(false, true) {
		return
	}
	lastRelease.Store(now)
	go func() {
		debug.FreeOSMemory()
		releasing.Store(false)
	}()
}

const releaseInterval = 10 * time.Second

var (
	releasing   atomic.Bool
	lastRelease atomic.Int64 // unix nanoseconds of the last start
)

// LiveHeap is the heap marked live by the last garbage collection.
func LiveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
