package sandbox

import (
	"strings"
	"testing"
)

func TestLimitsRefuseHugeResults(t *testing.T) {
	L := limitedState(t, Limits{MaxString: 1 << 20})
	for _, tc := range []struct{ src, want string }{
		{`return string.rep("x", 1e10)`, "string.rep: the result would be 10000000000 bytes, over the 1048576-byte limit (--max-string)"},
		{`return ("ab"):rep(1e300)`, "string.rep: the result would be"},
		{`return ("x"):rep(1100, ("y"):rep(1000))`, "string.rep: the result would be 1100100 bytes"},
		{`return string.format(("%1000000d"):rep(3), 1, 2, 3)`, "string.format: the result would be"},
		{`return string.format("%.1000000f%.1000000f", 1, 2)`, "string.format: the result would be"},
		{`local s = ("x"):rep(300000) return string.format("%[1]s%[1]s%[1]s%[1]s", s)`, "string.format: the result would be"},
		{`local s = ("x"):rep(2^19) return table.concat({s, s, s})`, "table.concat: the result would be"},
		{`return table.concat({1, 2, 3}, ("y"):rep(2^19))`, "table.concat: the result would be"},
		{`return (("x"):rep(2^19 + 1)):gsub("x", "yy")`, "string.gsub: the result would be"},
		{`return (("x"):rep(2^10)):gsub("x", ("y"):rep(2^11))`, "string.gsub: the result would be"},
		{`return (("x"):rep(2^10)):gsub("x", function() return ("z"):rep(2^11) end)`, "string.gsub: the result would be"},
	} {
		_, err := eval(L, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.src, err, tc.want)
		}
	}
	// Below the limit everything works as before.
	for _, tc := range []struct{ src, want string }{
		{`return ("ab"):rep(3)`, "ababab"},
		{`return ("ab"):rep(3, ", ")`, "ab, ab, ab"},
		{`return ("ab"):rep(0) .. ("ab"):rep(-1) .. ("ab"):rep(0.5) .. "|"`, "|"},
		{`return ("ab"):rep(2.9)`, "abab"},
		{`return #("x"):rep(2^20)`, "1048576"},
		{`return string.format("%5.1f|%-4s|%q|%d|%x", 3.14159, "ab", "a\n", 42, 255)`, "  3.1|ab  |\"a\\n\"|42|ff"},
		{`return string.format("%s %s", 1)`, "1 %!s(MISSING)"},
		{`return table.concat({1, "b", 3}, "-")`, "1-b-3"},
		{`return table.concat({1, "b", 3}, "-", 2)`, "b-3"},
		{`return table.concat({}, "-")`, ""},
	} {
		got, err := eval(L, tc.src)
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
	if _, err := eval(L, `return table.concat({1, {}, 3})`); err == nil || !strings.Contains(err.Error(), "invalid value (table) at index 2") {
		t.Errorf("table.concat with a table inside: %v", err)
	}
}

func TestRecursionIsALuaError(t *testing.T) {
	L := limitedState(t, Limits{})
	for _, src := range []string{
		`local function f() return 1 + f() end return f()`,
		`local function f() return pcall(f) and error("caught") end f() error("stack overflow swallowed")`,
		`local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x`,
		`local t = setmetatable({}, {__tostring = function(s) return tostring(s) end}) return tostring(t)`,
		`local function f(s) return (s:gsub(".", f)) end return f("ab")`,
		`local function f(s) for w in s:gmatch(".") do f(w) end end return f("ab")`,
		`local function f(s) return table.concat({s}, "", 1, 1) .. f(s) end return f("x")`,
	} {
		_, err := eval(L, src)
		if err == nil || !strings.Contains(err.Error(), "stack overflow") {
			t.Errorf("%s: err = %.200v, want a stack overflow", src, err)
		}
	}
	if _, err := eval(L, `local a = setmetatable({}, {}) getmetatable(a).__index = a return a.x`); err == nil || !strings.Contains(err.Error(), "too many recursions") {
		t.Errorf("__index loop: %v", err)
	}
	// The state is usable afterwards.
	if got, err := eval(L, `return 1 + 1`); err != nil || got != "2" {
		t.Fatalf("after the overflows: %q, %v", got, err)
	}
}
