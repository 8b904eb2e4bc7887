package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ftpSite makes a root for ftp.lua: a few files, a folder, symlinks out of
// the root (to a secret beside it) and one inside. It returns the root and
// the secret's text.
func ftpSite(t *testing.T) (root, secret string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "ftproot")
	for name, text := range map[string]string{
		"hello.txt":      "hello from pocketlua\n",
		"pub/readme.txt": "read me\n",
		"pub/notes.txt":  "some notes\n",
	} {
		rawWriteFile(t, root, name, text)
	}
	secret = "outside the ftp root: never served\n"
	outside := filepath.Join(base, "secret.txt")
	os.WriteFile(outside, []byte(secret), 0o644)
	for link, target := range map[string]string{
		"escape.txt": outside,
		"escape":     base,
		"alias.txt":  "hello.txt",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, secret
}

// ftpOnSite runs fn against ftp.lua serving a fresh ftpSite (root and the
// secret outside it) on each poller, then stops the server and wants a
// clean exit.
func ftpOnSite(t *testing.T, fn func(t *testing.T, srv *server, root, secret string)) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, secret := ftpSite(t)
		srv := batteryServer(t, poller, ftpScript(t, root))
		fn(t, srv, root, secret)
		srv.stop()
	})
}

// ftpScript serves root with two configured users: alice may write, bob
// may only read (tests/testdata/ftp/site.lua).
func ftpScript(t *testing.T, root string) string {
	t.Helper()
	return scriptFrom(t, "", "ftp/site.lua", root)
}

// ftpClient speaks FTP on a control connection; its methods fail the test.
type ftpClient struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

// ftpDial connects and checks the 220 greeting.
func ftpDial(t *testing.T, addr string) *ftpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fc := &ftpClient{t: t, Conn: c, r: bufio.NewReader(c)}
	fc.expect(220)
	return fc
}

// reply reads one (possibly multi-line) reply: its code and its text
// (lines joined with "\n").
func (c *ftpClient) reply() (int, string) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading a reply: %q, %v (so far %q)", line, err, lines)
		}
		if !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("reply line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if len(lines) == 1 && (len(line) < 4 || line[3] != '-' && line[3] != ' ') {
			c.t.Fatalf("malformed reply line %q", line)
		}
		if len(line) >= 4 && line[:3] == lines[0][:3] && line[3] == ' ' {
			code, _ := strconv.Atoi(line[:3])
			return code, strings.Join(lines, "\n")
		}
	}
}

// ftpCodeIs: want 150 also accepts 125 (the data connection was already
// open when the command came: which one depends on the order the server
// saw the connection and the command).
func ftpCodeIs(code, want int) bool {
	return code == want || want == 150 && code == 125
}

// expect reads a reply and fails unless its code is want; it returns the text.
func (c *ftpClient) expect(want int) string {
	c.t.Helper()
	code, text := c.reply()
	if !ftpCodeIs(code, want) {
		c.t.Fatalf("got reply %q, want code %d", text, want)
	}
	return text
}

// cmd sends a command line and expects a reply code.
func (c *ftpClient) cmd(line string, want int) string {
	c.t.Helper()
	c.send(line)
	code, text := c.reply()
	if !ftpCodeIs(code, want) {
		c.t.Fatalf("%s: got reply %q, want code %d", line, text, want)
	}
	return text
}

func (c *ftpClient) send(line string) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.Conn, line+"\r\n"); err != nil {
		c.t.Fatalf("sending %q: %v", line, err)
	}
}

// quit ends the session: QUIT, 221, and our end closed (the server
// would otherwise wait for our FIN when it stops).
func (c *ftpClient) quit() {
	c.t.Helper()
	c.cmd("QUIT", 221)
	c.Close()
}

func (c *ftpClient) login(user, pass string) {
	c.t.Helper()
	c.cmd("USER "+user, 331)
	c.cmd("PASS "+pass, 230)
}

var ftpPASVReply = regexp.MustCompile(`\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)`)

// pasv asks for a passive data address with PASV and connects to it.
func (c *ftpClient) pasv() net.Conn {
	c.t.Helper()
	text := c.cmd("PASV", 227)
	m := ftpPASVReply.FindStringSubmatch(text)
	if m == nil {
		c.t.Fatalf("PASV reply %q has no address", text)
	}
	p1, _ := strconv.Atoi(m[5])
	p2, _ := strconv.Atoi(m[6])
	return c.dialData(fmt.Sprintf("%s.%s.%s.%s:%d", m[1], m[2], m[3], m[4], p1*256+p2))
}

var ftpEPSVReply = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// epsvPort asks for a passive port with EPSV.
func (c *ftpClient) epsvPort() int {
	c.t.Helper()
	text := c.cmd("EPSV", 229)
	m := ftpEPSVReply.FindStringSubmatch(text)
	if m == nil {
		c.t.Fatalf("EPSV reply %q has no port", text)
	}
	port, _ := strconv.Atoi(m[1])
	return port
}

// epsv asks for a passive port with EPSV and connects to it.
func (c *ftpClient) epsv() net.Conn {
	c.t.Helper()
	port := c.epsvPort()
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	return c.dialData(net.JoinHostPort(host, strconv.Itoa(port)))
}

func (c *ftpClient) dialData(addr string) net.Conn {
	c.t.Helper()
	d, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		c.t.Fatalf("data connection to %s: %v", addr, err)
	}
	c.t.Cleanup(func() { d.Close() })
	return d
}

// readAll reads a data connection to its end (at most 30 s).
func ftpReadAll(t *testing.T, d net.Conn) string {
	t.Helper()
	d.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("reading the data connection: %v", err)
	}
	d.Close()
	return string(b)
}

// ftpLsLine is what `ls -l` prints for one entry, as clients parse it.
var ftpLsLine = regexp.MustCompile(`^([d-])([r-][w-][x-]){3} +\d+ +\S+ +\S+ +(\d+) +([A-Z][a-z]{2}) +(\d{1,2}) +(\d\d:\d\d|\d{4}) (.+)$`)
