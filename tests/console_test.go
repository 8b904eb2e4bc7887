package tests

import (
	"bytes"
	"errors"
	"net"
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

	"github.com/creack/pty"
	"github.com/gorilla/websocket"
)

// startConsoleServer runs the hooked echo with a console socket and
// returns the server and the socket's path.
func startConsoleServer(t *testing.T, flags ...string) (*server, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	args := append([]string{"--admin-socket", sock}, flags...)
	srv := startServer(t, "epoll", append(args, "testdata/console/hooked.lua")...)
	return srv, sock
}

// consoleEval runs `pocketlua console SOCK -e chunk`.
func consoleEval(t *testing.T, sock, chunk string) (stdout, stderr string, status int) {
	t.Helper()
	return consoleRun(t, nil, sock, "-e", chunk)
}

// consoleRun runs `pocketlua console args...` with env added.
func consoleRun(t *testing.T, env []string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := consoleCommand(args...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func wsEchoDial(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wsEchoRoundTrip(t *testing.T, c *websocket.Conn, send, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(send)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("sent %q, got %q, want %q", send, got, want)
	}
}

func TestConsoleEval(t *testing.T) {
	srv, sock := startConsoleServer(t, "--handler-timeout", "5s", "--max-memory", "64MiB")

	out, errs, st := consoleEval(t, sock, `return 1 + 1, "two\n", {1, x = {y = true}}`)
	want := "2\n\"two\\n\"\n{\n  1,\n  x = {\n    y = true,\n  },\n}\n"
	if st != 0 || out != want {
		t.Fatalf("status %d, stdout %q, stderr %q; want stdout %q", st, out, errs, want)
	}
	// print and log inside the chunk come back in order, before the result.
	out, _, st = consoleEval(t, sock, `print("a", 1) log.info("from the console", "k", 2) print("b") return "done"`)
	if st != 0 || !regexp.MustCompile(`^a\t1\nINFO from the console at=console:1 k=2\nb\n"done"\n$`).MatchString(out) {
		t.Fatalf("status %d, stdout %q", st, out)
	}
	// Globals are the script's: set one, read it back in another session.
	if _, errs, st = consoleEval(t, sock, `counter = 41`); st != 0 {
		t.Fatalf("assignment: status %d, %s", st, errs)
	}
	if out, _, _ = consoleEval(t, sock, `counter + 1`); out != "42\n" {
		t.Fatalf("counter + 1 = %q", out)
	}
	// Errors: status 1, the message with its traceback on stderr.
	out, errs, st = consoleEval(t, sock, `error("boom")`)
	if st != 1 || out != "" || !strings.Contains(errs, "console:1: boom") {
		t.Fatalf("error: status %d, stdout %q, stderr %q", st, out, errs)
	}
	if _, errs, st = consoleEval(t, sock, `x = = 1`); st != 1 || !strings.Contains(errs, "console:1:") {
		t.Fatalf("syntax error: status %d, stderr %q", st, errs)
	}
	if _, errs, st = consoleEval(t, sock, `for i = 1, 2 do`); st != 1 || !strings.Contains(errs, "incomplete") {
		t.Fatalf("incomplete chunk: status %d, stderr %q", st, errs)
	}
	if _, errs, st = consoleEval(t, sock, `:nosuch`); st != 1 || !strings.Contains(errs, "unknown command :nosuch") {
		t.Fatalf("unknown command: status %d, stderr %q", st, errs)
	}

	// A runaway chunk is interrupted by the guard; the server goes on.
	c := wsEchoDial(t, srv.Addr)
	wsEchoRoundTrip(t, c, "before", "before")
	_, errs, st = consoleEval(t, sock, `while true do end`)
	if st != 1 || !strings.Contains(errs, "interrupted: ran longer than the handler timeout (5s)") {
		t.Fatalf("runaway: status %d, stderr %q", st, errs)
	}
	wsEchoRoundTrip(t, c, "after", "after")
	if out, _, _ = consoleEval(t, sock, `1`); out != "1\n" {
		t.Fatalf("after the interruption the console says %q", out)
	}
	// So is a chunk that allocates without end, by --max-memory, long
	// before the handler timeout.
	_, errs, st = consoleEval(t, sock, `local t = {} while true do t[#t + 1] = string.rep("x", 1048576) end`)
	if st != 1 || !regexp.MustCompile(`^interrupted: Go heap at \d+ MiB, over --max-memory 64 MiB\n$`).MatchString(errs) {
		t.Fatalf("allocating without end: status %d, stderr %q", st, errs)
	}
	wsEchoRoundTrip(t, c, "after the heap", "after the heap")
	in, _, _ := consoleEval(t, sock, `server.stats().messages_in`)
	out, _, st = consoleEval(t, sock, `:stats`)
	for _, want := range []string{"  connections = 1,\n", "  messages_in = " + strings.TrimSpace(in) + ",\n", "  worker = 1,\n", `  poller = "epoll",`} {
		if st != 0 || !strings.Contains(out, want) {
			t.Fatalf(":stats: status %d, no %q in:\n%s", st, want, out)
		}
	}
	out, _, st = consoleEval(t, sock, `:help`)
	for _, cmd := range []string{":worker N", ":conns [filter]", ":inspect ID", ":close ID", ":reload", ":stats", ":log [level]", ":help"} {
		if st != 0 || !strings.Contains(out, "\n  "+cmd+" ") {
			t.Fatalf(":help: status %d, no %s in:\n%s", st, cmd, out)
		}
	}
	if _, errs, st = consoleEval(t, sock, `:log loud`); st != 1 || errs != "log level \"loud\": want debug, info, warn or error\n" {
		t.Fatalf(":log loud: status %d, stderr %q", st, errs)
	}

	// $POCKETLUA_ADMIN_SOCKET is the path when none is given; a given
	// path wins over it; neither is a usage error.
	viaEnv := func(env string, args ...string) (string, string, int) {
		return consoleRun(t, []string{"POCKETLUA_ADMIN_SOCKET=" + env}, append(args, "-e", `"which"`)...)
	}
	if out, errs, st := viaEnv(sock); st != 0 || out != "\"which\"\n" {
		t.Fatalf("POCKETLUA_ADMIN_SOCKET: status %d, %q %q", st, out, errs)
	}
	if out, errs, st := viaEnv(sock+".nosuch", sock); st != 0 || out != "\"which\"\n" {
		t.Fatalf("a path beside POCKETLUA_ADMIN_SOCKET: status %d, %q %q", st, out, errs)
	}
	if _, errs, st := viaEnv(sock + ".nosuch"); st != 1 || !strings.Contains(errs, "admin.sock.nosuch: connect: no such file") {
		t.Fatalf("POCKETLUA_ADMIN_SOCKET naming no socket: status %d, %q", st, errs)
	}
	if _, errs, st := viaEnv(""); st != 2 || !strings.Contains(errs, "no socket: give PATH or set POCKETLUA_ADMIN_SOCKET") {
		t.Fatalf("no path at all: status %d, %q", st, errs)
	}

	// Huge and cyclic tables print bounded.
	out, _, st = consoleEval(t, sock, `local t = {} for i = 1, 100000 do t[i] = i end return t`)
	if st != 0 || !strings.Contains(out, "-- 100000 entries, 30 shown") || len(out) > 4096 {
		t.Fatalf("100,000 entries: status %d, %d bytes:\n%s", st, len(out), out)
	}
	out, _, _ = consoleEval(t, sock, `local t = {name = "loop"} t.self = t return t`)
	if !regexp.MustCompile(`self = <cycle: table: 0x[0-9a-f]+>`).MatchString(out) {
		t.Fatalf("cycle not marked:\n%s", out)
	}
	out, _, _ = consoleEval(t, sock, `local t = {} local c = t for i = 1, 50 do c.next = {} c = c.next end return t`)
	if strings.Count(out, "next =") != 3 || !strings.Contains(out, "{...} -- 1 entry") {
		t.Fatalf("depth not bounded:\n%s", out)
	}

	// Every evaluated chunk leaves a trace in the server's log.
	uid := os.Getuid()
	for _, line := range []string{`line="while true do end"`, `line=:nosuch`, `line="counter = 41"`} {
		if !regexp.MustCompile(`level=INFO msg=console uid=` + strconv.Itoa(uid) + ` worker=1 ` + regexp.QuoteMeta(line)).MatchString(srv.Logs()) {
			t.Errorf("no console log line with %s in:\n%s", line, srv.Logs())
		}
	}
	srv.stop()
}

// ptyConsole is `pocketlua console` on a real pseudo-terminal.
type ptyConsole struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	seen bytes.Buffer // everything the terminal showed
	read int          // how much of seen expect has consumed
}

func startPTYConsole(t *testing.T, sock string) *ptyConsole {
	t.Helper()
	cmd := consoleCommand(sock)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyConsole{t: t, cmd: cmd, tty: tty}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.seen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tty.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// expect waits for re to match what the terminal showed since the last
// match, and returns the text up to the match's end.
func (p *ptyConsole) expect(re string) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		text := p.seen.String()[p.read:]
		p.mu.Unlock()
		if loc := rx.FindStringIndex(text); loc != nil {
			p.read += loc[1]
			return text[:loc[1]]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the console never showed %q; it showed:\n%s", re, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *ptyConsole) typeLine(s string) {
	p.t.Helper()
	if _, err := p.tty.Write([]byte(s + "\r")); err != nil {
		p.t.Fatal(err)
	}
}

func TestConsoleTerminal(t *testing.T) {
	srv, sock := startConsoleServer(t, "--handler-timeout", "5s")
	p := startPTYConsole(t, sock)
	p.expect(`console, worker 1 of 1 \(:help lists the commands\)`)
	p.expect(`pocketlua> `)

	p.typeLine("x = 40")
	p.expect(`pocketlua> `)
	p.typeLine("x + 2")
	p.expect(`\r\n42\r\npocketlua> `)

	// A multi-line definition asks for more, then changes the running
	// script: the connection's handler calls the new global.
	c := wsEchoDial(t, srv.Addr)
	wsEchoRoundTrip(t, c, "plain", "plain")
	p.typeLine("function hook(self, data, kind)")
	p.expect(`>> `)
	p.typeLine(`  self:send("hooked:" .. data, kind)`)
	p.expect(`>> `)
	p.typeLine("end")
	p.expect(`pocketlua> `)
	wsEchoRoundTrip(t, c, "hi", "hooked:hi")

	// History: the up arrow brings back the last line.
	p.typeLine("\x1b[A\x1b[A\x1b[A\x1b[A") // x + 2, four lines back
	p.expect(`\r\n42\r\npocketlua> `)

	// The connection is listed and its instance can be inspected.
	p.typeLine(":conns 127.0.0.1")
	row := p.expect(`\(1 of 1 connections\)`)
	m := regexp.MustCompile(`(?m)^(\d+) +127\.0\.0\.1:\d+ +testdata/console/hooked\.lua v1 +websocket +\d+s +0 +console\.demo\r?$`).FindStringSubmatch(row)
	if m == nil {
		t.Fatalf(":conns row not found in:\n%s", row)
	}
	id := m[1]
	p.typeLine(":inspect " + id)
	ins := p.expect(`\r\n}\r\n`)
	if !regexp.MustCompile(`conn = conn#`+id+`\(127\.0\.0\.1:\d+, websocket\)`).MatchString(ins) ||
		!strings.Contains(ins, `greeted = "hello 127.0.0.1:`) {
		t.Fatalf(":inspect %s showed:\n%s", id, ins)
	}
	p.typeLine("conn(" + id + ").greeted:sub(1, 5)")
	p.expect(`"hello"`)

	// A runaway chunk is interrupted and the connection is still served;
	// huge and cyclic tables print bounded.
	p.typeLine("while true do end")
	p.expect(`interrupted: ran longer than the handler timeout \(5s\)`)
	wsEchoRoundTrip(t, c, "still", "hooked:still")
	p.typeLine("big = {} for i = 1, 100000 do big[i] = i end")
	p.expect(`pocketlua> `)
	p.typeLine("big")
	if shown := p.expect(`-- 100000 entries, 30 shown\r\n}\r\npocketlua> `); len(shown) > 2048 {
		t.Fatalf("100,000 entries took %d bytes of terminal", len(shown))
	}
	p.typeLine("loop = {} loop.again = loop return loop")
	p.expect(`again = <cycle: table: 0x[0-9a-f]+>`)

	// :log streams the server's log until Ctrl-C.
	p.typeLine(":log")
	p.expect(`streaming the log at INFO and above; Ctrl-C stops`)
	if _, errs, st := consoleEval(t, sock, `log.warn("marker from elsewhere", "n", 7)`); st != 0 {
		t.Fatal(errs)
	}
	p.expect(`level=WARN msg="marker from elsewhere" at=console:1 n=7`)
	p.tty.Write([]byte{3})
	p.expect(`log stream ended\r\npocketlua> `)
	// :log warn leaves out what is below WARN.
	p.typeLine(":log warn")
	p.expect(`streaming the log at WARN and above; Ctrl-C stops`)
	if _, errs, st := consoleEval(t, sock, `log.info("quiet marker") log.warn("loud marker")`); st != 0 {
		t.Fatal(errs)
	}
	if shown := p.expect(`level=WARN msg="loud marker"`); strings.Contains(shown, "quiet marker") {
		t.Fatalf(":log warn showed an INFO line:\n%s", shown)
	}
	p.tty.Write([]byte{3})
	p.expect(`log stream ended\r\npocketlua> `)

	// Closing from the console: the client gets the code and reason.
	p.typeLine(":close " + id + " 4001 maintenance")
	p.expect(`closed ` + id)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "maintenance" {
		t.Fatalf("client got %v, want close 4001 maintenance", err)
	}

	// Ctrl-D leaves with status 0.
	p.tty.Write([]byte{4})
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("console exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("console did not exit on Ctrl-D")
	}
	srv.stop()
}

// consoleCommand is the console client, without the race detector's
// pause at exit.
func consoleCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"console"}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	return cmd
}

