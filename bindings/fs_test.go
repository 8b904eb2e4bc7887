package bindings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// luaWith runs src in a fresh state with the fs and http modules, after
// setting the global ROOT, and fails the test on a Lua error.
func luaWith(t *testing.T, root, src string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("fs", fsLoader)
	L.PreloadModule("http", httpLoader)
	L.SetGlobal("ROOT", lua.LString(root))
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
}

func TestFSStat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("12345"), 0o640)
	mtime := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "f.txt"), mtime, mtime)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.Symlink("f.txt", filepath.Join(dir, "link"))
	luaWith(t, dir, `
local fs = require "fs"
local st = assert(fs.stat(ROOT .. "/f.txt"))
assert(st.size == 5, "size " .. tostring(st.size))
assert(st.mtime == 1706933106, "mtime " .. tostring(st.mtime))
assert(st.is_file and not st.is_dir and not st.is_link)
assert(st.mode == 416 and st.perm == "rw-r-----", st.perm)   -- 0640

local d = assert(fs.stat(ROOT .. "/d"))
assert(d.is_dir and not d.is_file and d.perm == "rwxr-xr-x")

local l = assert(fs.stat(ROOT .. "/link"))          -- followed
assert(l.is_file and not l.is_link and l.size == 5)
local ll = assert(fs.lstat(ROOT .. "/link"))        -- not followed
assert(ll.is_link and not ll.is_file)

local none, err, code = fs.stat(ROOT .. "/missing")
assert(none == nil and err:find("no such file") and code == "ENOENT", tostring(err))
local _, _, code2 = fs.stat(ROOT .. "/f.txt/x")
assert(code2 == "ENOTDIR", code2)
`)
}

