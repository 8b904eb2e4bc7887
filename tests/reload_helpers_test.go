package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Helpers shared by the reload_*_test.go files. Every name starts with rl
// so it cannot collide with the other end-to-end files of the package.

const rlIOTimeout = 10 * time.Second

// rlWriteFiles writes name -> source into dir (creating sub-folders).
func rlWriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rlDial opens a WebSocket to addr with gorilla.
func rlDial(addr string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: rlIOTimeout}
	c, _, err := d.Dial("ws://"+addr+"/", nil)
	return c, err
}

// rlMustDial is rlDial failing the test on error; the connection is closed
// when the test ends.
func rlMustDial(t testing.TB, addr string) *websocket.Conn {
	t.Helper()
	c, err := rlDial(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rlRoundTrip sends one text message and returns the next message received.
func rlRoundTrip(c *websocket.Conn, msg string) (string, error) {
	c.SetWriteDeadline(time.Now().Add(rlIOTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return "", fmt.Errorf("write %q: %w", msg, err)
	}
	c.SetReadDeadline(time.Now().Add(rlIOTimeout))
	kind, p, err := c.ReadMessage()
	if err != nil {
		return "", fmt.Errorf("read reply to %q: %w", msg, err)
	}
	if kind != websocket.TextMessage {
		return "", fmt.Errorf("reply to %q: message type %d, want text", msg, kind)
	}
	return string(p), nil
}

// rlAsk is rlRoundTrip failing the test on error.
func rlAsk(t testing.TB, c *websocket.Conn, msg string) string {
	t.Helper()
	reply, err := rlRoundTrip(c, msg)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// rlCloseClean runs the client side of the close handshake and reports any
// data message that arrives before the server's close frame (a duplicate).
func rlCloseClean(c *websocket.Conn) error {
	defer c.Close()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(rlIOTimeout)); err != nil {
		return fmt.Errorf("write close: %w", err)
	}
	c.SetReadDeadline(time.Now().Add(rlIOTimeout))
	_, p, err := c.ReadMessage()
	if err == nil {
		return fmt.Errorf("unexpected message %q after the last reply (duplicate?)", p)
	}
	if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		return nil
	}
	return fmt.Errorf("close handshake: %w", err)
}

var (
	rlReloadedLine = regexp.MustCompile(`msg=reloaded version=(\d+) trigger=(\S+) migrated=(\d+) migration_failed=(\d+) connections=(\d+) pause=(\S+)`)
	rlFailedLine   = regexp.MustCompile(`msg="reload failed; the old version keeps serving" trigger=(\S+) version=(\d+) err=("(?:[^"\\]|\\.)*"|\S+)`)
)

// rlReload is one "reloaded" log line.
type rlReload struct {
	version, migrated, migrationFailed, conns int
	trigger                                   string
	pause                                     time.Duration
}

// rlReloads parses every "reloaded" line of the logs, in order.
func rlReloads(logs string) []rlReload {
	var out []rlReload
	for _, m := range rlReloadedLine.FindAllStringSubmatch(logs, -1) {
		r := rlReload{trigger: m[2]}
		r.version, _ = strconv.Atoi(m[1])
		r.migrated, _ = strconv.Atoi(m[3])
		r.migrationFailed, _ = strconv.Atoi(m[4])
		r.conns, _ = strconv.Atoi(m[5])
		r.pause, _ = time.ParseDuration(m[6])
		out = append(out, r)
	}
	return out
}

// rlFailure is one "reload failed" log line; err is unquoted.
type rlFailure struct {
	trigger string
	version int
	err     string
}

func rlFailures(logs string) []rlFailure {
	var out []rlFailure
	for _, m := range rlFailedLine.FindAllStringSubmatch(logs, -1) {
		f := rlFailure{trigger: m[1], err: m[3]}
		f.version, _ = strconv.Atoi(m[2])
		if u, err := strconv.Unquote(m[3]); err == nil {
			f.err = u
		}
		out = append(out, f)
	}
	return out
}

// rlMentionsLine reports whether msg points at file's line: the Lua
// convention "file:line" or gopher-lua's parser form "file line:N(column:M)".
func rlMentionsLine(msg, file string, line int) bool {
	return strings.Contains(msg, fmt.Sprintf("%s:%d:", file, line)) ||
		strings.Contains(msg, fmt.Sprintf("%s line:%d(", file, line))
}

// rlWaitLog waits (bounded) until cond holds on the server's logs.
func rlWaitLog(t testing.TB, logs func() string, d time.Duration, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l := logs()
		if cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; logs:\n%s", d, what, rlTail(l, 4000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rlTail keeps the end of long logs readable in failure messages.
func rlTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// rlServer is a pocketlua process for tests and benchmarks that need a
// testing.TB or extra environment (the shared harness takes a *testing.T).
type rlServer struct {
	tb   testing.TB
	cmd  *exec.Cmd
	Addr string
	logs *syncBuffer
	done chan struct{}
}

// rlStart runs pocketlua on a free loopback port with env added to the
// environment and waits for its listening line; it is killed at cleanup.
func rlStart(tb testing.TB, env []string, args ...string) *rlServer {
	tb.Helper()
	s := &rlServer{tb: tb, logs: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"-l", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	stderr, listening := listeningWatch(s.logs)
	s.cmd.Stderr = stderr
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.kill)
	select {
	case addrs := <-listening:
		s.Addr = addrs[0]
	case <-s.done:
		tb.Fatalf("pocketlua exited before listening; logs:\n%s", s.logs)
	case <-time.After(20 * time.Second):
		tb.Fatalf("pocketlua did not start; logs:\n%s", s.logs)
	}
	return s
}

func (s *rlServer) Logs() string { return s.logs.String() }

func (s *rlServer) kill() {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
}

// stop sends SIGTERM and fails unless the server exits 0 within 15 s.
func (s *rlServer) stop() {
	s.tb.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.tb.Fatalf("server exit code %d; logs:\n%s", code, rlTail(s.Logs(), 4000))
		}
	case <-time.After(15 * time.Second):
		s.tb.Fatalf("server did not exit after SIGTERM; logs:\n%s", rlTail(s.Logs(), 4000))
	}
}

func (s *rlServer) rssKiB() int {
	n, err := readProcKiB(s.cmd.Process.Pid, "VmRSS:")
	if err != nil {
		s.tb.Fatal(err)
	}
	return n
}

// rlForcedGC matches a GODEBUG=gctrace=1 line of a runtime.GC() call (which
// is what Lua's collectgarbage("collect") does): heap before->after->live.
var rlForcedGC = regexp.MustCompile(`gc \d+ @[^\n]*?(\d+)->(\d+)->(\d+) MB, (\d+) MB goal[^\n]*\(forced\)`)

// rlLastLiveHeapMB is the live heap after the last forced GC in the logs.
func rlLastLiveHeapMB(logs string) (int, bool) {
	all := rlForcedGC.FindAllStringSubmatch(logs, -1)
	if len(all) == 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(all[len(all)-1][3])
	return n, true
}
