package tests

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFTPSessionLogin: a control connection driven by hand gets the RFC
// 959 reply codes for SYST, FEAT and NOOP before login, for commands that
// need one, for wrong passwords and unknown users (the third failure ends
// the session), and anonymous logs in.
func TestFTPSessionLogin(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, _, _ string) {
		t.Run("login", func(t *testing.T) {
			c := ftpDial(t, srv.Addr)
			c.cmd("SYST", 215)
			feat := c.cmd("FEAT", 211)
			for _, f := range []string{"EPSV", "PASV", "SIZE", "MDTM", "REST STREAM", "UTF8"} {
				if !strings.Contains(feat, "\n "+f+"\n") {
					t.Errorf("FEAT lacks %s: %q", f, feat)
				}
			}
			c.cmd("NOOP", 200)
			c.cmd("PWD", 530)
			c.cmd("LIST", 530)
			c.cmd("PASS x", 503)
			c.cmd("USER alice", 331)
			c.cmd("PASS wrong", 530)
			c.cmd("USER nobody", 331)
			c.cmd("PASS x", 530)
			c.cmd("USER bob", 331)
			c.cmd("PASS wrong", 421) // the third failure ends the session
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if b, err := c.r.ReadByte(); err == nil {
				t.Errorf("byte %q after 421", b)
			}
			c.Close()
			c = ftpDial(t, srv.Addr)
			c.login("anonymous", "guest@example.com")
			c.quit()
		})
	})
}

// TestFTPSessionNavigation: PWD, CWD (".." stops at the root, symlinks out
// of it refused), SIZE, MDTM, TYPE, MODE, STRU, OPTS and the commands it
// does not serve get their RFC 959 / RFC 2428 reply codes.
func TestFTPSessionNavigation(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		t.Run("navigation and facts", func(t *testing.T) {
			c := ftpDial(t, srv.Addr)
			c.login("bob", "hunter2")
			if got := c.cmd("PWD", 257); got != `257 "/" is the current directory` {
				t.Errorf("PWD = %q", got)
			}
			c.cmd("CWD pub", 250)
			c.cmd("PWD", 257)
			c.cmd("CWD nope", 550)
			c.cmd("CWD ../../..", 250) // ".." stops at the root, like a chroot
			if got := c.cmd("XPWD", 257); !strings.Contains(got, `"/"`) {
				t.Errorf("PWD after CWD ../../.. = %q", got)
			}
			c.cmd("CWD /pub", 250)
			c.cmd("CDUP", 250)
			c.cmd("CWD escape", 550) // a symlink out of the root
			c.cmd("CWD hello.txt", 550)
			if got := c.cmd("SIZE hello.txt", 213); got != "213 21" {
				t.Errorf("SIZE = %q", got)
			}
			c.cmd("SIZE pub", 550)
			c.cmd("SIZE nope", 550)
			c.cmd("SIZE escape.txt", 550)
			c.cmd("SIZE alias.txt", 213)
			info, _ := os.Stat(filepath.Join(root, "hello.txt"))
			if got, want := c.cmd("MDTM hello.txt", 213), "213 "+info.ModTime().UTC().Format("20060102150405"); got != want {
				t.Errorf("MDTM = %q, want %q", got, want)
			}
			c.cmd("TYPE A", 200)
			c.cmd("TYPE I", 200)
			c.cmd("TYPE E", 504)
			c.cmd("MODE S", 200)
			c.cmd("MODE B", 504)
			c.cmd("STRU F", 200)
			c.cmd("OPTS UTF8 ON", 200)
			c.cmd("XYZZY", 500)
			c.cmd("PORT 127,0,0,1,4,1", 502)
			c.cmd("EPRT |1|127.0.0.1|1025|", 502)
			c.cmd("RETR hello.txt", 425) // no PASV/EPSV yet
			c.cmd("EPSV 2", 522)
			c.cmd("HELP", 214)
			c.cmd("ABOR", 225)
			c.quit()
		})
	})
}

// TestFTPSessionTransfers: LIST, NLST and RETR over PASV and EPSV (the
// data connection before or after the command), REST, refusals for
// anonymous writes and missing files, and 425 when no data connection
// comes within data_timeout.
func TestFTPSessionTransfers(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, _, _ string) {
		t.Run("transfers", func(t *testing.T) {
			c := ftpDial(t, srv.Addr)
			c.login("anonymous", "x")
			d := c.pasv()
			c.cmd("LIST", 150)
			listing := ftpReadAll(t, d)
			c.expect(226)
			names := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSuffix(listing, "\r\n"), "\r\n") {
				m := ftpLsLine.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("listing line %q is not in ls -l form", line)
				}
				names[m[7]] = true
				if m[7] == "hello.txt" && (m[1] != "-" || m[3] != "21") {
					t.Errorf("hello.txt line %q", line)
				}
				if m[7] == "pub" && m[1] != "d" {
					t.Errorf("pub line %q", line)
				}
			}
			if !names["hello.txt"] || !names["pub"] || !names["alias.txt"] || names["escape.txt"] || names["escape"] {
				t.Errorf("listing has %v: want hello.txt, pub, alias.txt and no escaping symlink", names)
			}

			d = c.epsv()
			c.cmd("NLST pub", 150)
			if got := ftpReadAll(t, d); got != "notes.txt\r\nreadme.txt\r\n" {
				t.Errorf("NLST pub = %q", got)
			}
			c.expect(226)

			// The data connection may come before or after the command.
			port := c.epsvPort()
			c.cmd("RETR hello.txt", 150)
			d = c.dialData(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if got := ftpReadAll(t, d); got != "hello from pocketlua\n" {
				t.Errorf("RETR = %q", got)
			}
			c.expect(226)

			c.cmd("REST 6", 350)
			d = c.pasv()
			c.cmd("RETR hello.txt", 150)
			if got := ftpReadAll(t, d); got != "from pocketlua\n" {
				t.Errorf("RETR after REST 6 = %q", got)
			}
			c.expect(226)

			c.cmd("RETR nope", 550)
			c.pasv()
			c.cmd("RETR escape.txt", 550)
			c.cmd("STOR up.txt", 550) // anonymous is read-only
			c.cmd("DELE hello.txt", 550)
			c.cmd("MKD newdir", 550)

			// No data connection within data_timeout (1 s): 425.
			c.cmd("PASV", 227)
			start := time.Now()
			c.cmd("RETR hello.txt", 150)
			c.expect(425)
			if d := time.Since(start); d < 800*time.Millisecond || d > 15*time.Second {
				t.Errorf("425 after %s, want about 1 s", d)
			}
			c.quit()
		})
	})
}

