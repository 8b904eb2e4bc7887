package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIdleServerSleeps: a server with nothing to do is woken a few dozen
// times a second (the Go runtime's sysmon, the handler guard's looks at
// the heap), not hundreds: the guard used to look every 10 ms whatever
// the heap, and each look woke a thread and kept sysmon at its fastest
// (about 400 wake-ups a second per worker).
func TestIdleServerSleeps(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers%d", workers), func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "", "--workers", strconv.Itoa(workers), "--handler-timeout", "2s")
			pid := s.cmd.Process.Pid
			time.Sleep(500 * time.Millisecond) // past the start's own work
			before := sleeps(t, pid)
			const window = 2 * time.Second
			time.Sleep(window)
			perSecond := float64(sleeps(t, pid)-before) / window.Seconds()
			t.Logf("%d workers idle: %.0f wake-ups a second", workers, perSecond)
			if limit := 100 * float64(workers); perSecond > limit {
				t.Errorf("%d workers idle were woken %.0f times a second, more than %.0f", workers, perSecond, limit)
			}
		})
	}
}

// sleeps sums the voluntary context switches of pid's threads: each is a
// sleep that something had to end.
func sleeps(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	var n int64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}
