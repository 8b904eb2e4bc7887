package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestDocExamples: every complete script in README.md and docs/LUA_API.md
// loads (pocketlua --check), and those whose behaviour the docs describe
// behave so against the real server.
func TestDocExamples(t *testing.T) {
	dirs := map[string]string{}
	for _, doc := range []string{"../README.md", "../docs/LUA_API.md"} {
		examples := docExamples(t, doc)
		if len(examples) < 3 {
			t.Fatalf("%s: only %d scripts found; the marker is a first line '-- name.lua'", doc, len(examples))
		}
		dir := docFolder(t, examples)
		dirs[filepath.Base(doc)] = dir
		for _, ex := range examples {
			t.Run("check/"+filepath.Base(doc)+"/"+ex.name, func(t *testing.T) {
				r := rawRunCLI(t, dir, "--check", ex.name)
				if r.code != 0 || !strings.Contains(r.stdout, ex.name+": ok") {
					t.Fatalf("%s:%d: %s does not load: exit %d\n%s", ex.doc, ex.line, ex.name, r.code, r.stderr)
				}
			})
		}
	}
	readme, api := dirs["README.md"], dirs["LUA_API.md"]

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
}
