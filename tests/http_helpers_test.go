package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the httpd.lua and ftp.lua end-to-end tests
// (tests/http_*_test.go, tests/ftp_*_test.go).

// batteryServer starts pocketlua for the httpd.lua and ftp.lua tests: a
// generous handler timeout (a loaded CI machine with race-built binaries
// can take seconds to load a script; these tests are not about the guard),
// and the server's log printed if the test fails.
func batteryServer(t *testing.T, poller string, args ...string) *server {
	t.Helper()
	srv := startServer(t, poller, append([]string{"--handler-timeout", "20s"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.Logs())
		}
	})
	return srv
}

// httpSite copies testdata/www into a fresh folder and adds what cannot be
// committed as a small fixture: symlinks that lead out of the root (to a
// secret file beside it) and one that stays inside. It returns the root
// and the secret's text.
func httpSite(t *testing.T) (root, secret string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "www")
	if err := os.CopyFS(root, os.DirFS("testdata/www")); err != nil {
		t.Fatal(err)
	}
	secret = "outside the root: must never be served\n"
	outside := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(outside, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"escape.txt": outside,         // a file outside
		"escape":     base,            // a folder outside
		"alias.txt":  "hello.txt",     // inside: allowed
		"rel-escape": "../secret.txt", // relative, outside
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, secret
}

// httpBigFile writes size pseudo-random bytes to path, 1 MiB at a time,
// and returns their SHA-256.
func httpBigFile(t *testing.T, path string, size int) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	for i := 0; size > 0; i++ {
		n := min(size, 1<<20)
		if _, err := w.Write(rawPattern(n, i+1)); err != nil {
			t.Fatal(err)
		}
		size -= n
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// sumOf is the SHA-256 of b.
func sumOf(b []byte) [32]byte { return sha256.Sum256(b) }

// fileSum is the SHA-256 of a file.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// luaQuote makes s a Lua string literal.
func luaQuote(s string) string {
	return "[==[" + s + "]==]"
}

// httpScript renders tests/testdata/http/site.lua, a site on root with the
// routes the tests use, into a fresh folder; a variant ("" for none) is
// another script of tests/testdata/http, copied beside it, that requires
// "site" and changes it, and is then the script returned.
func httpScript(t *testing.T, root, variant string) string {
	t.Helper()
	dir := t.TempDir()
	site := scriptFrom(t, dir, "http/site.lua", root)
	if variant == "" {
		return site
	}
	return scriptFrom(t, dir, "http/"+variant, nil)
}

// curlResult is one finished curl run.
type curlResult struct {
	code           int
	stdout, stderr string
}

// runCurl runs curl with args (at most 60 s) and returns what it printed.
func runCurl(t *testing.T, args ...string) curlResult {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"--silent", "--show-error", "--max-time", "50"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("curl %q: %v", args, err)
	}
	return curlResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// curlOK is runCurl that fails the test unless curl exits 0.
func curlOK(t *testing.T, args ...string) curlResult {
	t.Helper()
	r := runCurl(t, args...)
	if r.code != 0 {
		t.Fatalf("curl %q: exit %d: %s", args, r.code, r.stderr)
	}
	return r
}

// httpStatus asks for url with extra curl args and returns the status code
// and the body.
func httpStatus(t *testing.T, url string, args ...string) (int, string) {
	t.Helper()
	r := curlOK(t, append(args, "--write-out", "\n%{http_code}", url)...)
	i := strings.LastIndexByte(r.stdout, '\n')
	var code int
	fmt.Sscanf(r.stdout[i+1:], "%d", &code)
	return code, r.stdout[:i]
}

// httpHead runs curl --include (or --head) and parses the response head
// of the last response curl printed.
func httpHead(t *testing.T, url string, args ...string) *http.Response {
	t.Helper()
	r := curlOK(t, append(args, "--include", url)...)
	return lastHead(t, r.stdout)
}

// lastHead parses the last response head in out: curl prints one per
// response (100 Continue, redirects).
func lastHead(t *testing.T, out string) *http.Response {
	t.Helper()
	for {
		i := strings.Index(out[1:], "\r\n\r\nHTTP/")
		if i < 0 {
			break
		}
		out = out[i+5:]
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("parsing curl's head %q: %v", out, err)
	}
	return resp
}

// httpRaw sends raw bytes on a new connection and reads responses with
// net/http's parser; the caller reads them in order with next().
type httpRawConn struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func httpDialRaw(t *testing.T, addr string) *httpRawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &httpRawConn{t: t, Conn: c, r: bufio.NewReader(c)}
}

func (c *httpRawConn) send(s string) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one response to a request with method, with its whole body.
func (c *httpRawConn) next(method string) (*http.Response, string) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// expectEOF fails unless the server closes the connection within d with
// nothing more to read; then it closes our end too.
func (c *httpRawConn) expectEOF(d time.Duration) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.r)
	if len(b) > 0 || err != nil {
		c.t.Fatalf("want EOF within %s, got %q, %v", d, rawClip(b), err)
	}
	c.Close()
}

// procStatus reads a field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
func (s *server) procStatus(field string) int {
	s.tb.Helper()
	return procStatusKiB(s.tb, s.cmd.Process.Pid, field+":")
}