func TestConsoleWorkersAndReload(t *testing.T) {
	srv, sock := startConsoleServer(t, "--workers", "2")
	cmd := consoleCommand(sock)
	cmd.Stdin = strings.NewReader(":worker 2\nreturn server.stats().worker\n:worker 3\n:reload\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"worker 2 of 2\n2\n", "want a worker from 1 to 2\n", "reload asked of 2 worker(s)"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("console output lacks %q:\n%s", want, out)
		}
	}
	waitFor(t, 20*time.Second, "both workers to reload", func() bool {
		return strings.Count(srv.Logs(), "msg=reloaded") == 2
	})
	for w := 1; w <= 2; w++ {
		if !strings.Contains(srv.Logs(), "msg=reloaded worker="+strconv.Itoa(w)+" version=2 trigger=console") {
			t.Fatalf("worker %d did not log its reload:\n%s", w, srv.Logs())
		}
	}
	srv.stop()
}

func TestConsoleSocketSafety(t *testing.T) {
	dir := t.TempDir()

	// A path that is a regular file is refused, and left alone.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	res := rawRunCLI(t, dir, "-l", "127.0.0.1:0", "--admin-socket", file)
	if res.code != 1 || !strings.Contains(res.stderr, "exists and is not a socket; refusing to replace it") {
		t.Fatalf("regular file: %+v", res)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatal("the regular file was changed")
	}

	// A stale socket (nobody listening) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv := startServer(t, "epoll", "--admin-socket", stale, "testdata/console/hooked.lua")
	st, err := os.Stat(stale)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v mode %v, want a socket with 0600", err, st.Mode())
	}
	if out, _, code := consoleEval(t, stale, `"alive"`); code != 0 || out != "\"alive\"\n" {
		t.Fatalf("console on the replaced socket: %d %q", code, out)
	}

	// A live socket is not taken from the server that has it.
	res = rawRunCLI(t, dir, "-l", "127.0.0.1:0", "--admin-socket", stale)
	if res.code != 1 || !strings.Contains(res.stderr, "another process is listening on it") {
		t.Fatalf("second server on a live socket: %+v", res)
	}

	// Another user is refused: by the file mode, and by the peer
	// credentials check when the mode is opened up by mistake.
	if os.Getuid() == 0 {
		// The other user needs a binary and folders it may reach.
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		exe := filepath.Join(dir, "pocketlua")
		if b, err := os.ReadFile(binary); err != nil || os.WriteFile(exe, b, 0o755) != nil {
			t.Fatal("copying the binary", err)
		}
		run := func() string {
			cmd := exec.Command(exe, "console", stale, "-e", "1")
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatal(err)
			}
			return string(out)
		}
		if out := run(); !strings.Contains(out, "permission denied") {
			t.Fatalf("another user through mode 0600: %q", out)
		}
		os.Chmod(stale, 0o666)
		if out := run(); !strings.Contains(out, "refused: only the user the server runs as may use its console") {
			t.Fatalf("another user through an opened mode: %q", out)
		}
		if !strings.Contains(srv.Logs(), "console: refused a connection from another user") {
			t.Fatalf("refusal not logged:\n%s", srv.Logs())
		}
	} else {
		t.Log("not root: the other-user case needs root to switch users")
	}

	srv.stop()
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("socket left behind after exit: %v", err)
	}
}

