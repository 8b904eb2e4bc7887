package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// docExample is one complete script from the docs: a ```lua block whose
// first line is a "-- name.lua" comment.
type docExample struct {
	doc, name, src string
	line           int // of the opening fence, for messages
}

var (
	docLuaBlock  = regexp.MustCompile("(?s)```lua\n(.*?)```")
	docScriptTag = regexp.MustCompile(`^-- ([\w.-]+\.lua)\b`)
)

// docExamples extracts the complete scripts of doc (a path from tests/).
func docExamples(t *testing.T, doc string) []docExample {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var out []docExample
	seen := map[string]int{}
	for _, m := range docLuaBlock.FindAllStringSubmatchIndex(text, -1) {
		src := text[m[2]:m[3]]
		tag := docScriptTag.FindStringSubmatch(src)
		if tag == nil {
			continue // a fragment, not a script
		}
		line := strings.Count(text[:m[0]], "\n") + 1
		if prev, dup := seen[tag[1]]; dup {
			t.Errorf("%s:%d: a second script named %s (the first is at line %d): requires would be ambiguous", doc, line, tag[1], prev)
		}
		seen[tag[1]] = line
		out = append(out, docExample{doc: doc, name: tag[1], src: src, line: line})
	}
	return out
}

// docFolder writes a doc's scripts side by side (so their requires find
// each other), with the www/, files/ and pub/ folders the examples serve.
func docFolder(t *testing.T, examples []docExample) string {
	t.Helper()
	dir := t.TempDir()
	for _, ex := range examples {
		rawWriteFile(t, dir, ex.name, ex.src)
	}
	rawWriteFile(t, dir, "www/index.html", "<h1>docs</h1>\n")
	rawWriteFile(t, dir, "files/readme.txt", "read me\n")
	rawWriteFile(t, dir, "pub/readme.txt", "read me\n")
	return dir
}

// docTestSummary is pocketlua test's last line.
var docTestSummary = regexp.MustCompile(`(?m)^\d+ passed, \d+ failed$`)

// TestDocExamples: every complete script in README.md and docs/LUA_API.md
// loads (pocketlua --check), and those whose behaviour the docs describe
// behave so against the real server.
func TestDocExamples(t *testing.T) {
	dirs := map[string]string{}
	for _, doc := range []string{"../README.md", "../docs/LUA_API.md"} {
		dirs[filepath.Base(doc)] = checkDocExamples(t, doc)
	}
	readme, api := dirs["README.md"], dirs["LUA_API.md"]
	runReadmeExamples(t, readme)
	runAPIScriptExamples(t, api)
	runAPINetworkExamples(t, api)
	runAPIStatedExamples(t, api)
}

// checkDocExamples loads every script of doc (pocketlua --check, or the
// test runner for a _test.lua) and returns the folder they were written to.
func checkDocExamples(t *testing.T, doc string) string {
	t.Helper()
	examples := docExamples(t, doc)
	if len(examples) < 3 {
		t.Fatalf("%s: only %d scripts found; the marker is a first line '-- name.lua'", doc, len(examples))
	}
	dir := docFolder(t, examples)
	for _, ex := range examples {
		t.Run("check/"+filepath.Base(doc)+"/"+ex.name, func(t *testing.T) {
			if strings.HasSuffix(ex.name, "_test.lua") {
				// A script's unit tests load in the test runner, which
				// has pocketlua.test (some fail on purpose: the doc
				// shows a failure; TestScriptTestDocExample checks them).
				r := rawRunCLI(t, dir, "test", ex.name)
				if !docTestSummary.MatchString(r.stdout) || strings.Contains(r.stdout, "(loading)") {
					t.Fatalf("%s:%d: %s does not load in pocketlua test: exit %d\n%s%s", ex.doc, ex.line, ex.name, r.code, r.stdout, r.stderr)
				}
				return
			}
			r := rawRunCLI(t, dir, "--check", ex.name)
			if r.code != 0 || !strings.Contains(r.stdout, ex.name+": ok") {
				t.Fatalf("%s:%d: %s does not load: exit %d\n%s", ex.doc, ex.line, ex.name, r.code, r.stderr)
			}
		})
	}
	return dir
}

