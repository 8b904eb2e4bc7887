// The end-to-end tests build the pocketlua binary once (TestMain) and run
// it as a real process: startServer, or launch{...}.start for a working
// directory, environment or wrapper command, is the only way a test
// starts one, and listenAddrs the only reader of its startup banner. The
// Lua scripts a test runs are files under testdata/<area>/ (raw, ws, http,
// ftp, mux, connect, fault, reload, ...): testdata(t, name) gives the
// path of a script used as it is; scriptFrom and renderTestdata render one
// that is a text/template, for values that differ per test (a folder, a
// port, an option). An area's shared helpers live in
// <area>_helpers_test.go.
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
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
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
	tb     testing.TB
	cmd    *exec.Cmd
	Addr   string   // first listen address, host:port
	All    []string // every listen address the server announced
	logs   *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	err    error // from Wait
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

// listenAddrs returns the addresses one line of the server's output
// announces it listens on, or nil. It is the only reader of the startup
// banner: the harness, the CLI tests and the startup benchmark all ask it.
func listenAddrs(line string) []string {
	addrs, _ := listeningAddrs(line)
	return addrs
}

// announced reports whether any line of out announces listening.
func announced(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if listenAddrs(line) != nil {
			return true
		}
	}
	return false
}

// bannerTap passes a stream of the server's output on to its buffer and
// sends the first listening announcement it sees, on either stream, to
// found. Lines are checked only until one of the two taps found it.
type bannerTap struct {
	to    io.Writer
	found chan []string // capacity 1, shared by the stdout and stderr taps
	seen  *atomic.Bool  // shared too: set once found has its value
	mu    sync.Mutex
	line  []byte // a line's start not yet ended by a newline
}

func (b *bannerTap) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Into the buffer first: a test that reads the logs once start returns
	// must find the listening line there.
	n, err := b.to.Write(p)
	rest := p
	for !b.seen.Load() && len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			b.line = append(b.line, rest...)
			break
		}
		b.line = append(b.line, rest[:i]...)
		rest = rest[i+1:]
		if addrs := listenAddrs(string(b.line)); addrs != nil && b.seen.CompareAndSwap(false, true) {
			b.found <- addrs
		}
		b.line = b.line[:0]
	}
	return n, err
}

// launch says how to run a server besides its arguments. The zero value
// runs the binary directly with its default poller.
type launch struct {
	poller  string   // --poller; "" keeps the binary's default
	dir     string   // working directory; "" keeps the test's own
	env     []string // added to the environment
	wrapper []string // a command that execs the binary (say, prlimit --nofile=128:128), so the process and its PID are the server's
}

// startServer runs pocketlua with args (flags, then an optional script) on
// poller; see launch.start.
func startServer(tb testing.TB, poller string, args ...string) *server {
	tb.Helper()
	return launch{poller: poller}.start(tb, args...)
}

// start runs pocketlua with args (flags, then an optional script) on a free
// loopback port unless args name one, and waits for its listening
// announcement. The process is killed when the test ends.
func (l launch) start(tb testing.TB, args ...string) *server {
	tb.Helper()
	var full []string
	if l.poller != "" {
		full = append(full, "--poller", l.poller)
	}
	if !hasListen(args) {
		full = append(full, "-l", "127.0.0.1:0")
	}
	// The guard measures wall time: on a loaded 2-core machine an ordinary
	// handler can be descheduled for seconds. Tests of the guard set their own.
	if !hasFlag(args, "--handler-timeout") {
		full = append(full, "--handler-timeout", "30s")
	}
	full = append(full, args...)
	s := &server{tb: tb, logs: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, full...)
	if len(l.wrapper) > 0 {
		s.cmd = exec.Command(l.wrapper[0], append(append(l.wrapper[1:len(l.wrapper):len(l.wrapper)], binary), full...)...)
	}
	s.cmd.Dir = l.dir
	found, seen := make(chan []string, 1), new(atomic.Bool)
	s.cmd.Stdout = &bannerTap{to: s.stdout, found: found, seen: seen}
	s.cmd.Stderr = &bannerTap{to: s.logs, found: found, seen: seen}
	// A race-built server would wait 1 s at exit for nothing.
	s.cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0"), l.env...)
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.kill)
	select {
	case s.All = <-found:
		s.Addr = s.All[0]
	case <-s.done:
		tb.Fatalf("pocketlua exited before listening: %v; stdout %q; logs:\n%s", s.err, s.stdout, s.logs)
	case <-time.After(20 * time.Second):
		tb.Fatalf("pocketlua did not start; stdout %q; logs:\n%s", s.stdout, s.logs)
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
	s.tb.Helper()
	code, ok := s.signal(syscall.SIGTERM, 15*time.Second)
	if !ok {
		s.tb.Fatalf("server did not exit after SIGTERM; logs:\n%s", s.Logs())
	}
	if code != 0 {
		s.tb.Fatalf("server exit code %d; logs:\n%s", code, s.Logs())
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
	s.tb.Helper()
	return procStatusKiB(s.tb, s.cmd.Process.Pid, "VmRSS:")
}

func procStatusKiB(t testing.TB, pid int, field string) int {
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
		s.tb.Fatal(err)
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

// testdata is the absolute path of a file under tests/testdata (area/name),
// so that it stays valid whatever the server's working directory.
func testdata(t testing.TB, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// testdataText is the content of the testdata file name.
func testdataText(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renderTestdata executes the testdata file name as a text/template with
// data; {{lua .X}} writes a string as a Lua literal.
func renderTestdata(t testing.TB, name string, data any) string {
	t.Helper()
	tmpl, err := template.New(filepath.Base(name)).Option("missingkey=error").
		Funcs(template.FuncMap{"lua": luaQuote}).ParseFiles(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// scriptFrom renders the testdata file name (renderTestdata) into dir (""
// for a fresh temporary folder) under its own base name, and returns the
// path: for scripts that differ per test by a value or two.
func scriptFrom(t testing.TB, dir, name string, data any) string {
	t.Helper()
	src := renderTestdata(t, name, data)
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, filepath.Base(name))
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