func TestFSList(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b", "a", ".hidden", "c d"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	luaWith(t, dir, `
local fs = require "fs"
local names = assert(fs.list(ROOT))
assert(table.concat(names, "|") == ".hidden|a|b|c d", table.concat(names, "|"))
local none, err, code = fs.list(ROOT .. "/missing")
assert(none == nil and code == "ENOENT")
local _, _, code2 = fs.list(ROOT .. "/a")
assert(code2 == "ENOTDIR", code2)
`)
}

func TestFSRealpath(t *testing.T) {
	dir := t.TempDir()
	real, _ := filepath.EvalSymlinks(dir) // TMPDIR itself may be a symlink
	os.MkdirAll(filepath.Join(dir, "in", "deep"), 0o755)
	os.Symlink(filepath.Join(dir, "in"), filepath.Join(dir, "abs"))
	os.Symlink("../..", filepath.Join(dir, "in", "deep", "up"))
	os.Symlink("nowhere", filepath.Join(dir, "dangling"))
	os.Symlink("loop", filepath.Join(dir, "loop"))
	luaWith(t, real, `
local fs = require "fs"
assert(fs.realpath(ROOT .. "/in/./deep/..") == ROOT .. "/in")
assert(fs.realpath(ROOT .. "/abs/deep") == ROOT .. "/in/deep")
assert(fs.realpath(ROOT .. "/in/deep/up") == ROOT, fs.realpath(ROOT .. "/in/deep/up"))
assert(fs.realpath(ROOT .. "/in/deep/up/..") == ROOT:match("^(.*)/[^/]+$"))
local none, err, code = fs.realpath(ROOT .. "/dangling")
assert(none == nil and code == "ENOENT", tostring(code))
local none2, err2 = fs.realpath(ROOT .. "/loop")
assert(none2 == nil and err2:find("too many links"), tostring(err2))
local rel = assert(fs.realpath("."))
assert(rel:sub(1, 1) == "/")
`)
}

func TestFSMkdirRemove(t *testing.T) {
	dir := t.TempDir()
	luaWith(t, dir, `
local fs = require "fs"
assert(fs.mkdir(ROOT .. "/new") == true)
local ok, err, code = fs.mkdir(ROOT .. "/new")
assert(ok == nil and code == "EEXIST", tostring(code))
local _, _, code2 = fs.mkdir(ROOT .. "/a/b")
assert(code2 == "ENOENT")
assert(fs.mkdir(ROOT .. "/new/private", tonumber("700", 8)))
assert(fs.stat(ROOT .. "/new/private").perm == "rwx------")
local f = io.open(ROOT .. "/new/file", "w") f:write("x") f:close()
local _, _, code3 = fs.remove(ROOT .. "/new")
assert(code3 == "ENOTEMPTY" or code3 == "EEXIST", tostring(code3))
assert(fs.remove(ROOT .. "/new/file"))
assert(fs.remove(ROOT .. "/new/private"))
assert(fs.remove(ROOT .. "/new"))
local _, _, code4 = fs.remove(ROOT .. "/new")
assert(code4 == "ENOENT")
`)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}

func TestFSArgErrors(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("fs", fsLoader)
	for _, src := range []string{
		`require("fs").stat()`,
		`require("fs").list({})`,
		`require("fs").mkdir("x", "y")`,
	} {
		if err := L.DoString(src); err == nil || !strings.Contains(err.Error(), "bad argument") {
			t.Errorf("%s: %v", src, err)
		}
	}
}

func TestHTTPDateHelpers(t *testing.T) {
	luaWith(t, "", `
local http = require "http"
assert(http.date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT", http.date(784111777))
assert(#http.date() == 29)
for _, s in ipairs{
  "Sun, 06 Nov 1994 08:49:37 GMT",   -- IMF-fixdate
  "Sunday, 06-Nov-94 08:49:37 GMT",  -- RFC 850
  "Sun Nov  6 08:49:37 1994",        -- asctime
  " Sun, 06 Nov 1994 08:49:37 GMT ",
} do
  assert(http.parse_date(s) == 784111777, s)
end
assert(http.parse_date("yesterday") == nil)
assert(http.parse_date("") == nil)
assert(http.status_text(404) == "Not Found")
assert(http.status_text(414) == "Request URI Too Long")
assert(http.status_text(799) == "")
`)
}

func TestHTTPRequestTransferEncoding(t *testing.T) {
	luaWith(t, "", `
local http = require "http"
local req, n = http.parse_request("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n")
assert(req and n == #"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", tostring(n))
assert(req.headers["transfer-encoding"] == "chunked")
local req2 = http.parse_request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")
assert(req2.headers["content-length"] == "3", req2.headers["content-length"])
assert(req2.headers["transfer-encoding"] == nil)
local none, status = http.parse_request("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n")
assert(none == nil and status == 501) -- RFC 9112 §6.1: a coding we do not know
assert(req.chunked == true and req.keep == true and req2.length == 3 and not req2.chunked)
local amb = http.parse_request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
assert(amb.ambiguous and amb.keep == false and amb.headers["content-length"] == nil)
local d = http.chunked(10)
local data, rest, done = d:feed("3;x\r\nabc\r\n0\r")
assert(data == "abc" and rest == "0\r" and done == false)
data, rest, done = d:feed(rest .. "\n\r\nGET")
assert(data == "" and rest == "GET" and done == true and d:done())
local bad, st, resp = http.chunked(2):feed("3\r\nabc\r\n")
assert(bad == nil and st == 413 and resp:find("^HTTP/1.1 413"))
`)
}

// TestFSCreate: fs.create makes a new empty file with the mode asked for,
// less the umask (0644 by default), and refuses one that exists.
func TestFSCreate(t *testing.T) {
	dir := t.TempDir()
	luaWith(t, dir, `
local fs = require "fs"
assert(fs.create(ROOT .. "/a.txt") == true)
local ok, err, code = fs.create(ROOT .. "/a.txt")
assert(ok == nil and code == "EEXIST" and err:find("exists"), tostring(err))
assert(fs.create(ROOT .. "/b.txt", tonumber("600", 8)))
local _, _, code2 = fs.create(ROOT .. "/no/such/c.txt")
assert(code2 == "ENOENT", tostring(code2))
local f = assert(io.open(ROOT .. "/a.txt", "ab")) f:write("kept") f:close()
`)
	umask := os.FileMode(0)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				var n uint32
				for _, c := range strings.TrimSpace(v) {
					n = n*8 + uint32(c-'0')
				}
				umask = os.FileMode(n)
			}
		}
	}
	for name, want := range map[string]os.FileMode{"a.txt": 0o644 &^ umask, "b.txt": 0o600 &^ umask} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want mode %v", name, st.Mode(), err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "kept" {
		t.Fatalf("a.txt = %q", b)
	}
}
