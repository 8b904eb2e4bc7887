package bindings

import (
	"encoding/json"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// runJSONLua runs src in a fresh state with the json module as a global;
// the snippet fails by raising (assert).
func runJSONLua(t *testing.T, src string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("json", jsonLoader)
	if err := L.DoString(`json = require "json"
function eq(got, want) if got ~= want then error(("got %q, want %q"):format(tostring(got), tostring(want)), 2) end end
` + src); err != nil {
		t.Fatal(err)
	}
}

func TestJSONEncode(t *testing.T) {
	runJSONLua(t, `
eq(json.encode(nil), "null")
eq(json.encode(json.null), "null")
eq(json.encode(true), "true")
eq(json.encode(false), "false")
eq(json.encode(0), "0")
eq(json.encode(-12), "-12")
eq(json.encode(1.5), "1.5")
eq(json.encode(2^53), "9007199254740992")
eq(json.encode(1e21), "1e+21")
eq(json.encode(1e-7), "1e-7")
eq(json.encode(0.1), "0.1")
eq(json.encode("plain"), '"plain"')
eq(json.encode('q"b\\s/'), '"q\\"b\\\\s/"')
eq(json.encode("\n\r\t\b\f\1\31"), '"\\n\\r\\t\\b\\f\\u0001\\u001f"')
eq(json.encode("h\195\169llo"), '"h\195\169llo"')          -- UTF-8 kept as is
eq(json.encode("bad\255x"), '"bad\\ufffdx"')               -- invalid UTF-8 replaced
eq(json.encode("\226\128\168"), '"\\u2028"')                -- U+2028 escaped
eq(json.encode({}), "{}")                                   -- empty: an object
eq(json.encode(json.array()), "[]")                         -- unless marked
eq(json.encode(json.array({1, 2})), "[1,2]")
eq(json.encode({1, "two", true}), '[1,"two",true]')
eq(json.encode({1, json.null, 3}), "[1,null,3]")
eq(json.encode({b = 1, a = {c = {}}, ["z z"] = "x"}), '{"a":{"c":{}},"b":1,"z z":"x"}')
eq(json.encode({[1] = "a", [3] = "c"}), '{"1":"a","3":"c"}')   -- sparse: an object
eq(json.encode({1, 2, x = 3}), '{"1":1,"2":2,"x":3}')          -- mixed: an object
eq(json.encode({[1.5] = true}), '{"1.5":true}')
eq(json.encode({{}, {{}}}), "[{},[{}]]")

local function fails(v, pattern, opts)
  local ok, err = pcall(json.encode, v, opts)
  assert(not ok, "encoding should fail: " .. tostring(v))
  assert(err:find(pattern, 1, true), err)
end
fails(print, "json.encode: cannot encode a function")
fails({f = print}, "cannot encode a function")
fails(0/0, "JSON has no NaN")
fails(1/0, "JSON has no NaN")
fails({[true] = 1}, "cannot encode a table key of type boolean")
local cyc = {} cyc.self = cyc
fails(cyc, "a table contains itself")
local deep = {} local cur = deep
for i = 1, 200 do cur[1] = {} cur = cur[1] end
fails(deep, "nesting deeper than 128")
fails({{{}}}, "nesting deeper than 2", {max_depth = 2})
eq(json.encode({{}}, {max_depth = 2}), "[{}]")
fails(string.rep("x", 100), "output over 50 bytes", {max_size = 50})
local shared = {1}
eq(json.encode({shared, shared}), "[[1],[1]]")          -- shared, not a cycle
`)
}

func TestJSONDecode(t *testing.T) {
	runJSONLua(t, `
eq(json.decode("true"), true)
eq(json.decode(" false "), false)
eq(json.decode("null"), json.null)
eq(json.decode("-0.5e1"), -5)
eq(json.decode("12345678"), 12345678)
eq(json.decode('"a\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00"'), 'a"b\\c/d\n\195\169\240\159\152\128')
eq(json.decode('"\\ud800x"'), "\239\191\189x")           -- lone surrogate: U+FFFD
local v = json.decode(' { "a" : [1, 2, {"b": null}], "c": {}, "d": [] , "a2": "x"} ')
eq(#v.a, 3)
eq(v.a[3].b, json.null)
eq(next(v.c), nil)
eq(getmetatable(v.d), json.array_mt)
eq(getmetatable(v.a), json.array_mt)
eq(json.encode(v), '{"a":[1,2,{"b":null}],"a2":"x","c":{},"d":[]}')  -- [] round-trips
local arr = json.decode("[null, null, 1]")
eq(#arr, 3)
eq(arr[1], json.null)
eq(json.decode('{"k": 1, "k": 2}').k, 2)                  -- last duplicate wins
eq(json.decode('{"1": "x"}')["1"], "x")                    -- keys stay strings
eq(tostring(json.null), "null")

local function fails(s, want, opts)
  local v, err = json.decode(s, opts)
  assert(v == nil, "decoding should fail: " .. s)
  eq(err, "json.decode: " .. want)
end
fails("", "empty input at byte 1")
fails("   ", "empty input at byte 4")
fails("[1,]", "unexpected character ']' at byte 4")
fails("{'a':1}", "unexpected character ''' at byte 2")
fails('{"a" 1}', "unexpected character '1' at byte 6")
fails('{"a":1,}', "unexpected character '}' at byte 8")
fails("[1 2]", "unexpected character '2' at byte 4")
fails("01", "trailing data after the value at byte 2")
fails("1.", "unexpected end of input at byte 3")
fails("-", "unexpected end of input at byte 2")
fails("1e", "unexpected end of input at byte 3")
fails(".5", "unexpected character '.' at byte 1")
fails("tru", "unexpected character 't' at byte 1")
fails("nul", "unexpected character 'n' at byte 1")
fails("NaN", "unexpected character 'N' at byte 1")
fails("1e999", "number out of range at byte 1")
fails('"abc', "unterminated string at byte 1")
fails('"a\nb"', "control character in string at byte 3")
fails('"\\x"', "invalid escape '\\x' at byte 2")
fails('"\\u12"', "invalid \\u escape at byte 2")
fails("[1] x", "trailing data after the value at byte 5")
fails("\255", "unexpected byte 0xff at byte 1")
fails(string.rep("[", 129) .. string.rep("]", 129), "nesting deeper than 128 at byte 129")
fails("[[1]]", "nesting deeper than 1 at byte 2", {max_depth = 1})
fails('"' .. string.rep("x", 20) .. '"', "input of 22 bytes is over the limit of 10", {max_size = 10})
assert(json.decode(string.rep("[", 128) .. string.rep("]", 128)))
assert(not pcall(json.decode, "1", {max_depth = 0}))
local ok, err = pcall(json.encode, {}, {max_depth = 1001})
assert(not ok and err:find("max_depth must be a number from 1 to 1000", 1, true), err)
`)
}

// TestJSONAgainstEncodingJSON: what json.encode writes, Go's encoding/json
// reads back to the same value, and what encoding/json writes, json.decode
// reads.
func TestJSONAgainstEncodingJSON(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("json", jsonLoader)
	if err := L.DoString(`json = require "json"
out = json.encode({ name = "ann\0\127\194\128", n = {1, 2.25, -3e-9, 1e300}, ok = true, none = json.null,
  nested = { { deep = { "x" } } } })`); err != nil {
		t.Fatal(err)
	}
	out := L.GetGlobal("out").String()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("encoding/json cannot read %s: %v", out, err)
	}
	back, _ := json.Marshal(v)
	want := `{"n":[1,2.25,-3e-9,1e+300],"name":"ann\u0000\u007f\u0080","nested":[{"deep":["x"]}],"none":null,"ok":true}`
	var w any
	json.Unmarshal([]byte(want), &w)
	wantBack, _ := json.Marshal(w)
	if string(back) != string(wantBack) {
		t.Fatalf("round trip through encoding/json:\n got %s\nwant %s", back, wantBack)
	}

	goText, _ := json.Marshal(map[string]any{"s": "tab\there <&> \u2028 é", "f": 0.000001, "a": []any{nil, false, "x"}})
	L.SetGlobal("text", lua.LString(goText))
	if err := L.DoString(`
local v = assert(json.decode(text))
assert(v.s == "tab\there <&> \226\128\168 \195\169", v.s)
assert(v.f == 0.000001)
assert(v.a[1] == json.null and v.a[2] == false and v.a[3] == "x")
`); err != nil {
		t.Fatalf("decoding %s: %v", goText, err)
	}
}

