package tests

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// activated is a server started by systemd-socket-activate, with a
// NOTIFY_SOCKET the test listens on.
type activated struct {
	cmd   *exec.Cmd
	logs  *syncBuffer
	found chan []string // the addresses of the listening line
	notes chan string   // sd_notify datagrams
	done  chan struct{} // closed at exit
}

// socketActivate runs pocketlua under systemd-socket-activate listening on
// addr (stream, or datagram with -d in tool flags), with env passed by -E.
func socketActivate(t *testing.T, toolFlags, env []string, args ...string) *activated {
	t.Helper()
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Fatal("systemd-socket-activate not found: install Debian's systemd package (tests/run and .ci/run do)")
	}
	notifyPath := filepath.Join(t.TempDir(), "notify.sock")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	a := &activated{logs: &syncBuffer{}, found: make(chan []string, 1), notes: make(chan string, 256), done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := nl.ReadFromUnix(buf)
			if err != nil {
				return
			}
			a.notes <- string(buf[:n])
		}
	}()
	full := append([]string{}, toolFlags...)
	for _, e := range append(env, "NOTIFY_SOCKET="+notifyPath, "GORACE=atexit_sleep_ms=0") {
		full = append(full, "-E", e)
	}
	full = append(append(full, binary), args...)
	a.cmd = exec.Command(tool, full...)
	a.cmd.Stderr = &bannerTap{to: a.logs, found: a.found, seen: new(atomic.Bool)}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			a.cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

// note waits for the next sd_notify datagram that starts with prefix,
// skipping watchdog pings unless they are what is asked for.
func (a *activated) note(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case n := <-a.notes:
			if strings.HasPrefix(n, prefix) {
				return n
			}
			if n != "WATCHDOG=1" {
				t.Fatalf("sd_notify %q, want %q next; logs:\n%s", n, prefix, a.logs)
			}
		case <-deadline:
			t.Fatalf("no sd_notify %q within 20 s; logs:\n%s", prefix, a.logs)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// dialRetry connects to addr, waiting up to 10 s for something to listen.
func dialRetry(t *testing.T, addr string) *rawClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return &rawClient{t: t, Conn: c, r: bufio.NewReader(c)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSystemdSocketActivation: under the real systemd-socket-activate the
// server serves the inherited socket (not --listen) with both workers
// accepting from it, and tells NOTIFY_SOCKET READY=1, WATCHDOG=1 while its
// loops answer, RELOADING=1 then READY=1 around a SIGHUP reload, and
// STOPPING=1 on SIGTERM.
func TestSystemdSocketActivation(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	a := socketActivate(t, []string{"-l", addr}, []string{"WATCHDOG_USEC=400000"},
		"--workers", "2", "-l", "127.0.0.1:0", "--handler-timeout", "30s", testdata(t, "systemd/who.lua"))

	// The tool starts the server on the first connection.
	c := dialRetry(t, addr)
	c.send("hi\n")
	first := c.line()
	select {
	case addrs := <-a.found:
		if len(addrs) != 1 || addrs[0] != addr {
			t.Fatalf("listening on %q, want the inherited %s only", addrs, addr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line; logs:\n%s", a.logs)
	}
	if !strings.HasSuffix(first, " version=1") {
		t.Fatalf("first answer %q", first)
	}
	if n := a.note(t, "READY=1"); !strings.Contains(n, "STATUS=listening on "+addr) {
		t.Errorf("READY note %q lacks the status", n)
	}
	a.note(t, "WATCHDOG=1")
	if !strings.Contains(a.logs.String(), "--listen ignored") {
		t.Errorf("no warning that --listen was ignored; logs:\n%s", a.logs)
	}

	// While one worker is busy the other accepts from the same socket.
	c.send("spin\n")
	time.Sleep(200 * time.Millisecond)
	c2 := dialRetry(t, addr)
	c2.send("hi\n")
	other := c2.line()
	busy := c.line()
	if strings.Fields(other)[0] == strings.Fields(busy)[0] {
		t.Errorf("both answers from %q while it was busy: the other worker does not accept from the inherited socket", busy)
	}
	// A stuck loop withholds the watchdog ping.
	rawWaitLogsIn(t, a.logs.String, "watchdog: a loop did not answer")

	a.cmd.Process.Signal(syscall.SIGHUP)
	if n := a.note(t, "RELOADING=1"); !strings.Contains(n, "\nMONOTONIC_USEC=") {
		t.Errorf("RELOADING note %q lacks MONOTONIC_USEC", n)
	}
	a.note(t, "READY=1")
	c3 := dialRetry(t, addr)
	c3.send("hi\n")
	if got := c3.line(); !strings.HasSuffix(got, " version=2") {
		t.Errorf("after the reload: %q, want version=2 (READY=1 came before the reload was done)", got)
	}

	a.cmd.Process.Signal(syscall.SIGTERM)
	a.note(t, "STOPPING=1")
	select {
	case <-a.done:
		if code := a.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit %d; logs:\n%s", code, a.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit after SIGTERM; logs:\n%s", a.logs)
	}
}

// TestSystemdRefusesDatagramSocket: an inherited socket pocketlua cannot
// serve is a clear startup error, not a silent hang.
func TestSystemdRefusesDatagramSocket(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	a := socketActivate(t, []string{"-d", "-l", addr}, nil, testdata(t, "systemd/who.lua"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("udp", addr); err == nil {
			c.Write([]byte("wake up"))
			c.Close()
		}
		select {
		case <-a.done:
			if code := a.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(a.logs.String(), "inherited descriptor 3: not a stream socket") {
				t.Fatalf("exit %d, want 1 with a clear error; logs:\n%s", code, a.logs)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running; logs:\n%s", a.logs)
		}
	}
}

// rawWaitLogsIn waits up to 10 s for a log line containing sub.
func rawWaitLogsIn(t *testing.T, logs func() string, sub string) {
	t.Helper()
	waitFor(t, 10*time.Second, sub, func() bool { return strings.Contains(logs(), sub) })
}

// TestSystemdListenEnv: LISTEN_FDS meant for another process (LISTEN_PID
// not ours) is ignored and --listen bound as usual; a malformed count
// meant for us stops the server with a clear error.
func TestSystemdListenEnv(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	srv := startServer(t, "epoll", testdata(t, "systemd/who.lua"))
	c := dialRaw(t, srv.Addr)
	c.send("hi\n")
	if got := c.line(); got != "worker=1 version=1" {
		t.Fatalf("answer %q", got)
	}
	if strings.Contains(srv.Logs(), "--listen ignored") {
		t.Errorf("another process's LISTEN_FDS was taken; logs:\n%s", srv.Logs())
	}
	srv.stop()

	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=abc exec "$0" "$@"`, binary, "-l", "127.0.0.1:0", testdata(t, "systemd/who.lua"))
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), `LISTEN_FDS="abc": want a count of inherited sockets`) {
		t.Fatalf("exit %d (%v), output %q; want 1 and a clear error", code, err, out)
	}
}
