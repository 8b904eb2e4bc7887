package tests

import (
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSSHReloadKeepsSessions: a SIGHUP reload with a shell session open
// keeps the session; a new session class that defines reloaded takes the
// open session over (its reloaded runs, its data handler answers next),
// and one that does not leaves it on the old code.
func TestSSHReloadKeepsSessions(t *testing.T) {
	site := newSSHSite(t)
	dir := t.TempDir()
	keys := filepath.Join(site.dir, "authorized_keys")
	write := func(version, moved string) string {
		return rawWriteFile(t, dir, "app.lua", renderTestdata(t, "ssh/reload.lua",
			map[string]string{"Version": version, "Moved": moved, "Keys": keys}))
	}
	script := write("v1", "")
	t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
	srv := batteryServer(t, "epoll", script)
	c := site.goClient(t, srv.Addr)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	var got syncBuffer
	go io.Copy(&got, out)
	waitFor(t, 10*time.Second, "the shell", func() bool { return got.String() == "ready\n" })
	ask := func(msg, want string) {
		t.Helper()
		n := len(got.String())
		io.WriteString(in, msg)
		waitFor(t, 10*time.Second, "the answer to "+msg, func() bool { return len(got.String()) >= n+len(want) })
		if s := got.String()[n:]; s != want {
			t.Fatalf("answer to %q: %q, want %q", msg, s, want)
		}
	}
	ask("a", "v1:a")
	reload := func(n int) {
		srv.cmd.Process.Signal(syscall.SIGHUP)
		rlWaitLog(t, srv.Logs, 20*time.Second, "the reload", func(l string) bool { return len(rlReloads(l)) >= n })
	}

	write("v2", "")
	reload(1)
	ask("b", "v1:b") // no reloaded: the session keeps its code

	write("v3", "yes") // defines reloaded
	n := len(got.String())
	reload(2)
	waitFor(t, 10*time.Second, "reloaded", func() bool { return strings.Contains(got.String()[n:], "[moved]") })
	ask("c", "v3:c")

	// A new session gets the new code too.
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s2.Stdin = strings.NewReader("d")
	o2, _ := s2.StdoutPipe()
	if err := s2.Shell(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(o2, buf[:len("ready\nv3:d")]); err != nil || string(buf) != "ready\nv3:d" {
		t.Errorf("new session: %q %v", buf, err)
	}
}