// TestConsoleReadmeTranscript replays the README's console session
// against the embedded echo server and compares every reply.
func TestConsoleReadmeTranscript(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- console-transcript: run by TestConsoleReadmeTranscript -->\n```\n")
	if !ok {
		t.Fatal("README has no console transcript")
	}
	block, _, _ = strings.Cut(block, "```")
	var input, want strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n")[1:] { // after the $ line
		if in, ok := strings.CutPrefix(line, "pocketlua> "); ok {
			input.WriteString(in + "\n")
		} else if in, ok := strings.CutPrefix(line, ">> "); ok {
			input.WriteString(in + "\n")
		} else {
			want.WriteString(line + "\n")
		}
	}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv := startServer(t, "epoll", "--admin-socket", sock, "--handler-timeout", "2s")
	cmd := consoleCommand(sock)
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want.String() {
		t.Fatalf("the README's transcript is not what the console says.\ngot:\n%s\nwant:\n%s", out, want.String())
	}
	srv.stop()
}

// TestConsoleRefusesRoot: a server running as an ordinary user refuses
// root's console, which the socket's mode cannot keep out, by the peer
// credentials; the server's own user is let in.
func TestConsoleRefusesRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("not root: the case needs root to start the server as another user")
	}
	// The other user needs a binary, a script and a folder it may reach.
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	exe := filepath.Join(dir, "pocketlua")
	if b, err := os.ReadFile(binary); err != nil || os.WriteFile(exe, b, 0o755) != nil {
		t.Fatal("copying the binary", err)
	}
	src, err := os.ReadFile("testdata/console/hooked.lua")
	if err != nil {
		t.Fatal(err)
	}
	script := rawWriteFile(t, dir, "hooked.lua", string(src))
	sock := filepath.Join(dir, "admin.sock")
	// The harness appends its own binary: run the copy instead.
	asNobody := []string{"sh", "-c", `e=$1; shift 2; exec setpriv --reuid=65534 --regid=65534 --clear-groups "$e" "$@"`, "sh", exe}
	srv := launch{poller: "epoll", wrapper: asNobody}.start(t, "--admin-socket", sock, script)

	out, errs, st := consoleEval(t, sock, "1")
	if st != 1 || out != "" || !strings.Contains(errs, "refused: only the user the server runs as may use its console") {
		t.Fatalf("root's console: status %d, stdout %q, stderr %q", st, out, errs)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "console: refused a connection from another user", "uid=0", "server_uid=65534")

	cmd := exec.Command(exe, "console", sock, "-e", "server.stats().worker")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if b, err := cmd.CombinedOutput(); err != nil || string(b) != "1\n" {
		t.Fatalf("the server's own user: %q %v", b, err)
	}
	srv.stop()
}
