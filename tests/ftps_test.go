package tests

import (
	"bufio"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFTPS: ftp.lua with explicit TLS (AUTH TLS, PBSZ 0, PROT P) through
// conn:start_tls, driven by curl --ssl-reqd: a download, a listing and an
// upload, every data connection over TLS too; require_tls refuses a login
// before AUTH TLS. With require_session_reuse every data connection must
// resume a TLS session (curl reuses the control connection's, and so
// does Go's client with a session cache); curl --no-sessionid and Go's
// client without one do not, and get no data (Go's sees the 522, then
// the session goes on).
func TestFTPS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	root, _ := ftpSite(t)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--metrics", "127.0.0.1:0",
		scriptFrom(t, "", "tls/ftps.lua", map[string]any{"Root": root, "Reuse": true}))
	maddr := metricsAddr(t, srv.Logs)
	p := port(srv.Addr)
	base := "ftp://alice:s3cret@localhost:" + p
	curlTLS := []string{"--ssl-reqd", "--cacert", pki.caFile, "--resolve", "localhost:" + p + ":127.0.0.1"}

	if r := curlOK(t, append(curlTLS, base+"/hello.txt")...); r.stdout != "hello from pocketlua\n" {
		t.Fatalf("FTPS download: %q", r.stdout)
	}
	if r := curlOK(t, append(curlTLS, "--list-only", base+"/pub/")...); !strings.Contains(r.stdout, "readme.txt") {
		t.Fatalf("FTPS listing: %q", r.stdout)
	}
	upload := filepath.Join(t.TempDir(), "up.txt")
	os.WriteFile(upload, []byte(strings.Repeat("uploaded over tls\n", 5000)), 0o644)
	curlOK(t, append(curlTLS, "-T", upload, base+"/up.txt")...)
	if got, _ := os.ReadFile(filepath.Join(root, "up.txt")); len(got) != 5000*18 {
		t.Fatalf("FTPS upload: %d bytes on disk", len(got))
	}

	// A data connection that does not resume the session is closed before
	// any data (curl sees it end before it reads the 522), and counted.
	failedBefore := scrape(t, maddr).value(t, "pocketlua_tls_handshakes_total", "worker=1", "result=failed")
	r := runCurl(t, append(curlTLS, "-v", "--no-sessionid", base+"/hello.txt")...)
	if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "> RETR hello.txt") {
		t.Fatalf("FTPS without session reuse: curl exit %d, %q\n%s", r.code, r.stdout, r.stderr)
	}
	if got := scrape(t, maddr).value(t, "pocketlua_tls_handshakes_total", "worker=1", "result=failed"); got != failedBefore+1 {
		t.Fatalf("handshakes failed %v, want %v", got, failedBefore+1)
	}

	// The same with Go's client: a data connection that resumes the
	// control connection's session is served; one that starts afresh
	// gets 522 and no data, and the session goes on.
	cfg := pki.clientConfig("localhost")
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	fc := ftpDial(t, srv.Addr)
	fc.cmd("AUTH TLS", 234)
	ctl := tls.Client(fc.Conn, cfg)
	fc.Conn, fc.r = ctl, bufio.NewReader(ctl)
	fc.login("alice", "s3cret")
	fc.cmd("PBSZ 0", 200)
	fc.cmd("PROT P", 200)
	for _, resume := range []bool{true, false, true} {
		d := fc.epsv()
		fc.send("RETR hello.txt")
		fc.expect(150)
		dcfg := cfg
		if !resume {
			dcfg = pki.clientConfig("localhost") // no session to resume
		}
		data := tls.Client(d, dcfg)
		data.SetDeadline(time.Now().Add(10 * time.Second))
		body, err := io.ReadAll(data)
		if !resume {
			if len(body) != 0 {
				t.Fatalf("a data connection that did not resume got %q", body)
			}
			fc.expect(522)
			continue
		}
		if err != nil || string(body) != "hello from pocketlua\n" || !data.ConnectionState().DidResume {
			t.Fatalf("a resumed data connection: %q, %v, resumed %v", body, err, data.ConnectionState().DidResume)
		}
		fc.expect(226)
	}
	fc.quit()

	// require_tls: no login in plaintext.
	c := ftpDial(t, srv.Addr)
	c.cmd("USER alice", 530)
	c.cmd("FEAT", 211)
	c.quit()
	if r := runCurl(t, base+"/hello.txt"); r.code == 0 {
		t.Fatalf("plaintext FTP login under require_tls: %q", r.stdout)
	}
	srv.stop()

	// Without require_session_reuse a data connection may start afresh.
	lax := startServer(t, "", "--tls-cert", cert, "--tls-key", key,
		scriptFrom(t, "", "tls/ftps.lua", map[string]any{"Root": root, "Reuse": false}))
	p = port(lax.Addr)
	curlTLS = []string{"--ssl-reqd", "--cacert", pki.caFile, "--resolve", "localhost:" + p + ":127.0.0.1"}
	if r := curlOK(t, append(curlTLS, "--no-sessionid", "ftp://alice:s3cret@localhost:"+p+"/hello.txt")...); r.stdout != "hello from pocketlua\n" {
		t.Fatalf("FTPS download without session reuse, not required: %q", r.stdout)
	}
	lax.stop()
}
