package lua

// The project's (PATCHES.md): error messages as Lua 5.1 words them.

import (
	"errors"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

func TestSyntaxErrorNamesTheUnclosed(t *testing.T) {
	for _, c := range []struct{ src, msg, near string }{
		{"local x = 1\nlocal t = {\n  a = 1,\n  b = 2\n\nlocal y = 2\n", "'}' expected (to close '{' at line 2)", "local"},
		{"print((1 + 2)\nlocal z = 1\n", "')' expected (to close '(' at line 1)", "local"},
		{"local t = {1, 2 local", "'}' expected", "local"},
		{"local function f()\n  return 1\n\nprint(f())\n", "'end' expected (to close 'function' at line 1)", "print"},
		{"x = = 1\n", "syntax error", "="},
	} {
		_, err := parse.Parse(strings.NewReader(c.src), "t.lua")
		var pe *parse.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%q: %v", c.src, err)
		}
		if pe.Message != c.msg || pe.Token != c.near {
			t.Errorf("%q: got %q near %q, want %q near %q", c.src, pe.Message, pe.Token, c.msg, c.near)
		}
	}
	_, err := parse.Parse(strings.NewReader("if x then\n  y = 1\n"), "t.lua")
	if err == nil || !strings.Contains(err.Error(), "'end' expected (to close 'if' at line 1)") {
		t.Errorf("missing end at EOF: %v", err)
	}
}

func TestCallErrorNamesTheCallee(t *testing.T) {
	got := runLua(t, `
local out = {}
local obj = {conn = {}}
function obj:go() self.conn:sned("x") end
local up
for _, f in ipairs({
  function() obj:go() end,
  function() undefinedfn() end,
  function() local t = {} t.field() end,
  function() local f f() end,
  function() up() end,
  function() local t = {} t[1]() end,
}) do local _, msg = pcall(f) out[#out + 1] = msg end
return table.concat(out, "\n")`)
	want := strings.Join([]string{
		"<string>:4: attempt to call method 'sned' (a nil value)",
		"<string>:8: attempt to call global 'undefinedfn' (a nil value)",
		"<string>:9: attempt to call field 'field' (a nil value)",
		"<string>:10: attempt to call local 'f' (a nil value)",
		"<string>:11: attempt to call upvalue 'up' (a nil value)",
		"<string>:12: attempt to call a nil value",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestTracebackNamesHostCalledFunctions: a function the host calls (a
// handler) is "function <file:line>", never "main chunk"; functions called
// from Lua by name are "function 'name'".
func TestTracebackNamesHostCalledFunctions(t *testing.T) {
	L := NewState()
	defer L.Close()
	if err := L.DoString(`
local function helper() error("boom") end
Handler = {}
function Handler.data(x)
  helper()
end`); err != nil {
		t.Fatal(err)
	}
	fn := L.GetField(L.GetGlobal("Handler"), "data")
	err := L.CallByParam(P{Fn: fn, NRet: 0, Protect: true})
	var ae *ApiError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"<string>:2: in function 'helper'", "<string>:5: in function <<string>:4>"} {
		if !strings.Contains(ae.StackTrace, want) {
			t.Errorf("traceback lacks %q:\n%s", want, ae.StackTrace)
		}
	}
	if strings.Contains(ae.StackTrace, "main chunk") {
		t.Errorf("traceback names a handler main chunk:\n%s", ae.StackTrace)
	}
}