// runReadmeExamples runs README.md's scripts whose behaviour it states.
func runReadmeExamples(t *testing.T, readme string) {
	t.Run("run/README.md/shout.lua", func(t *testing.T) {
		srv := launch{poller: "epoll", dir: readme}.start(t, "shout.lua")
		c := dialRaw(t, srv.Addr)
		c.expect("hello " + c.LocalAddr().String())
		c.send("abc\n")
		c.expect("ABC")
		c.send("bye\n")
		c.expect("BYE")
		c.expectEOF(10 * time.Second)
		rawWaitLogs(t, srv, 10*time.Second, 1, "msg=gone", "peer="+c.LocalAddr().String(), "reason=closed")
	})

	t.Run("run/README.md/live.lua", func(t *testing.T) {
		srv := launch{poller: "epoll", dir: readme}.start(t, "live.lua")
		c := dialRaw(t, srv.Addr)
		c.roundTrip("x", "v1: x")
		srv.cmd.Process.Signal(syscall.SIGHUP)
		rawWaitLogs(t, srv, 10*time.Second, 1, "msg=reloaded version=2 ", "migrated=1", "on_versions=v2:1")
		c.roundTrip("y", "v2: y") // the open connection runs the new version
	})
}

// runAPIScriptExamples runs LUA_API.md's raw TCP, timer, reload and JSON
// scripts whose behaviour it states.
func runAPIScriptExamples(t *testing.T, api string) {
	t.Run("run/LUA_API.md/upper.lua", func(t *testing.T) {
		srv := launch{poller: "epoll", dir: api}.start(t, "upper.lua")
		c := dialRaw(t, srv.Addr)
		c.expect("hello " + c.LocalAddr().String())
		c.roundTrip("shout", "SHOUT")
		c.Close()
		rawWaitLogs(t, srv, 10*time.Second, 1, "msg=bye", "reason=\"peer closed\"")
	})

	t.Run("run/LUA_API.md/fat.lua", func(t *testing.T) {
		// "A client reads hi <peer>, LOUD MODE, and abc comes back as ABC!"
		srv := launch{poller: "epoll", dir: api}.start(t, "fat.lua")
		c := dialRaw(t, srv.Addr)
		c.expect("hi " + c.LocalAddr().String())
		c.expect("LOUD MODE")
		c.send("abc")
		buf := make([]byte, 16)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "ABC!" {
			t.Fatalf("abc came back as %q (%v), want ABC!", buf[:n], err)
		}
	})

	t.Run("run/LUA_API.md/ticker.lua", func(t *testing.T) {
		// "Logs two stats lines, then stopping the ticker ... was_pending=true pending=false."
		srv := launch{poller: "epoll", dir: api}.start(t, "ticker.lua")
		line := rawWaitLogs(t, srv, 10*time.Second, 1, `msg="stopping the ticker"`)[0]
		if !strings.Contains(line, "was_pending=true pending=false") {
			t.Fatalf("%q", line)
		}
		if n := len(rawLogLines(srv, "msg=stats", "tick=")); n != 2 {
			t.Fatalf("%d stats lines before the ticker stopped, want 2; logs:\n%s", n, srv.Logs())
		}
	})

	t.Run("run/LUA_API.md/counter.lua", func(t *testing.T) {
		// "Edit "hit " to "HIT ", send SIGHUP: an open connection now answers HIT 2 v2."
		dir := t.TempDir()
		src, err := os.ReadFile(filepath.Join(api, "counter.lua"))
		if err != nil {
			t.Fatal(err)
		}
		path := rawWriteFile(t, dir, "counter.lua", string(src))
		srv := startServer(t, "epoll", path)
		c := dialRaw(t, srv.Addr)
		c.roundTrip("x", "hit 1 v1")
		os.WriteFile(path, []byte(strings.Replace(string(src), `"hit "`, `"HIT "`, 1)), 0o644)
		srv.cmd.Process.Signal(syscall.SIGHUP)
		rawWaitLogs(t, srv, 10*time.Second, 1, "msg=upgraded")
		c.roundTrip("x", "HIT 2 v2")
	})

	t.Run("run/LUA_API.md/jsonline.lua", func(t *testing.T) {
		srv := launch{poller: "epoll", dir: api}.start(t, "jsonline.lua")
		c := dialRaw(t, srv.Addr)
		for _, tc := range [][2]string{
			{`{"add": [1, 2, 3.5], "tag": "caf\u00e9", "nested": {"a": []}}`, `{"echo":{"add":[1,2,3.5],"nested":{"a":[]},"tag":"café"},"list":[],"none":null,"ok":true,"sum":6.5}`},
			{`{"add": [1,`, `{"error":"json.decode: unexpected end of input at byte 12","ok":false}`},
			{`[1,2]`, `{"error":"want a JSON object","ok":false}`},
		} {
			c.roundTrip(tc[0], tc[1])
		}
		// The docs state these outputs: keep them in the text.
		b, _ := os.ReadFile("../docs/LUA_API.md")
		if !strings.Contains(string(b), `{"error":"want a JSON object","ok":false}`) {
			t.Fatal("docs/LUA_API.md no longer states jsonline.lua's answer to [1,2]")
		}
	})
}