// FuzzJSONDecode: decode never panics; what it accepts, encoding/json
// accepts too (it is at least as strict, but for invalid UTF-8 in
// strings, which it keeps), and re-encoding gives JSON that encoding/json
// reads.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `"\ud83d\ude00"`, `-0.1e-5`, `[[[]]]`, `{"":""}`, `tru`, `"\u00"`} {
		f.Add(s)
	}
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("json", jsonLoader)
	if err := L.DoString(`json = require "json"
function roundtrip(s)
  local v, err = json.decode(s)
  if v == nil then return nil end
  return json.encode(v)
end`); err != nil {
		f.Fatal(err)
	}
	fn := L.GetGlobal("roundtrip")
	f.Fuzz(func(t *testing.T, s string) {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, lua.LString(s)); err != nil {
			t.Fatalf("decode/encode of %q raised: %v", s, err)
		}
		ret := L.Get(-1)
		L.Pop(1)
		if ret == lua.LNil {
			return
		}
		if strings.ToValidUTF8(s, "\uFFFD") == s && !json.Valid([]byte(s)) {
			t.Fatalf("json.decode accepted %q, encoding/json does not", s)
		}
		if !json.Valid([]byte(ret.String())) {
			t.Fatalf("re-encoding %q gave invalid JSON %q", s, ret.String())
		}
	})
}

// TestJSONIsArray: is_array tells a decoded [] from {} and agrees with
// what encode writes, for tables built in Lua too.
func TestJSONIsArray(t *testing.T) {
	runJSONLua(t, `
eq(json.is_array(json.decode("[]")), true)
eq(json.is_array(json.decode("{}")), false)
eq(json.is_array(json.decode("[1,2]")), true)
eq(json.is_array(json.decode('{"1":1}')), false)
eq(json.is_array({}), false)
eq(json.is_array(json.array()), true)
eq(json.is_array({1, 2, 3}), true)
eq(json.is_array({1, 2, nil, 4}), false)
eq(json.is_array({[2] = "x"}), false)
eq(json.is_array({1, x = 2}), false)
eq(json.is_array("[]"), false)
eq(json.is_array(nil), false)
eq(json.is_array(json.null), false)
for _, t in ipairs({ {}, json.array(), {1, 2}, {a = 1}, json.decode("[]"), json.decode("{}") }) do
  eq(json.is_array(t), json.encode(t):sub(1, 1) == "[")
end
local ok = pcall(json.is_array)
eq(ok, false)
`)
}
