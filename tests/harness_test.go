package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the pocketlua executable built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pocketlua-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pocketlua")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/pocketlua")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building pocketlua:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pollers are the backends every end-to-end test runs against.
var pollers = []string{"epoll", "poll"}

// eachPoller runs fn once per poller backend, as subtests.
func eachPoller(t *testing.T, fn func(t *testing.T, poller string)) {
	for _, p := range pollers {
		t.Run(p, func(t *testing.T) { fn(t, p) })
	}
}

// server is a running pocketlua process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	Addr string // first listen address, host:port
	All  []string
	logs *syncBuffer
	done chan struct{}
	err  error // from Wait
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listenAttr finds the addr attribute of a text-format log line.
var listenAttr = regexp.MustCompile(`(?:^| )addr=("(?:[^"\\]|\\.)*"|\S*)`)

// listeningAddrs reads the server's startup record, msg "listening" in the
// text or the JSON log format: the --listen addresses, in order.
func listeningAddrs(line string) ([]string, bool) {
	var addr string
	if strings.HasPrefix(line, "{") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "listening" {
			return nil, false
		}
		addr = rec.Addr
	} else {
		if !strings.Contains(line, " msg=listening ") {
			return nil, false
		}
		m := listenAttr.FindStringSubmatch(line)
		if m == nil {
			return nil, false
		}
		addr = m[1]
		if u, err := strconv.Unquote(addr); err == nil {
			addr = u
		}
	}
	if addr == "" {
		return nil, false
	}
	return strings.Split(addr, ","), true
}

// listeningWatch is a writer for the server's stderr: it keeps everything
// in logs and sends the addresses of the listening line, once.
func listeningWatch(logs *syncBuffer) (io.Writer, <-chan []string) {
	w := &listeningWriter{logs: logs, addrs: make(chan []string, 1)}
	return w, w.addrs
}

type listeningWriter struct {
	logs    *syncBuffer
	partial []byte // the line being written
	addrs   chan []string
	sent    bool
}

// Write is called from one goroutine (exec's stderr copier).
func (w *listeningWriter) Write(p []byte) (int, error) {
	w.logs.Write(p)
	if w.sent {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if a, ok := listeningAddrs(string(w.partial[:i])); ok {
			w.sent, w.partial = true, nil
			w.addrs <- a
			return len(p), nil
		}
		w.partial = w.partial[i+1:]
	}
}

// startServer runs pocketlua with args (flags, then an optional script) on a
// free loopback port unless args name one, and waits for its listening line.
// The process is stopped when the test ends.
func startServer(t *testing.T, poller string, args ...string) *server {
	t.Helper()
	return startServerIn(t, "", poller, args...)
}

// startServerIn is startServer with the process's working directory set to
// dir ("" keeps the test's own).
func startServerIn(t *testing.T, dir, poller string, args ...string) *server {
	t.Helper()
	return startServerWrapped(t, dir, nil, poller, args...)
}

// startServerWrapped is startServerIn with the binary run through wrapper,
// a command that execs it (say, prlimit --nofile=128:128), so the process
// and its PID are the server's; nil runs the binary directly.
func startServerWrapped(t *testing.T, dir string, wrapper []string, poller string, args ...string) *server {
	t.Helper()
	full := []string{"--poller", poller}
	if !hasListen(args) {
		full = append(full, "-l", "127.0.0.1:0")
	}
	// The guard measures wall time: on a loaded 2-core machine an ordinary
	// handler can be descheduled for seconds. Tests of the guard set their own.
	if !hasFlag(args, "--handler-timeout") {
		full = append(full, "--handler-timeout", "30s")
	}
	full = append(full, args...)
	s := &server{t: t, logs: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, full...)
	if len(wrapper) > 0 {
		s.cmd = exec.Command(wrapper[0], append(append(wrapper[1:len(wrapper):len(wrapper)], binary), full...)...)
	}
	s.cmd.Dir = dir
	stderr, listening := listeningWatch(s.logs)
	s.cmd.Stderr = stderr
	// A race-built server would wait 1 s at exit for nothing.
	s.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill() })
	select {
	case s.All = <-listening:
		s.Addr = s.All[0]
	case <-s.done:
		t.Fatalf("pocketlua exited before listening: %v; logs:\n%s", s.err, s.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("pocketlua did not start; logs:\n%s", s.logs)
	}
	return s
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func hasListen(args []string) bool {
	for _, a := range args {
		if a == "-l" || a == "--listen" || strings.HasPrefix(a, "--listen=") {
			return true
		}
	}
	return false
}

// Logs is everything the server wrote to stderr so far.
func (s *server) Logs() string { return s.logs.String() }

// signal sends sig and waits up to d for the exit; it returns the exit code.
func (s *server) signal(sig syscall.Signal, d time.Duration) (int, bool) {
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return -1, false
	}
}

// stop shuts the server down with SIGTERM and fails the test on a bad exit.
func (s *server) stop() {
	s.t.Helper()
	code, ok := s.signal(syscall.SIGTERM, 15*time.Second)
	if !ok {
		s.t.Fatalf("server did not exit after SIGTERM; logs:\n%s", s.Logs())
	}
	if code != 0 {
		s.t.Fatalf("server exit code %d; logs:\n%s", code, s.Logs())
	}
}

func (s *server) kill() {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
}

// rssKiB reads the server's resident set size.
func (s *server) rssKiB() int {
	s.t.Helper()
	return procStatusKiB(s.t, s.cmd.Process.Pid, "VmRSS:")
}

func procStatusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	n, err := readProcKiB(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readProcKiB reads a "Field: N kB" line of /proc/PID/status.
func readProcKiB(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			if f := strings.Fields(line); len(f) > 1 {
				return strconv.Atoi(f[1])
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// openFDs counts the server's open descriptors.
func (s *server) openFDs() int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatal(err)
	}
	return len(ents)
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeScript writes a Lua file into the test's temp dir and returns its path.
func writeScript(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