// runAPINetworkExamples runs LUA_API.md's HTTP, WebSocket, FTP and
// connection-limit scripts whose behaviour it states.
func runAPINetworkExamples(t *testing.T, api string) {
	t.Run("run/LUA_API.md/site.lua", func(t *testing.T) {
		srv := launch{poller: "epoll", dir: api}.start(t, "site.lua")
		base := "http://" + srv.Addr
		if code, body := httpStatus(t, base+"/"); code != 200 || body != "<h1>docs</h1>\n" {
			t.Fatalf("GET /: %d %q", code, body)
		}
		if code, body := httpStatus(t, base+"/api/upper", "-d", "hi"); code != 200 || body != "HI" {
			t.Fatalf("POST /api/upper: %d %q", code, body)
		}
		if code, body := httpStatus(t, base+"/hello/ann"); code != 200 || body != "hello ann\n" {
			t.Fatalf("/hello/ann: %d %q", code, body)
		}
		resp := httpHead(t, base+"/api/time", "-X", "PUT")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("PUT /api/time: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		if code, _ := httpStatus(t, base+"/../site.lua", "--path-as-is"); code != 400 {
			t.Fatalf("/../site.lua: %d, want 400", code)
		}
		rawWaitLogs(t, srv, 10*time.Second, 1, "msg=http ", "path=/hello/ann status=200")
	})
	t.Run("run/LUA_API.md/limit.lua", func(t *testing.T) {
		// "A third connection from the same host is closed without a byte;
		// after one of the first two leaves, the next one is welcomed."
		srv := launch{poller: "epoll", dir: api}.start(t, "limit.lua")
		a, b := dialRaw(t, srv.Addr), dialRaw(t, srv.Addr)
		a.expect("welcome #1")
		b.expect("welcome #2")
		c := dialRaw(t, srv.Addr)
		c.expectEOF(10 * time.Second)
		a.Close()
		waitFor(t, 10*time.Second, "a slot after a leaves", func() bool {
			d := dialRaw(t, srv.Addr)
			defer d.Close()
			d.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 32)
			n, _ := d.Read(buf)
			return strings.HasPrefix(string(buf[:n]), "welcome #")
		})
	})

	t.Run("run/LUA_API.md/manual_ws.lua", func(t *testing.T) {
		// "... a 4097-byte message gets close 1009; a plain GET gets
		// 400 Upgrade header must name websocket."
		srv := launch{poller: "epoll", dir: api}.start(t, "manual_ws.lua")
		c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.WriteMessage(websocket.BinaryMessage, []byte("echo me"))
		if kind, m, err := c.ReadMessage(); err != nil || kind != websocket.BinaryMessage || string(m) != "echo me" {
			t.Fatalf("echo: %d %q %v", kind, m, err)
		}
		c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 4097)))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 1009) {
			t.Fatalf("4097-byte message: %v, want close 1009", err)
		}
		code, body := httpStatus(t, "http://"+srv.Addr+"/")
		if code != 400 || !strings.Contains(body, "Upgrade header must name websocket") {
			t.Fatalf("plain GET: %d %q", code, body)
		}
	})

	t.Run("run/LUA_API.md/room.lua", func(t *testing.T) {
		// "A client offering x, room.v1 from origin http://localhost:8080 gets
		// Sec-WebSocket-Protocol: room.v1 and welcome ann (room.v1); origin
		// http://evil gets 403 origin not allowed."
		srv := launch{poller: "epoll", dir: api}.start(t, "room.lua")
		d := websocket.Dialer{Subprotocols: []string{"x", "room.v1"}}
		h := http.Header{"Origin": {"http://localhost:8080"}}
		c, resp, err := d.Dial("ws://"+srv.Addr+"/?name=ann", h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp.Header.Get("Sec-WebSocket-Protocol") != "room.v1" {
			t.Fatalf("protocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, m, err := c.ReadMessage(); err != nil || string(m) != "welcome ann (room.v1)" {
			t.Fatalf("welcome: %q %v", m, err)
		}
		_, resp, err = d.Dial("ws://"+srv.Addr+"/", http.Header{"Origin": {"http://evil"}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("origin http://evil: %v %v, want 403", resp, err)
		}
		rawWaitLogs(t, srv, 10*time.Second, 1, `msg="http denied"`, "status=403")
	})

	t.Run("run/LUA_API.md/ftpd.lua", func(t *testing.T) {
		// "curl -Q "MKD new" -Q "SITE WHOAMI" ftp://alice:s3cret@..."
		srv := launch{poller: "epoll", dir: api}.start(t, "ftpd.lua")
		c := ftpDial(t, srv.Addr)
		c.login("alice", "s3cret")
		if got := c.cmd("SITE WHOAMI", 200); got != "200 alice in /" {
			t.Fatalf("SITE WHOAMI: %q", got)
		}
		c.cmd("SITE NOTHING", 504)
		c.quit()
	})
}

// runAPIStatedExamples runs the LUA_API.md scripts whose text below states
// what clients see: hello_http.lua, oops.lua and hello_ssh.lua.
func runAPIStatedExamples(t *testing.T, api string) {
	t.Run("run/LUA_API.md/hello_http.lua", func(t *testing.T) {
		// "curl -i http://127.0.0.1:PORT/some/path prints hello from
		// /some/path; curl -X POST gets 405 with Allow: GET; a 9000-byte
		// header gets 431."
		srv := launch{poller: "epoll", dir: api}.start(t, "hello_http.lua")
		base := "http://" + srv.Addr
		if code, body := httpStatus(t, base+"/some/path"); code != 200 || body != "hello from /some/path\n" {
			t.Fatalf("GET /some/path: %d %q", code, body)
		}
		resp := httpHead(t, base+"/", "-X", "POST")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
			t.Fatalf("POST: %d Allow %q, want 405 Allow GET", resp.StatusCode, resp.Header.Get("Allow"))
		}
		c := httpDialRaw(t, srv.Addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 9000) + "\r\n\r\n")
		if resp, _ := c.next("GET"); resp.StatusCode != 431 {
			t.Fatalf("a 9000-byte header: %d, want 431", resp.StatusCode)
		}
	})

	t.Run("run/LUA_API.md/oops.lua", func(t *testing.T) {
		// "spin is answered with close 1011 handler timeout ...; every
		// other connection ... is served again once the handler is
		// interrupted." The docs' 500ms becomes 2s: the guard measures wall
		// time, and a loaded machine can deschedule an ordinary handler.
		srv := launch{poller: "epoll", dir: api}.start(t, "oops.lua", "--handler-timeout", "2s")
		dial := func() *websocket.Conn {
			c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			return c
		}
		for _, tc := range [][2]string{{"boom", "error"}, {"spin", "handler timeout"}} {
			c := dial()
			c.WriteMessage(websocket.TextMessage, []byte(tc[0]))
			_, _, err := c.ReadMessage()
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 || ce.Text != tc[1] {
				t.Fatalf("%s: %v, want close 1011 %q", tc[0], err, tc[1])
			}
		}
		c := dial()
		c.WriteMessage(websocket.TextMessage, []byte("still here"))
		if _, m, err := c.ReadMessage(); err != nil || string(m) != "still here" {
			t.Fatalf("after the spin: %q %v", m, err)
		}
		rawWaitLogs(t, srv, 10*time.Second, 2, "msg=closed", "code=1011")
	})

	t.Run("run/LUA_API.md/hello_ssh.lua", func(t *testing.T) {
		// "ssh -p 2222 alice@127.0.0.1 uptime  # prints "you ran uptime",
		// exit status 0", with alice's password s3cret.
		site := newSSHSite(t)
		t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
		srv := launch{poller: "epoll", dir: api}.start(t, "hello_ssh.lua")
		once := []string{"-o", "NumberOfPasswordPrompts=1"}
		r := site.sshPassword(t, srv.Addr, "alice", "s3cret", once, "uptime")
		if r.code != 0 || r.stdout != "you ran uptime\n" {
			t.Fatalf("ssh alice@ uptime: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
		if r := site.sshPassword(t, srv.Addr, "alice", "wrong", once, "uptime"); r.code != 255 || r.stdout != "" {
			t.Fatalf("a wrong password: exit %d %q, want 255 and nothing run", r.code, r.stdout)
		}
	})
}
