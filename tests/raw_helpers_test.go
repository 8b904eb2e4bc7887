package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers shared by the raw-TCP end-to-end tests (tests/raw_*_test.go).

// rawIOTimeout bounds every single read or write a raw test makes.
const rawIOTimeout = 10 * time.Second

// rawClient is a TCP client with a line reader. Its methods must be called
// from the test goroutine (they fail the test).
type rawClient struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

// dialRaw connects to addr; the connection is closed when the test ends.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, Conn: c, r: bufio.NewReader(c)}
}

// rawDialSmallRcvBuf connects with a small receive buffer set before the
// handshake, so a client that does not read stops the server quickly.
func rawDialSmallRcvBuf(t *testing.T, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, Conn: c, r: bufio.NewReader(c)}
}

// send writes s in full.
func (c *rawClient) send(s string) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(rawIOTimeout))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write %q to %s: %v", s, c.RemoteAddr(), err)
	}
}

// line reads one line, without its newline.
func (c *rawClient) line() string {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(rawIOTimeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line from %s: got %q, %v", c.RemoteAddr(), s, err)
	}
	return strings.TrimSuffix(s, "\n")
}

// expect reads one line and fails unless it is want.
func (c *rawClient) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("from %s: got line %q, want %q", c.RemoteAddr(), got, want)
	}
}

// roundTrip sends a line and expects one line back.
func (c *rawClient) roundTrip(send, want string) {
	c.t.Helper()
	c.send(send + "\n")
	c.expect(want)
}

// expectEOF fails unless the server closes the connection within d with no
// further bytes; it returns how long that took.
func (c *rawClient) expectEOF(d time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	b, err := io.ReadAll(c.r)
	if len(b) > 0 {
		c.t.Fatalf("from %s: want EOF, got %d more bytes %q (err %v)", c.RemoteAddr(), len(b), rawClip(b), err)
	}
	if err != nil {
		c.t.Fatalf("from %s: want EOF within %s, got %v", c.RemoteAddr(), d, err)
	}
	return time.Since(start)
}

// expectSilence fails if any byte arrives within d.
func (c *rawClient) expectSilence(d time.Duration) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadByte()
	if err == nil {
		rest, _ := c.r.Peek(c.r.Buffered())
		c.t.Fatalf("from %s: want silence for %s, got %q", c.RemoteAddr(), d, rawClip(append([]byte{b}, rest...)))
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("from %s: want silence for %s, got %v", c.RemoteAddr(), d, err)
	}
}

func rawClip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// rawPattern is n bytes that differ with seed and position, so a reordered,
// lost or duplicated chunk shows up.
func rawPattern(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// rawFirstDiff describes where got and want part.
func rawFirstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d of %d (got %d bytes)", i, len(want), len(got))
		}
	}
	return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
}

// rawLogLines are the server's log lines that contain every one of subs.
func rawLogLines(srv *server, subs ...string) []string {
	var out []string
	for _, line := range strings.Split(srv.Logs(), "\n") {
		ok := line != ""
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// rawWaitLogs waits until at least n log lines contain every one of subs.
func rawWaitLogs(t *testing.T, srv *server, d time.Duration, n int, subs ...string) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		lines := rawLogLines(srv, subs...)
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %d log lines with %q (have %d); logs:\n%s", d, n, subs, len(lines), srv.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fileLineOf is rawLineOf of the file at path.
func fileLineOf(t *testing.T, path, marker string) int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rawLineOf(t, string(src), marker)
}

// rawLineOf is the 1-based number of the only line of src that contains marker.
func rawLineOf(t *testing.T, src, marker string) int {
	t.Helper()
	found := 0
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, marker) {
			if found != 0 {
				t.Fatalf("marker %q is on lines %d and %d", marker, found, i+1)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("marker %q not in script", marker)
	}
	return found
}

// rawCLIResult is one finished run of the binary.
type rawCLIResult struct {
	code           int
	stdout, stderr string
}

// rawRunCLI runs the binary to completion (at most 20 s) in dir ("" for the
// test's own) and returns its exit code and output.
func rawRunCLI(t *testing.T, dir string, args ...string) rawCLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	if raceEnabled { // no one-second pause at exit (see rawQuickExit)
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pocketlua %q did not exit within 20s; stderr:\n%s", args, errb.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("pocketlua %q: %v", args, err)
	}
	return rawCLIResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// listened reports whether the run announced that it was listening.
func (r rawCLIResult) listened() bool { return announced(r.stdout) || announced(r.stderr) }

// rawWriteFile writes name (which may contain folders) under dir.
func rawWriteFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawCPUTicks is the server's user+system CPU time in clock ticks (1/100 s).
func (s *server) rawCPUTicks() int {
	s.tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		s.tb.Fatal(err)
	}
	// The command name may hold spaces; the fields after it are fixed.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// rawExitWithin waits up to d for the server to exit and returns its code.
func (s *server) rawExitWithin(d time.Duration) (int, bool) {
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return -1, false
	}
}

// rawQuickExit makes the servers this test starts exit without the race
// runtime's one-second pause at exit (GORACE atexit_sleep_ms), which would
// otherwise add a second to every stop. Other GORACE options are kept.
func rawQuickExit(t *testing.T) {
	t.Helper()
	if !raceEnabled {
		return
	}
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// rawIsTimeout reports whether err is a deadline expiry.
func rawIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeWrite half-closes the connection (sends FIN, keeps reading).
func (c *rawClient) closeWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }
