package tests

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestSSHLogin: OpenSSH's ssh logs in with a password and with a key;
// a wrong password, an unknown key and an unknown user are refused; exec
// passes its output, stderr and exit status through.
func TestSSHLogin(t *testing.T) {
	site := newSSHSite(t)
	srv := site.server(t)
	addr := srv.Addr

	r := site.sshPassword(t, addr, "alice", "al1ce-pw", nil, "hello", "world")
	if r.code != 0 || r.stdout != "user=alice exec=hello world\n" {
		t.Errorf("password login: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = site.sshKey(t, addr, site.key, "alice", nil, "whoami")
	if r.code != 0 || r.stdout != "user=alice exec=whoami\n" {
		t.Errorf("key login: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = site.sshKey(t, addr, site.key, "alice", nil, "exit 42")
	if r.code != 42 || r.stderr != "exiting with 42\n" || r.stdout != "" {
		t.Errorf("exec exit status: %d %q %q, want 42 and the stderr line", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		name string
		r    func() toolResult
	}{
		{"wrong password", func() toolResult {
			return site.sshPassword(t, addr, "alice", "wrong", []string{"-o", "NumberOfPasswordPrompts=1"}, "x")
		}},
		{"password of another user", func() toolResult {
			return site.sshPassword(t, addr, "alice", "b0b-pw", []string{"-o", "NumberOfPasswordPrompts=1"}, "x")
		}},
		{"unknown user", func() toolResult {
			return site.sshPassword(t, addr, "mallory", "al1ce-pw", []string{"-o", "NumberOfPasswordPrompts=1"}, "x")
		}},
		{"unknown key", func() toolResult { return site.sshKey(t, addr, site.unknownKey, "alice", nil, "x") }},
		{"key of another user", func() toolResult { return site.sshKey(t, addr, site.key, "bob", nil, "x") }},
	} {
		r := c.r()
		if r.code != 255 || !strings.Contains(r.stderr, "Permission denied") || strings.Contains(r.stdout, "exec=") {
			t.Errorf("%s: %d %q %q, want 255 Permission denied", c.name, r.code, r.stdout, r.stderr)
		}
	}
	// The "none" method alone gets nowhere.
	if _, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "alice", HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout: 20 * time.Second}); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("none: %v, want unable to authenticate", err)
	}
	st := site.serverStats(t, addr)
	if st["ssh_auth_failures"] < 5 || st["ssh_unauthenticated"] != 0 {
		t.Errorf("stats after refusals: %v", st)
	}
	if strings.Contains(srv.Logs(), "level=ERROR") {
		t.Errorf("errors in the log:\n%s", srv.Logs())
	}
}

// TestSSHShellPty drives an interactive shell through a pty with ssh -tt:
// the pty request's terminal and size reach the session, typed keys are
// echoed and lines answered, and "exit" ends with the session's status.
func TestSSHShellPty(t *testing.T) {
	site := newSSHSite(t)
	srv := site.server(t)
	args := append(site.opts(srv.Addr, "-p"), "-tt", "-o", "BatchMode=yes", "-i", site.key, "alice@127.0.0.1")
	cmd := exec.Command("ssh", args...)
	cmd.Env = append(os.Environ(), "TERM=xterm-test", "SSH_AUTH_SOCK=")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitFor(t, 20*time.Second, "the welcome line", func() bool { return strings.Contains(out.String(), "$ ") })
	if !strings.Contains(out.String(), "welcome alice xterm-test ") {
		t.Errorf("welcome: %q", out.String())
	}
	io.WriteString(in, "ls -l\r")
	waitFor(t, 10*time.Second, "the answer", func() bool { return strings.Contains(out.String(), "you typed: ls -l") })
	if !strings.Contains(out.String(), "ls -l\r\nyou typed: ls -l\r\n$ ") {
		t.Errorf("echo and answer: %q", out.String())
	}
	io.WriteString(in, "exit\r")
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 7 {
			t.Errorf("exit: %v, want status 7", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("ssh did not exit; output %q", out.String())
	}
	if !strings.Contains(out.String(), "bye") {
		t.Errorf("no goodbye: %q", out.String())
	}
}

// TestSSHWindowChangeAndStdin: through x/crypto/ssh, a window change
// reaches the session's window_change, and exec input flows through data
// with EOF, 4 MiB echoed back byte for byte (the channel's flow control
// and the session's output queue in both directions).
func TestSSHWindowChangeAndStdin(t *testing.T) {
	site := newSSHSite(t)
	srv := site.server(t)
	c := site.goClient(t, srv.Addr)

	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	sess.Stdout = &out
	if err := sess.RequestPty("vt100", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the welcome line", func() bool { return strings.Contains(out.String(), "welcome alice vt100 80x24") })
	if err := sess.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the resize", func() bool { return strings.Contains(out.String(), "[resized 132x50]") })
	sess.Close()

	sess, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	sess.Stdin = bytes.NewReader(payload)
	got, err := sess.Output("cat")
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("cat: %d bytes back of %d (%v)", len(got), len(payload), err)
	}
}

// TestSSHSFTP: sftp put and get of a 50 MB file compare byte for byte;
// traversal by "..", absolute paths and symlinks is refused; a read-only
// user cannot write; modern scp (over SFTP) works and legacy scp -O is
// refused.
func TestSSHSFTP(t *testing.T) {
	site := newSSHSite(t)
	srv := site.server(t)
	addr := srv.Addr
	local := t.TempDir()
	big := filepath.Join(local, "big.bin")
	sum := httpBigFile(t, big, 50_000_000)
	back := filepath.Join(local, "back.bin")

	t0 := time.Now()
	r := site.sftp(t, addr, "alice", "put "+big+" up.bin\nget up.bin "+back+"\n")
	if r.code != 0 {
		t.Fatalf("sftp put/get: %d %q %q", r.code, r.stdout, r.stderr)
	}
	t.Logf("sftp put+get of 50 MB in %s", time.Since(t0).Round(time.Millisecond))
	if fileSum(t, filepath.Join(site.root, "up.bin")) != sum || fileSum(t, back) != sum {
		t.Fatal("the 50 MB file differs after put and get")
	}

	for _, p := range []string{"../secret.txt", "/../secret.txt", "../../../../../../etc/passwd", site.outside,
		"escape.txt", "escape/secret.txt", "/escape/secret.txt"} {
		dst := filepath.Join(local, "stolen")
		os.Remove(dst)
		r := site.sftp(t, addr, "alice", "get "+p+" "+dst+"\n")
		if r.code == 0 {
			t.Errorf("get %s succeeded", p)
		}
		if data, err := os.ReadFile(dst); err == nil && len(data) > 0 {
			t.Errorf("get %s wrote %q", p, data)
		}
	}
	// ".." stops at the root, as in a chroot: these land inside it.
	if r := site.sftp(t, addr, "alice", "put "+filepath.Join(site.root, "hello.txt")+" ../../inside.txt\nmkdir ../newdir\ncd ../..\npwd\n"); r.code != 0 ||
		!strings.Contains(r.stdout, "Remote working directory: /\n") {
		t.Errorf("put/mkdir/cd with ..: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{"inside.txt", "newdir"} {
		if _, err := os.Stat(filepath.Join(site.root, p)); err != nil {
			t.Errorf("%s not in the root: %v", p, err)
		}
	}
	// Through a symlink that leads out, or by making one: refused.
	for _, cmdline := range []string{"put " + big + " escape/planted.bin", "mkdir escape/newdir",
		"rename hello.txt escape/moved.txt", "symlink /etc/passwd link", "ln hello.txt hard"} {
		if r := site.sftp(t, addr, "alice", cmdline+"\n"); r.code == 0 {
			t.Errorf("%q succeeded", cmdline)
		}
	}
	for _, p := range []string{filepath.Join(site.dir, "planted.bin"), filepath.Join(site.dir, "newdir"),
		filepath.Join(site.dir, "moved.txt"), filepath.Join(site.root, "link"), filepath.Join(site.root, "hard")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	if r := site.sftp(t, addr, "alice", "ls -1 /\n"); r.code != 0 || !strings.Contains(r.stdout, "hello.txt") {
		t.Errorf("ls /: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// bob (password login; sftp -b would forbid the askpass) may read,
	// not write: his SFTP root is the same, write is not set.
	r = site.run(t, "b0b-pw", "get hello.txt "+filepath.Join(local, "bob.txt")+"\nput "+big+" bob.bin\n", "sftp",
		append(site.opts(addr, "-P"), "-o", "PreferredAuthentications=password", "bob@127.0.0.1")...)
	if !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("bob's put: %q %q, want Permission denied", r.stdout, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(local, "bob.txt")); string(data) != "hello over sftp\n" {
		t.Errorf("bob's get: %q", data)
	}
	if _, err := os.Stat(filepath.Join(site.root, "bob.bin")); err == nil {
		t.Error("bob wrote a file")
	}

	scpArgs := append(site.opts(addr, "-P"), "-o", "BatchMode=yes", "-i", site.key)
	if r := site.run(t, "", "", "scp", append(scpArgs, big, "alice@127.0.0.1:scp.bin")...); r.code != 0 {
		t.Errorf("scp: %d %q", r.code, r.stderr)
	} else if fileSum(t, filepath.Join(site.root, "scp.bin")) != sum {
		t.Error("scp upload differs")
	}
	r = site.run(t, "", "", "scp", append(scpArgs, "-O", big, "alice@127.0.0.1:legacy.bin")...)
	if r.code == 0 {
		t.Error("legacy scp -O succeeded")
	}
	if _, err := os.Stat(filepath.Join(site.root, "legacy.bin")); err == nil {
		t.Error("legacy scp wrote a file")
	}
}

// TestSSHForwardingRefused: local and remote port forwarding, agent and
// X11 forwarding are refused; the session itself still works.
func TestSSHForwardingRefused(t *testing.T) {
	site := newSSHSite(t)
	srv := site.server(t)
	c := site.goClient(t, srv.Addr)
	if _, err := c.Dial("tcp", srv.Addr); err == nil || !strings.Contains(err.Error(), "prohibited") {
		t.Errorf("direct-tcpip: %v, want administratively prohibited", err)
	}
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward was accepted")
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := sess.SendRequest("auth-agent-req@openssh.com", true, nil); ok {
		t.Error("agent forwarding was accepted")
	}
	if ok, _ := sess.SendRequest("x11-req", true, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); ok {
		t.Error("x11 forwarding was accepted")
	}
	if ok, _ := sess.SendRequest("env", true, nil); ok {
		t.Error("env was accepted")
	}
	out, err := sess.Output("still here")
	if err != nil || string(out) != "user=alice exec=still here\n" {
		t.Errorf("exec after refusals: %q %v", out, err)
	}
}

// TestSSHHostKeyStable: with no host_keys, an ed25519 key is generated
// once (mode 0600) and served again after a restart.
func TestSSHHostKeyStable(t *testing.T) {
	site := newSSHSite(t)
	keyscan := func(addr string) string {
		_, port := splitAddr(addr)
		out, err := exec.Command("ssh-keyscan", "-T", "20", "-t", "ed25519", "-p", port, "127.0.0.1").Output()
		if err != nil || !strings.Contains(string(out), "ssh-ed25519 ") {
			t.Fatalf("ssh-keyscan: %v %q", err, out)
		}
		return strings.Fields(string(out))[2]
	}
	srv := site.server(t)
	first := keyscan(srv.Addr)
	srv.stop()
	path := filepath.Join(site.dir, "state", "pocketlua", "ssh_host_ed25519_key")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v %v", st, err)
	}
	srv = site.server(t)
	if second := keyscan(srv.Addr); second != first {
		t.Errorf("host key changed across a restart: %s then %s", first, second)
	}
	// The client remembers it: a strict check now passes.
	r := site.sshKey(t, srv.Addr, site.key, "alice", []string{"-o", "StrictHostKeyChecking=yes"}, "again")
	if r.code != 0 {
		t.Errorf("strict host key check after restart: %d %q", r.code, r.stderr)
	}
}
