package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/ssh"
)

// muxServer starts the mux application with the ssh application beside it.
func (s *sshSite) muxServer(t *testing.T, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s.script(t, dir, "nil")
	main := scriptFrom(t, dir, "ssh/mux_main.lua", s.root)
	t.Setenv("XDG_STATE_HOME", filepath.Join(s.dir, "state"))
	return batteryServer(t, "epoll", append(args, main)...)
}

func httpStats(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	_, body := httpStatus(t, "http://"+addr+"/stats")
	var st map[string]float64
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		var loose map[string]any
		json.Unmarshal([]byte(body), &loose)
		st = map[string]float64{}
		for k, v := range loose {
			if f, ok := v.(float64); ok {
				st[k] = f
			}
		}
	}
	return st
}

// TestSSHOnePortMixed: on one port, at the same time, an SSH session
// streaming through `cat`, WebSocket echo clients, an sftp get of 20 MB,
// HTTP requests and an FTP download of the file sftp wrote, with one users
// table for SSH and FTP.
func TestSSHOnePortMixed(t *testing.T) {
	site := newSSHSite(t)
	srv := site.muxServer(t)
	addr := srv.Addr
	sum := httpBigFile(t, filepath.Join(site.root, "big.bin"), 20_000_000)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wsMsgs, sshBytes atomic.Int64
	errs := make(chan error, 8)
	wg.Add(2)
	go func() { // WebSocket echo
		defer wg.Done()
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil)
		if err != nil {
			errs <- err
			return
		}
		defer conn.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			msg := fmt.Sprintf("message %d", i)
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				errs <- err
				return
			}
			if _, got, err := conn.ReadMessage(); err != nil || string(got) != msg {
				errs <- fmt.Errorf("ws echo: %q %v", got, err)
				return
			}
			wsMsgs.Add(1)
		}
	}()
	c := site.goClient(t, addr)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Start("cat"); err != nil {
		t.Fatal(err)
	}
	go func() { // SSH stream
		defer wg.Done()
		chunk := bytes.Repeat([]byte("ssh "), 4096)
		back := make([]byte, len(chunk))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := in.Write(chunk); err != nil {
				errs <- err
				return
			}
			if _, err := io.ReadFull(out, back); err != nil || !bytes.Equal(back, chunk) {
				errs <- fmt.Errorf("ssh cat: %v", err)
				return
			}
			sshBytes.Add(int64(len(chunk)))
		}
	}()

	back := filepath.Join(t.TempDir(), "back.bin")
	if r := site.sftp(t, addr, "alice", "get big.bin "+back+"\nput "+back+" copy.bin\n"); r.code != 0 {
		t.Errorf("sftp: %d %q", r.code, r.stderr)
	} else if fileSum(t, back) != sum || fileSum(t, filepath.Join(site.root, "copy.bin")) != sum {
		t.Error("sftp copies differ")
	}
	if st := httpStats(t, addr); st["ssh_connections"] < 1 {
		t.Errorf("http /stats: %v", st)
	}
	ftpOut := filepath.Join(t.TempDir(), "ftp.bin")
	curlOK(t, "-o", ftpOut, "ftp://alice:al1ce-pw@"+addr+"/copy.bin")
	if fileSum(t, ftpOut) != sum {
		t.Error("the FTP download of the file sftp wrote differs")
	}
	r := site.sshPassword(t, addr, "alice", "al1ce-pw", nil, "via", "mux")
	if r.code != 0 || r.stdout != "user=alice exec=via mux\n" {
		t.Errorf("ssh exec through the mux: %d %q %q", r.code, r.stdout, r.stderr)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if wsMsgs.Load() < 10 || sshBytes.Load() < 1<<20 {
		t.Errorf("during the transfers: %d WebSocket echoes, %d bytes through ssh cat", wsMsgs.Load(), sshBytes.Load())
	}
	t.Logf("meanwhile: %d WebSocket echoes, %d bytes through ssh cat", wsMsgs.Load(), sshBytes.Load())
}

// TestSSHHostileStartups: 1,000 connections that send the identification
// line and never go on stay bounded (MaxStartups-like early drop, login
// grace); goroutines and heap stay within bounds while they hold their
// sockets, and a healthy client logs in before the grace time has passed
// twice.
func TestSSHHostileStartups(t *testing.T) {
	site := newSSHSite(t)
	const grace = 4 * time.Second
	srv := site.muxServer(t, "--ssh-max-startups", "10:30:50", "--ssh-login-grace", grace.String())
	addr := srv.Addr
	base := httpStats(t, addr)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < 1000; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		c.Write([]byte("SSH-2.0-stalled\r\n"))
	}
	waitFor(t, 20*time.Second, "the early drops", func() bool { return httpStats(t, addr)["ssh_dropped"] >= 900 })
	st := httpStats(t, addr)
	t.Logf("after 1000 stalled clients: %v", st)
	if st["ssh_unauthenticated"] > 50 {
		t.Errorf("%v unauthenticated SSH connections, cap 50", st["ssh_unauthenticated"])
	}
	// Per unauthenticated connection: ours plus the library's two.
	if g := st["goroutines"] - base["goroutines"]; g > 50*4 {
		t.Errorf("%v more goroutines for at most 50 connections", g)
	}
	if h := st["heap_bytes"] - base["heap_bytes"]; h > 64<<20 {
		t.Errorf("heap grew by %v bytes", h)
	}
	// A healthy client gets in once the stalled ones' grace is over, while
	// they still hold their sockets.
	var r toolResult
	for time.Since(start) < 2*grace+20*time.Second {
		if r = site.sshKey(t, addr, site.key, "alice", []string{"-o", "ConnectionAttempts=1"}, "healthy"); r.code == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.stdout != "user=alice exec=healthy\n" {
		t.Fatalf("healthy client: %d %q %q", r.code, r.stdout, r.stderr)
	}
	st = httpStats(t, addr)
	if st["ssh_grace_timeouts"] < 1 {
		t.Errorf("no login grace timeouts: %v", st)
	}
	waitFor(t, 2*grace+20*time.Second, "the stalled connections to be closed", func() bool {
		return httpStats(t, addr)["ssh_connections"] == 0
	})
}

