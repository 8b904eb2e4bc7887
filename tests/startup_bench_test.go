package tests

import (
	"bufio"
	"os/exec"
	"strings"
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
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		elapsed := time.Since(start)
		if err != nil || !strings.Contains(line, "listening on") {
			b.Fatalf("no listening line: %q %v", line, err)
		}
		total += elapsed
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/start")
}