// TestFTPSessionWrites: a user without write is refused; alice makes,
// stores, appends, renames and removes, and every write that would leave
// the root (a symlink, a folder outside) is refused.
func TestFTPSessionWrites(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		t.Run("writes", func(t *testing.T) {
			c := ftpDial(t, srv.Addr)
			c.login("bob", "hunter2")
			c.cmd("MKD x", 550) // bob may read only
			c.quit()

			c = ftpDial(t, srv.Addr)
			c.login("alice", "s3cret")
			if got := c.cmd("MKD new", 257); got != `257 "/new" created` {
				t.Errorf("MKD = %q", got)
			}
			c.cmd("MKD new", 550)
			c.cmd("CWD new", 250)
			d := c.epsv()
			c.cmd("STOR up.txt", 150)
			d.Write([]byte("first part, "))
			d.Close()
			c.expect(226)
			d = c.pasv()
			c.cmd("APPE up.txt", 150)
			d.Write([]byte("second part"))
			d.Close()
			c.expect(226)
			if b, _ := os.ReadFile(filepath.Join(root, "new", "up.txt")); string(b) != "first part, second part" {
				t.Errorf("stored %q", b)
			}
			c.cmd("RNFR up.txt", 350)
			c.cmd("RNTO ../moved.txt", 250)
			if _, err := os.Stat(filepath.Join(root, "moved.txt")); err != nil {
				t.Errorf("RNTO: %v", err)
			}
			c.cmd("RNTO x", 503)
			c.cmd("CDUP", 250)
			c.cmd("RMD new", 250)
			c.cmd("RMD new", 550)
			c.cmd("RMD pub", 550) // not empty
			c.cmd("DELE moved.txt", 250)
			c.cmd("DELE moved.txt", 550)
			c.cmd("DELE pub", 550)
			c.cmd("STOR pub", 553)            // a folder
			c.cmd("STOR escape.txt", 553)     // a symlink out of the root
			c.cmd("STOR escape/new.txt", 553) // a folder out of the root
			c.cmd("STOR "+`a\b`, 553)
			if b, _ := os.ReadFile(filepath.Join(filepath.Dir(root), "secret.txt")); !strings.HasPrefix(string(b), "outside") {
				t.Errorf("the secret outside the root changed: %q", b)
			}
			c.quit()
		})
	})
}

// TestFTPSessionAborts: ABOR during a transfer, a data connection the
// client resets half-way, commands queued behind a transfer, and a data
// connection from another address (port theft) refused and logged.
func TestFTPSessionAborts(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		t.Run("aborts", func(t *testing.T) {
			// larger than what the kernel buffers on loopback, so the server
			// must wait for the client
			httpBigFile(t, filepath.Join(root, "two.bin"), 24<<20)
			c := ftpDial(t, srv.Addr)
			c.login("anonymous", "x")
			// ABOR while the server waits for the client to read.
			d := c.pasv()
			c.cmd("RETR two.bin", 150)
			c.send("ABOR")
			c.expect(426)
			c.expect(226)
			d.SetReadDeadline(time.Now().Add(10 * time.Second))
			d.Read(make([]byte, 10))
			d.Close()
			// The client drops the data connection half-way: 426.
			d = c.epsv()
			c.cmd("RETR two.bin", 150)
			d.SetReadDeadline(time.Now().Add(10 * time.Second))
			d.Read(make([]byte, 1000))
			d.(*net.TCPConn).SetLinger(0) // a reset, with unread data
			d.Close()
			c.expect(426)
			// Commands sent during a transfer wait for its end, in order.
			d = c.pasv()
			c.send("RETR hello.txt")
			c.send("PWD")
			c.expect(150)
			if got := ftpReadAll(t, d); got != "hello from pocketlua\n" {
				t.Errorf("RETR = %q", got)
			}
			c.expect(226)
			c.expect(257)
			// A data connection from another address is refused (port theft).
			text := c.cmd("PASV", 227)
			m := ftpPASVReply.FindStringSubmatch(text)
			p1, _ := strconv.Atoi(m[5])
			p2, _ := strconv.Atoi(m[6])
			dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			thief, err := dialer.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p1*256+p2))
			if err != nil {
				t.Fatalf("dial from 127.0.0.2: %v", err)
			}
			thief.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := thief.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("the thief's connection was not closed: %d %v", n, err)
			}
			thief.Close()
			d = c.dialData("127.0.0.1:" + strconv.Itoa(p1*256+p2))
			c.cmd("RETR hello.txt", 150)
			if got := ftpReadAll(t, d); got != "hello from pocketlua\n" {
				t.Errorf("RETR after the refused thief = %q", got)
			}
			c.expect(226)
			c.quit()
			if !strings.Contains(srv.Logs(), "ftp data connection from another host refused") {
				t.Errorf("the refused data connection was not logged")
			}
		})
	})
}
