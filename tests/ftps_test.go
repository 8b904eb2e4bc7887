package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFTPS: ftp.lua with explicit TLS (AUTH TLS, PBSZ 0, PROT P) through
// conn:start_tls, driven by curl --ssl-reqd: a download, a listing and an
// upload, every data connection over TLS too; require_tls refuses a login
// before AUTH TLS. With require_session_reuse every data connection must
// resume a TLS session (curl reuses the control connection's); curl
// --no-sessionid does not, and gets no data.
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
