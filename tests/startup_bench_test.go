package tests

import (
	"testing"
	"time"
)

// BenchmarkStartupToListening measures from exec of the binary to its
// listening announcement (the embedded echo.lua, one listener): the Lua
// state, the script load and the bind. ms/op is the figure for
// docs/PERFORMANCE.md.
func BenchmarkStartupToListening(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		srv := launch{}.start(b)
		total += time.Since(start)
		srv.stop()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/start")
}
