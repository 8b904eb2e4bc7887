package tests

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkersShareThePort: --workers 2 runs two loops on one port; the
// kernel spreads connections over both, each answers with its own state,
// SIGHUP reloads both and SIGTERM stops both.
func TestWorkersShareThePort(t *testing.T) {
	script := testdata(t, "raw/who.lua")
	srv := startServer(t, "epoll", "--workers", "2", script)
	ask := func() string {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "hi\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no answer: %v; logs:\n%s", err, srv.Logs())
		}
		return strings.TrimSpace(line)
	}
	seen := map[string]int{}
	for i := 0; i < 64; i++ {
		var w, v, n int
		if _, err := fmt.Sscanf(ask(), "worker=%d version=%d served=%d", &w, &v, &n); err != nil {
			t.Fatal(err)
		}
		if v != 1 {
			t.Fatalf("version %d before any reload", v)
		}
		seen[fmt.Sprint(w)]++
	}
	if len(seen) != 2 || seen["1"] == 0 || seen["2"] == 0 {
		t.Fatalf("connections per worker %v: want both workers serving", seen)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "both workers to reload", func() bool {
		return len(rawLogLines(srv, "msg=reloaded", "version=2")) == 2
	})
	for i := 0; i < 16; i++ {
		if a := ask(); !strings.Contains(a, "version=2") {
			t.Fatalf("after SIGHUP a worker still answers %q", a)
		}
	}
	srv.stop()
	if n := strings.Count(srv.Logs(), "shutting down"); n != 2 {
		t.Fatalf("%d workers logged shutting down, want 2", n)
	}
}

// TestWorkersFlag rejects a bad worker count.
func TestWorkersFlag(t *testing.T) {
	r := rawRunCLI(t, "", "--workers", "0", "--check")
	if r.code != 2 || !strings.Contains(r.stderr, "--workers") {
		t.Fatalf("--workers 0: exit %d, stderr %q", r.code, r.stderr)
	}
}
