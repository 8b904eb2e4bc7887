package tests

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sharedAsk sends one command to shared.lua and returns the worker and value.
func sharedAsk(t *testing.T, addr, cmd string) (worker int, v string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s\n", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Errorf("%s: no answer: %v", cmd, err)
		return 0, ""
	}
	if _, err := fmt.Sscanf(line, "worker=%d v=%s", &worker, &v); err != nil {
		t.Errorf("%s: %q", cmd, line)
	}
	return worker, v
}

// TestSharedAcrossWorkers: with --workers 2, 64 concurrent increments
// over both workers each see a distinct count and leave 64, which both
// workers read and which survives a reload; the first server.state call
// warns once that it is per worker.
func TestSharedAcrossWorkers(t *testing.T) {
	srv := startServer(t, "epoll", "--workers", "2", testdata(t, "pubsub/shared.lua"))
	const n = 64
	var mu sync.Mutex
	seen := map[string]bool{}
	workers := map[int]bool{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, v := sharedAsk(t, srv.Addr, "incr")
			mu.Lock()
			defer mu.Unlock()
			if seen[v] {
				t.Errorf("two increments returned %s", v)
			}
			seen[v], workers[w] = true, true
		}()
	}
	wg.Wait()
	if len(workers) != 2 {
		t.Fatalf("increments served by workers %v, want both", workers)
	}
	read := map[int]bool{}
	for i := 0; len(read) < 2 && i < 64; i++ {
		w, v := sharedAsk(t, srv.Addr, "get")
		if v != fmt.Sprint(n) {
			t.Fatalf("worker %d reads %s, want %d", w, v, n)
		}
		read[w] = true
	}
	if len(read) != 2 {
		t.Fatalf("reads served by %v, want both workers", read)
	}
	for range 8 {
		sharedAsk(t, srv.Addr, "state")
	}
	if got := strings.Count(srv.Logs(), "server.state is per worker"); got != 1 {
		t.Fatalf("%d server.state warnings, want 1:\n%s", got, srv.Logs())
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "both workers to reload", func() bool {
		return len(rawLogLines(srv, "msg=reloaded", "version=2")) == 2
	})
	if _, v := sharedAsk(t, srv.Addr, "get"); v != fmt.Sprint(n) {
		t.Fatalf("after a reload: %s, want %d", v, n)
	}
}

// TestSharedOneWorkerNoWarning: with one worker server.state is the
// process's, and nothing warns.
func TestSharedOneWorkerNoWarning(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "pubsub/shared.lua"))
	if _, v := sharedAsk(t, srv.Addr, "state"); v != "1" {
		t.Fatalf("state: %s", v)
	}
	if strings.Contains(srv.Logs(), "server.state is per worker") {
		t.Fatal("warned with one worker")
	}
}

// TestSharedLimits: --shared-max-dicts bounds the dictionaries a process
// may create and names are 1-255 bytes; each refusal is a Lua error that
// says why, and an existing dictionary still opens. Bad values of the
// flag are refused at start.
func TestSharedLimits(t *testing.T) {
	srv := startServer(t, "epoll", "--shared-max-dicts", "3", testdata(t, "pubsub/shared.lua")) // "hits" is one
	dict := func(name string) string {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "dict %s\n", name)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("dict %q: no answer: %v", name, err)
		}
		return strings.TrimSpace(line)
	}
	long := strings.Repeat("n", 256)
	for _, tc := range []struct{ name, want string }{
		{long[:255], "dict ok"},
		{long, "a name is 1-255 bytes, got 256"},
		{"", "a name is 1-255 bytes, got 0"},
		{"a", "dict ok"},
		{"b", `3 dictionaries exist, the limit (--shared-max-dicts); "b" would be one more`},
		{"a", "dict ok"},
		{"hits", "dict ok"},
	} {
		if got := dict(tc.name); !strings.Contains(got, tc.want) {
			t.Errorf("server.shared(%.20q): %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, v := range []string{"0", "-1"} {
		r := rawRunCLI(t, "", "--shared-max-dicts", v, "--check")
		if r.code != 2 || !strings.Contains(r.stderr, "--shared-max-dicts must be positive") {
			t.Errorf("--shared-max-dicts %s: exit %d, stderr %q", v, r.code, r.stderr)
		}
	}
}
