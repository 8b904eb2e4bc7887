package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRelativeRootFromScriptFolder: httpd's and ftp's relative roots are
// taken from the script's folder, so running from another folder serves
// the same files; a root that is not a folder fails the load with the
// script's file:line.
func TestRelativeRootFromScriptFolder(t *testing.T) {
	app := t.TempDir()
	rawWriteFile(t, app, "www/index.html", "<h1>beside the script</h1>\n")
	rawWriteFile(t, app, "files/pub.txt", "ftp beside the script\n")
	site := scriptFrom(t, app, "newcomer/relative_site.lua", nil)
	elsewhere := t.TempDir()
	srv := batteryServer(t, "epoll", site)                         // run from the tests' folder
	srv2 := launch{poller: "epoll", dir: elsewhere}.start(t, site) // and from an unrelated one
	for _, s := range []*server{srv, srv2} {
		if code, body := httpStatus(t, "http://"+s.Addr+"/"); code != 200 || body != "<h1>beside the script</h1>\n" {
			t.Fatalf("GET / with a relative root: %d %q", code, body)
		}
	}

	ftpd := scriptFrom(t, app, "newcomer/relative_ftpd.lua", nil)
	f := launch{poller: "epoll", dir: elsewhere}.start(t, ftpd)
	c := ftpDial(t, f.Addr)
	c.login("anonymous", "x")
	d := c.pasv()
	c.cmd("RETR pub.txt", 150)
	if got := ftpReadAll(t, d); got != "ftp beside the script\n" {
		t.Fatalf("RETR with a relative root: %q", got)
	}
	c.expect(226)
	c.quit()

	for _, bad := range []struct{ name, abs string }{
		{"badhttp.lua", "nosuch"},
		{"badftp.lua", "gone"},
	} {
		src := renderTestdata(t, "newcomer/"+bad.name, nil)
		path := rawWriteFile(t, app, bad.name, src)
		r := rawRunCLI(t, elsewhere, "--check", path)
		line := strings.Count(src[:strings.Index(src, "extend")], "\n") + 1
		want := path + ":" + strconv.Itoa(line) + ":"
		if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "no such folder") ||
			!strings.Contains(r.stderr, filepath.Join(app, bad.abs)) {
			t.Fatalf("%s: exit %d, stderr %q; want 1, %s, 'no such folder' and %s", bad.name, r.code, r.stderr, want, filepath.Join(app, bad.abs))
		}
	}
}

// TestFTPUploadModeAndFailedLogins: an uploaded file gets 0644 less the
// umask (not io.open's 0600), and each failed login is logged with the
// peer and the user.
func TestFTPUploadModeAndFailedLogins(t *testing.T) {
	root, _ := ftpSite(t)
	srv := batteryServer(t, "epoll", ftpScript(t, root))
	c := ftpDial(t, srv.Addr)
	c.cmd("USER alice", 331)
	c.cmd("PASS wrong", 530)
	rawWaitLogs(t, srv, 5*time.Second, 1, "level=WARN", `msg="ftp login failed"`, "user=alice", "failures=1", "peer=127.0.0.1:")
	c.login("alice", "s3cret")
	d := c.epsv()
	c.cmd("STOR up.txt", 150)
	d.Write([]byte("uploaded"))
	d.Close()
	c.expect(226)
	c.quit()
	st, err := os.Stat(filepath.Join(root, "up.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := os.FileMode(0o644) &^ processUmask(t)
	if st.Mode().Perm() != want {
		t.Fatalf("uploaded file mode %v, want %v", st.Mode().Perm(), want)
	}
}

// processUmask reads this process's umask (the server inherits it).
func processUmask(t *testing.T) os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err == nil {
				return os.FileMode(n)
			}
		}
	}
	t.Skip("no Umask in /proc/self/status")
	return 0
}
