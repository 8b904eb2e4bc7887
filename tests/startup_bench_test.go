package tests

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartupToListening measures from exec of the binary to its
// listening line (the embedded echo.lua, one listener): the Lua state, the
// script load and the bind. ms/op is the figure for docs/PERFORMANCE.md.
func BenchmarkStartupToListening(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd := exec.Command(binary, "-l", "127.0.0.1:0")
		stderr, listening := listeningWatch(&syncBuffer{})
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-listening:
		case <-time.After(20 * time.Second):
			b.Fatal("no listening line")
		}
		elapsed := time.Since(start)
		total += elapsed
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/start")
}
