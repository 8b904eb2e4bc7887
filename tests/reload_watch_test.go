package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rlWatchMain is tests/testdata/reload/watch_main.lua requiring modules.
func rlWatchMain(t testing.TB, modules ...string) string {
	return renderTestdata(t, "reload/watch_main.lua", modules)
}

// rlLuaString is a module that returns s.
func rlLuaString(s string) string { return fmt.Sprintf("return %q\n", s) }

// rlServedBy dials new connections until one answers with prefix want
// (bounded by d) and returns how long that took.
func rlServedBy(t testing.TB, addr, want string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for i := 0; ; i++ {
		c, err := rlDial(addr)
		if err == nil {
			last, err = rlRoundTrip(c, "x")
			c.Close()
		}
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if last == want+"|x" {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("after %s new connections still answer %q, want %q", d, last, want+"|x")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReloadWatch: --watch picks up in-place writes, an editor's
// write-to-temp-then-rename, vim's rename-away-then-write, a new module
// created (no reload: nothing loaded it) then required by an edited main script (also in a new
// sub-folder, which must become watched), and coalesces a burst of 10
// writes in 20 ms into at most 2 reloads. Every reload says trigger=watch.
func TestReloadWatch(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		dir := t.TempDir()
		mainPath, tagPath := filepath.Join(dir, "main.lua"), filepath.Join(dir, "tag.lua")
		rlWriteFiles(t, dir, map[string]string{"main.lua": rlWatchMain(t, "tag"), "tag.lua": rlLuaString("W1")})
		srv := startServer(t, poller, "--watch", mainPath)
		rlServedBy(t, srv.Addr, "W1", 5*time.Second)

		reloads := 0
		// step performs change, waits until new connections answer want,
		// then checks the new reloaded lines: trigger=watch, consecutive
		// versions, between minR and maxR of them.
		step := func(name string, minR, maxR int, want string, change func()) {
			t.Helper()
			change()
			took := rlServedBy(t, srv.Addr, want, 5*time.Second)
			rlWaitLog(t, srv.Logs, 5*time.Second, name+": reloaded", func(l string) bool { return len(rlReloads(l))-reloads >= minR })
			time.Sleep(150 * time.Millisecond) // a late extra reload would show by now
			rs := rlReloads(srv.Logs())
			n := len(rs) - reloads
			if n < minR || n > maxR {
				t.Fatalf("%s: %d reloads, want %d..%d; logs:\n%s", name, n, minR, maxR, rlTail(srv.Logs(), 3000))
			}
			for i, r := range rs[reloads:] {
				if r.trigger != "watch" || r.version != reloads+i+2 {
					t.Fatalf("%s: reload %+v, want trigger=watch version=%d", name, r, reloads+i+2)
				}
			}
			reloads = len(rs)
			t.Logf("%s: live after %s, %d reload(s)", name, took.Round(100*time.Microsecond), n)
		}

		step("write in place", 1, 1, "W2", func() {
			rlWriteFiles(t, dir, map[string]string{"tag.lua": rlLuaString("W2")})
		})
		step("write temp then rename over", 1, 1, "W3", func() {
			tmp := tagPath + ".tmp"
			rlWriteFiles(t, dir, map[string]string{"tag.lua.tmp": rlLuaString("W3")})
			if err := os.Rename(tmp, tagPath); err != nil {
				t.Fatal(err)
			}
		})
		step("vim: rename away, write new, remove backup", 1, 2, "W4", func() {
			if err := os.Rename(tagPath, tagPath+"~"); err != nil {
				t.Fatal(err)
			}
			rlWriteFiles(t, dir, map[string]string{"tag.lua": rlLuaString("W4")})
			if err := os.Remove(tagPath + "~"); err != nil {
				t.Fatal(err)
			}
		})
		// Creating extra.lua in the script folder reloads nothing (no
		// version loaded it); then main.lua requires it.
		step("new module created", 0, 0, "W4", func() {
			rlWriteFiles(t, dir, map[string]string{"extra.lua": rlLuaString("X1")})
		})
		step("main edited to require the new module", 1, 1, "W4+X1", func() {
			rlWriteFiles(t, dir, map[string]string{"main.lua": rlWatchMain(t, "tag", "extra")})
		})
		step("new module edited", 1, 1, "W4+X2", func() {
			rlWriteFiles(t, dir, map[string]string{"extra.lua": rlLuaString("X2")})
		})
		// A module in a new sub-folder: the folder is not watched until a
		// reload requires the module from it.
		if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		rlWriteFiles(t, dir, map[string]string{"lib/util.lua": rlLuaString("U1")})
		step("main edited to require lib.util", 1, 1, "W4+X2+U1", func() {
			rlWriteFiles(t, dir, map[string]string{"main.lua": rlWatchMain(t, "tag", "extra", "lib.util")})
		})
		step("module in the new sub-folder edited", 1, 1, "W4+X2+U2", func() {
			rlWriteFiles(t, dir, map[string]string{"lib/util.lua": rlLuaString("U2")})
		})
		step("burst of 10 writes in 20 ms", 1, 2, "B10+X2+U2", func() {
			start := time.Now()
			for i := 1; i <= 10; i++ {
				rlWriteFiles(t, dir, map[string]string{"tag.lua": rlLuaString(fmt.Sprintf("B%d", i))})
				time.Sleep(time.Until(start.Add(time.Duration(i) * 2 * time.Millisecond)))
			}
			if d := time.Since(start); d > 40*time.Millisecond {
				t.Logf("the burst took %s (slow machine)", d)
			}
		})
		if fs := rlFailures(srv.Logs()); len(fs) != 0 {
			t.Fatalf("reloads failed during editor-style writes: %+v", fs)
		}
		srv.stop()
	})
}