// TestSSHHostileInput: garbage after the identification line is answered
// by a close; an id line and silence by a close after the login grace; too
// many failed passwords by a disconnect after max_auth_tries; a flood of
// channel requests and channel opens leaves the server serving.
func TestSSHHostileInput(t *testing.T) {
	site := newSSHSite(t)
	srv := site.muxServer(t, "--ssh-login-grace", "3s")
	addr := srv.Addr

	readToEOF := func(c net.Conn, d time.Duration) error {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		return err
	}
	t.Run("garbage", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		junk := bytes.Repeat([]byte{0xff, 0, 0, 0, 7, 1, 2, 3}, 512)
		c.Write(append([]byte("SSH-2.0-junk\r\n"), junk...))
		if err := readToEOF(c, 2*time.Second); err != nil {
			t.Errorf("garbage: not closed within 2 s (grace 3 s): %v", err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("SSH-2.0-stall\r\n"))
		if err := readToEOF(c, 20*time.Second); err != nil {
			t.Errorf("stalled client not closed: %v", err)
		}
		if httpStats(t, addr)["ssh_grace_timeouts"] < 1 {
			t.Error("not counted as a grace timeout")
		}
	})
	t.Run("auth tries", func(t *testing.T) {
		var tries atomic.Int32
		_, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "alice", HostKeyCallback: ssh.InsecureIgnoreHostKey(),
			Timeout: 20 * time.Second, Auth: []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
				tries.Add(1)
				return "wrong", nil
			}), 50)}})
		if err == nil {
			t.Fatal("logged in with a wrong password")
		}
		if n := tries.Load(); n != 6 {
			t.Errorf("%d password attempts before the disconnect, want 6 (max_auth_tries)", n)
		}
	})
	t.Run("request flood", func(t *testing.T) {
		c := site.goClient(t, addr)
		before := httpStats(t, addr)
		var opened []ssh.Channel
		refused := 0
		for i := 0; i < 40; i++ {
			ch, reqs, err := c.OpenChannel("session", nil)
			if err != nil {
				refused++
				continue
			}
			go ssh.DiscardRequests(reqs)
			opened = append(opened, ch)
		}
		if len(opened) != 10 || refused != 30 {
			t.Errorf("%d sessions opened, %d refused; want 10 and 30 (max_sessions)", len(opened), refused)
		}
		ch := opened[0]
		wc := ssh.Marshal(struct{ Cols, Rows, W, H uint32 }{80, 24, 0, 0})
		for i := 0; i < 20000; i++ {
			var err error
			switch i % 4 {
			case 0:
				_, err = ch.SendRequest("window-change", false, wc)
			case 1:
				_, err = ch.SendRequest("env", false, ssh.Marshal(struct{ K, V string }{"A", "B"}))
			case 2:
				_, err = ch.SendRequest("no-such-request", false, nil)
			case 3:
				_, err = ch.SendRequest("pty-req", false, []byte{1, 2, 3})
			}
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		for _, ch := range opened {
			ch.Close()
		}
		// A channel's close reaches the server after our next request may:
		// the slots come back once it has read the closes.
		var sess *ssh.Session
		var err error
		deadline := time.Now().Add(10 * time.Second)
		for sess, err = c.NewSession(); err != nil && strings.Contains(err.Error(), "at most 10 sessions") && time.Now().Before(deadline); sess, err = c.NewSession() {
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.Output("after the flood")
		if err != nil || string(out) != "user=alice exec=after the flood\n" {
			t.Errorf("exec after the flood: %q %v", out, err)
		}
		after := httpStats(t, addr)
		if g := after["goroutines"] - before["goroutines"]; g > 20 {
			t.Errorf("%v more goroutines after the flood", g)
		}
	})
	if strings.Contains(srv.Logs(), "panic") {
		t.Errorf("panic in the log:\n%s", srv.Logs())
	}

}

// TestSSHMaxConns: --ssh-max-conns closes SSH connections beyond it at
// once, counted as dropped; a slot freed is usable again.
func TestSSHMaxConns(t *testing.T) {
	site := newSSHSite(t)
	srv := site.muxServer(t, "--ssh-max-conns", "2")
	addr := srv.Addr
	a := site.goClient(t, addr)
	b := site.goClient(t, addr)
	if c, err := ssh.Dial("tcp", addr, site.clientConfig(t)); err == nil {
		c.Close()
		t.Fatal("a third SSH connection was served with --ssh-max-conns 2")
	}
	if st := httpStats(t, addr); st["ssh_dropped"] != 1 || st["ssh_connections"] != 2 {
		t.Errorf("stats: %v", st)
	}
	a.Close()
	waitFor(t, 10*time.Second, "the slot to free", func() bool { return httpStats(t, addr)["ssh_connections"] == 1 })
	c := site.goClient(t, addr)
	if out, err := mustSession(t, c).Output("again"); err != nil || string(out) != "user=alice exec=again\n" {
		t.Errorf("after a slot freed: %q %v", out, err)
	}
	_ = b
}

func mustSession(t *testing.T, c *ssh.Client) *ssh.Session {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
