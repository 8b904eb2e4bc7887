package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyfloodServer starts testdata/ssh/keyflood.lua for site's keys, with
// flags before the script.
func keyfloodServer(t *testing.T, site *sshSite, flags ...string) *server {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
	script := scriptFrom(t, "", "ssh/keyflood.lua", map[string]string{"AuthorizedKeys": filepath.Join(site.dir, "authorized_keys")})
	return batteryServer(t, "epoll", append(flags, script)...)
}

// TestSSHKeySeenFromLua: key.type, key.fingerprint and tostring(key) in
// auth_publickey are what ssh-keygen -lf says of the same key, for an
// ed25519 and an ECDSA key that log in and a key that is refused.
func TestSSHKeySeenFromLua(t *testing.T) {
	site := newSSHSite(t)
	ecdsa := filepath.Join(site.dir, "id_ecdsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsa).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(ecdsa + ".pub")
	f, _ := os.OpenFile(filepath.Join(site.dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(pub)
	f.Close()
	srv := keyfloodServer(t, site)
	keyTypes := map[string]string{"(ED25519)": "ssh-ed25519", "(ECDSA)": "ecdsa-sha2-nistp256"}
	for _, tc := range []struct {
		key    string
		status int
	}{{site.key, 0}, {ecdsa, 0}, {site.unknownKey, 255}} {
		out, err := exec.Command("ssh-keygen", "-lf", tc.key+".pub").Output()
		fields := strings.Fields(string(out))
		if err != nil || len(fields) < 4 || keyTypes[fields[len(fields)-1]] == "" {
			t.Fatalf("ssh-keygen -lf %s: %q %v", tc.key, out, err)
		}
		fp, typ := fields[1], keyTypes[fields[len(fields)-1]]
		if r := site.sshKey(t, srv.Addr, tc.key, "alice", nil, "hello"); r.code != tc.status {
			t.Fatalf("%s: exit %d, want %d: %q %q", filepath.Base(tc.key), r.code, tc.status, r.stdout, r.stderr)
		}
		want := fmt.Sprintf(` type=%s fingerprint=%s string="%s %s"`, typ, fp, typ, fp)
		if len(rawLogLines(srv, `msg="ssh key"`, want)) == 0 {
			t.Fatalf("%s: no %q in the log:\n%s", filepath.Base(tc.key), want, srv.Logs())
		}
	}
}

// TestSSHSendBackpressure: a session whose client does not read gets false
// from send once its queue passes --high-water (the client's window full),
// drain once the client reads, and the client gets every byte in order.
func TestSSHSendBackpressure(t *testing.T) {
	site := newSSHSite(t)
	srv := keyfloodServer(t, site, "--high-water", "256KiB", "--low-water", "64KiB")
	sess := mustSession(t, site.goClient(t, srv.Addr))
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("flood"); err != nil {
		t.Fatal(err)
	}
	full := rawWaitLogs(t, srv, 30*time.Second, 1, `msg="ssh send full"`)[0]
	chunks, _ := strconv.Atoi(regexp.MustCompile(`chunks=(\d+)`).FindStringSubmatch(full)[1])
	time.Sleep(200 * time.Millisecond) // room for a wrong drain to show
	if n := len(rawLogLines(srv, `msg="ssh drained"`)); n != 0 {
		t.Fatalf("drain before the client read anything:\n%s", srv.Logs())
	}

	const chunk = 16384
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(out); got <- b }()
	var b []byte
	select {
	case b = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the flood never ended")
	}
	trailer := fmt.Sprintf("drained after %d\n", chunks)
	if len(b) != chunks*chunk+len(trailer) || string(b[chunks*chunk:]) != trailer {
		t.Fatalf("read %d bytes ending %q, want %d chunks then %q", len(b), b[max(0, len(b)-40):], chunks, trailer)
	}
	for i := 0; i < chunks; i++ {
		if want := byte('a' + (i+1)%26); b[i*chunk] != want || b[i*chunk+chunk-1] != want {
			t.Fatalf("chunk %d is %q..%q, want %q", i+1, b[i*chunk], b[i*chunk+chunk-1], want)
		}
	}
	if err := sess.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, `msg="ssh drained"`, "chunks="+strconv.Itoa(chunks))
}

// TestSSHUnderMaxConns: --max-conns counts SSH connections like any other:
// one beyond it is closed at once (over_limit, not ssh_dropped), and a
// slot freed serves the next.
func TestSSHUnderMaxConns(t *testing.T) {
	site := newSSHSite(t)
	srv := keyfloodServer(t, site, "--max-conns", "2")
	a := site.goClient(t, srv.Addr)
	b := site.goClient(t, srv.Addr)
	if c, err := ssh.Dial("tcp", srv.Addr, site.clientConfig(t)); err == nil {
		c.Close()
		t.Fatal("a third SSH connection was served with --max-conns 2")
	}
	stats := func(c *ssh.Client) map[string]any {
		out, err := mustSession(t, c).Output("stats")
		var st map[string]any
		if err != nil || json.Unmarshal(out, &st) != nil {
			t.Fatalf("stats: %q %v", out, err)
		}
		return st
	}
	if st := stats(b); st["over_limit"] != 1.0 || st["ssh_dropped"] != 0.0 || st["connections"] != 2.0 {
		t.Errorf("stats: over_limit %v ssh_dropped %v connections %v", st["over_limit"], st["ssh_dropped"], st["connections"])
	}
	a.Close()
	waitFor(t, 10*time.Second, "the slot to free", func() bool { return stats(b)["connections"] == 1.0 })
	if out, err := mustSession(t, site.goClient(t, srv.Addr)).Output("again"); err != nil || string(out) != "ok\n" {
		t.Errorf("after a slot freed: %q %v", out, err)
	}
}
