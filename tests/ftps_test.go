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
// before AUTH TLS.
func TestFTPS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	root, _ := ftpSite(t)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, scriptFrom(t, "", "tls/ftps.lua", root))
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

	// require_tls: no login in plaintext.
	c := ftpDial(t, srv.Addr)
	c.cmd("USER alice", 530)
	c.cmd("FEAT", 211)
	c.quit()
	if r := runCurl(t, base+"/hello.txt"); r.code == 0 {
		t.Fatalf("plaintext FTP login under require_tls: %q", r.stdout)
	}
	srv.stop()
}
