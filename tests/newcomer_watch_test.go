package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchOnlyWhatWasLoaded: --watch reloads for the script, its modules
// and files it registered with server.watch, logs which file changed, and
// ignores other files in the same folder; a module broken by an edit is
// still watched, so fixing it reloads.
func TestWatchOnlyWhatWasLoaded(t *testing.T) {
	dir := t.TempDir()
	tagPath, cfgPath := filepath.Join(dir, "tag.lua"), filepath.Join(dir, "app.conf")
	rlWriteFiles(t, dir, map[string]string{"tag.lua": rlLuaString("W1"), "app.conf": "c1:"})
	mainPath := scriptFrom(t, dir, "newcomer/watch_main.lua", cfgPath)
	mainName := filepath.Base(mainPath)
	srv := startServer(t, "epoll", "--watch", mainPath)
	rlServedBy(t, srv.Addr, "c1:W1", 5*time.Second)

	// Scratch files beside the script: no reload.
	for _, name := range []string{"scratch.lua", "." + mainName + ".swp", mainName + "~", "other.conf"} {
		os.WriteFile(filepath.Join(dir, name), []byte("junk("), 0o644)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rlReloads(srv.Logs())) + len(rlFailures(srv.Logs())); n != 0 {
		t.Fatalf("writing files the script never loaded caused %d reloads; logs:\n%s", n, srv.Logs())
	}

	os.WriteFile(tagPath, []byte(rlLuaString("W2")), 0o644)
	rlServedBy(t, srv.Addr, "c1:W2", 5*time.Second)
	rawWaitLogs(t, srv, 5*time.Second, 1, `msg="watch: changed" files=`+tagPath)

	os.WriteFile(cfgPath, []byte("c2:"), 0o644)
	rlServedBy(t, srv.Addr, "c2:W2", 5*time.Second)
	rawWaitLogs(t, srv, 5*time.Second, 1, `msg="watch: changed" files=`+cfgPath)

	// A syntax error in the module: the reload fails and the old version
	// serves; the fix is seen.
	os.WriteFile(tagPath, []byte(renderTestdata(t, "reload/broken_tag.lua", "modsyntax")), 0o644)
	rlWaitLog(t, srv.Logs, 5*time.Second, "reload failed", func(l string) bool { return len(rlFailures(l)) >= 1 })
	rlServedBy(t, srv.Addr, "c2:W2", time.Second)
	os.WriteFile(tagPath, []byte(rlLuaString("W3")), 0o644)
	rlServedBy(t, srv.Addr, "c2:W3", 5*time.Second)
}

// TestWatchRefusedWithoutScript: --watch with the embedded default exits 2
// with a message that says what to do; server.watch outside the main
// chunk raises.
func TestWatchRefusedWithoutScript(t *testing.T) {
	r := rawRunCLI(t, "", "--watch", "-l", "127.0.0.1:0")
	if r.code != 2 || !strings.Contains(r.stderr, "--watch needs a script file") || strings.Contains(r.stderr, "msg=listening") {
		t.Fatalf("--watch without a script: exit %d, stderr %q; want 2 and a message", r.code, r.stderr)
	}
	srv := startServer(t, "epoll", testdata(t, "newcomer/late_watch.lua"))
	c := dialRaw(t, srv.Addr)
	c.send("x")
	c.expectEOF(10 * time.Second)
	rawWaitLogs(t, srv, 5*time.Second, 1, "lua handler failed", "server.watch: call it from the main chunk")
}
