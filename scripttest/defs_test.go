package scripttest

import (
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/engine"
	"pocketlua/luadefs"
	"pocketlua/scripts"
)

// apiTables returns, from a state made as the server makes its own, the
// real table behind each owner the definitions declare functions on
// (file:owner), and the objects whose fields the definitions list.
const apiTables = `
local t = require "pocketlua.test"
local FatClient = require "fatclient"
local Httpd = require "httpd"
local Ftp = require "ftp"
local c = t.connect(FatClient:extend())
local conn = c.instance.conn
local timer = server.after(1, function() end)
local listener = server.socket_bind()
local res -- httpd's response object, from a real request
t.connect(Httpd:extend({ routes = { ["GET /"] = function(req, r) res = r return 200 end } }))
  :data("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
return {
  ["pocketlua/globals.lua:conn"] = getmetatable(conn).methods,
  ["pocketlua/globals.lua:timer"] = getmetatable(timer).__index,
  ["pocketlua/globals.lua:listener"] = getmetatable(listener).methods,
  ["pocketlua/globals.lua:shared"] = getmetatable(server.shared("defs")).methods,
  ["pocketlua/globals.lua:table"] = { compact = table.compact },
  ["server.lua:server"] = server,
  ["log.lua:log"] = log,
  ["http.lua:http"] = require "http",
  ["http.lua:chunked"] = getmetatable((require "http").chunked()).__index,
  ["ws.lua:ws"] = require "ws",
  ["json.lua:json"] = require "json",
  ["fs.lua:fs"] = require "fs",
  ["metrics.lua:metrics"] = require "metrics",
  ["fatclient.lua:FatClient"] = FatClient,
  ["websocket.lua:WebSocket"] = require "websocket",
  ["echo.lua:Echo"] = require "echo",
  ["tcp_echo.lua:TcpEcho"] = require "tcp_echo",
  ["httpd.lua:Httpd"] = Httpd,
  ["httpd.lua:HttpResponse"] = getmetatable(res),
  ["ftp.lua:Ftp"] = Ftp,
  ["ftp.lua:FtpData"] = Ftp.Data,
  ["mux.lua:Mux"] = require "mux",
  ["ssh.lua:Ssh"] = require "ssh",
  ["ssh.lua:SshSession"] = (require "ssh").Session,
  ["pocketlua/test.lua:t"] = t,
  ["pocketlua/test.lua:conn"] = getmetatable(c).__index,
}, { ["pocketlua/globals.lua:conn"] = conn, ["pocketlua/globals.lua:listener"] = listener }
`

var (
	defFunction = regexp.MustCompile(`(?m)^function ([A-Za-z_]\w*)[.:](\w+)\(`)
	defClass    = regexp.MustCompile(`(?m)^---@class \S+(?:[^\n]*)\n((?:---@field [^\n]*\n)*)local (\w+) = \{\}`)
	defField    = regexp.MustCompile(`---@field (\w+) `)
)

// TestDefinitionsMatchBindings walks the functions registered in every
// module table, metatable and battery class of a real state and fails
// when one is missing from the definitions or a definition names a
// function that does not exist. Names starting with "_" are private.
func TestDefinitionsMatchBindings(t *testing.T) {
	defined := map[string]map[string]bool{} // file:owner -> function names
	fields := map[string][]string{}         // file:owner -> @field names of a class declared as local owner = {}
	err := fs.WalkDir(luadefs.Files, "meta", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := luadefs.Files.ReadFile(path)
		if err != nil {
			return err
		}
		file := strings.TrimPrefix(path, "meta/")
		if !strings.HasPrefix(string(src), "---@meta") {
			t.Errorf("%s does not start with ---@meta", file)
		}
		for _, m := range defFunction.FindAllStringSubmatch(string(src), -1) {
			key := file + ":" + m[1]
			if defined[key] == nil {
				defined[key] = map[string]bool{}
			}
			if defined[key][m[2]] {
				t.Errorf("%s defines %s twice", key, m[2])
			}
			defined[key][m[2]] = true
		}
		for _, m := range defClass.FindAllStringSubmatch(string(src), -1) {
			for _, f := range defField.FindAllStringSubmatch(m[1], -1) {
				fields[file+":"+m[2]] = append(fields[file+":"+m[2]], f[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	w := newWorld()
	L := engine.NewScriptState(engine.Config{Batteries: scripts.FS}, nil, w, nil)
	defer L.Close()
	w.attach(L)
	var tests []test
	mod := newModule(L, w, ".", &tests)
	L.PreloadModule(ModuleName, func(L *lua.LState) int { L.Push(mod); return 1 })
	if err := L.DoString(apiTables); err != nil {
		t.Fatal(err)
	}
	real, objects := L.Get(-2).(*lua.LTable), L.Get(-1).(*lua.LTable)

	seen := map[string]bool{}
	real.ForEach(func(k, v lua.LValue) {
		key := k.String()
		seen[key] = true
		tbl, ok := v.(*lua.LTable)
		if !ok {
			t.Errorf("%s: no table behind it (%s)", key, v.Type())
			return
		}
		var missing, extra []string
		tbl.ForEach(func(name, fn lua.LValue) {
			s, ok := name.(lua.LString)
			if _, isFn := fn.(*lua.LFunction); ok && isFn && !strings.HasPrefix(string(s), "_") && !defined[key][string(s)] {
				missing = append(missing, string(s))
			}
		})
		for name := range defined[key] {
			if _, isFn := tbl.RawGetString(name).(*lua.LFunction); !isFn {
				extra = append(extra, name)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 {
			t.Errorf("%s: functions without a definition: %s", key, strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			t.Errorf("%s: definitions of functions that do not exist: %s", key, strings.Join(extra, ", "))
		}
	})
	for key := range defined {
		if !seen[key] {
			t.Errorf("%s: defined, but the test does not know which real table it describes (add it to apiTables)", key)
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d tables walked", len(seen))
	}

	// The fields of the conn and listener objects are answered by their
	// __index functions: every field defined must have a value.
	objects.ForEach(func(k, obj lua.LValue) {
		names := fields[k.String()]
		if len(names) == 0 {
			t.Errorf("%s: no @field definitions found", k)
		}
		for _, name := range names {
			L.Push(L.GetField(obj, name))
			if L.Get(-1) == lua.LNil {
				t.Errorf("%s: the field %s is defined but nil on a real object", k, name)
			}
			L.Pop(1)
		}
	})
}
