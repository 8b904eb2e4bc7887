package tests

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadFailedLoadHasNoSideEffects: the issue says a reload that fails
// at load changes nothing and the old version keeps serving. A version that
// opens a listener and starts a server.every timer before it throws must
// leave neither behind: nothing may keep serving or running code of a
// version that never went live (its handles are lost, so a script cannot
// cancel them either).
func TestReloadFailedLoadHasNoSideEffects(t *testing.T) {
	dir := t.TempDir()
	mainPath := filepath.Join(dir, "main.lua")
	rlWriteFiles(t, dir, map[string]string{"main.lua": testdataText(t, "reload/side_good.lua")})
	srv := startServer(t, "epoll", mainPath)
	ctl := rlMustDial(t, srv.Addr)
	if got := rlAsk(t, ctl, "leak"); got != "0|0" {
		t.Fatalf("leak = %q before the reload", got)
	}

	rlWriteFiles(t, dir, map[string]string{"main.lua": testdataText(t, "reload/side_failing.lua")})
	srv.cmd.Process.Signal(syscall.SIGHUP)
	logs := rlWaitLog(t, srv.Logs, 10*time.Second, "the failed reload", func(l string) bool { return len(rlFailures(l)) == 1 })
	if line := fileLineOf(t, mainPath, "boom after side effects"); !rlMentionsLine(rlFailures(logs)[0].err, mainPath, line) {
		t.Fatalf("failure logged as %+v, want %s:%d", rlFailures(logs)[0], mainPath, line)
	}
	time.Sleep(200 * time.Millisecond)

	port, ticks, _ := strings.Cut(rlAsk(t, ctl, "leak"), "|")
	var problems []string
	if n, _ := strconv.Atoi(ticks); n > 0 {
		problems = append(problems, "the failed version's server.every timer fired "+ticks+" times in 200 ms after the failure")
	}
	if port != "0" {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("x"))
			buf := make([]byte, 100)
			n, _ := c.Read(buf)
			c.Close()
			problems = append(problems, "the listener the failed version opened (127.0.0.1:"+port+") still accepts, and answers "+strconv.Quote(string(buf[:n])))
		}
	}
	if len(problems) > 0 {
		t.Errorf("PRODUCT BUG: a reload that failed at load left side effects behind (\"nothing changes\" is violated):\n  - %s",
			strings.Join(problems, "\n  - "))
	}
	if err := rlCloseClean(ctl); err != nil {
		t.Fatal(err)
	}
	srv.stop()
}
