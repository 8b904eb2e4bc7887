package lua

// The project's (PATCHES.md): weak tables, collectgarbage and the table
// behaviours a Lua script sees.

import (
	"strings"
	"testing"
)

func runLua(t *testing.T, src string) string {
	t.Helper()
	L := NewState()
	defer L.Close()
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
	return L.Get(-1).String()
}

func TestWeakKeysGoAfterCollect(t *testing.T) {
	got := runLua(t, `
local wk = setmetatable({}, {__mode = "k"})
local keep = {}
wk[keep] = "kept"
-- hold keeps the fresh keys until counted: a collection may start at any
-- allocation
local hold = {}
local function fill()
  for i = 1, 100 do local k = {} hold[i] = k wk[k] = i end
  local f = function() end hold.f = f wk[f] = "f"
end
fill()
local before = 0 for _ in pairs(wk) do before = before + 1 end
hold = nil
collectgarbage("collect")
local after, found = 0, nil
for k, v in pairs(wk) do after = after + 1 found = v end
return before .. " " .. after .. " " .. tostring(found) .. " " .. tostring(wk[keep])`)
	if got != "102 1 kept kept" {
		t.Fatalf("got %q", got)
	}
}

func TestWeakValuesGoAfterCollect(t *testing.T) {
	got := runLua(t, `
local wv = setmetatable({}, {__mode = "v"})
local keep = {}
local hold = {}
local function fill()
  for i = 1, 50 do local v = {} hold[i] = v wv[i] = v end
  hold.name = {} wv.name = hold.name wv.s = "string"
end
fill()
wv[51] = keep
local before = #wv
hold = nil
collectgarbage()
local after = 0 for _ in pairs(wv) do after = after + 1 end
return before .. " " .. after .. " " .. tostring(wv[51] == keep) .. " " .. tostring(wv[1]) .. " " .. wv.s .. " " .. #wv`)
	// #wv is a border: with t[1..50] gone, 0 (t[51] alone is no border start)
	if got != "51 2 true nil string 0" {
		t.Fatalf("got %q", got)
	}
}

func TestWeakModeKVAndBackToStrong(t *testing.T) {
	got := runLua(t, `
local mt = {__mode = "kv"}
local t = setmetatable({}, mt)
local k = {}
t[k] = {} -- weak value: goes although its key lives
t[1] = k
collectgarbage()
local n = 0 for _ in pairs(t) do n = n + 1 end
setmetatable(t, nil) -- strong again: what is left stays
t[2] = {}
collectgarbage()
return n .. " " .. tostring(t[1] == k) .. " " .. type(t[2]) .. " " .. tostring(t[k])`)
	if got != "1 true table nil" {
		t.Fatalf("got %q", got)
	}
}

func TestCollectGarbageOptions(t *testing.T) {
	got := runLua(t, `
local kb = collectgarbage("count")
assert(type(kb) == "number" and kb > 0, "count")
assert(collectgarbage("step") == false)
for _, o in ipairs({"stop", "restart", "setpause", "setstepmul"}) do collectgarbage(o, 100) end
return collectgarbage()`)
	if got != "0" {
		t.Fatalf("got %q", got)
	}
	L := NewState()
	defer L.Close()
	err := L.DoString(`collectgarbage("bogus")`)
	if err == nil || !strings.Contains(err.Error(), "bad argument #1 to collectgarbage (invalid option 'bogus')") {
		t.Fatalf("err = %v", err)
	}
}

// TestClearingDuringPairs: Lua 5.1 lets a traversal assign nil to existing
// fields; every key is visited once, whatever part of the table holds it.
func TestClearingDuringPairs(t *testing.T) {
	got := runLua(t, `
local t = {}
for i = 1, 300 do t[i] = i end
for i = 1, 300 do t["s" .. i] = i end
for i = 1, 300 do t[i * 1000] = i end
t[2^53] = 1 t[2.5] = 1 t[true] = 1 t[{}] = 1
local seen, n = {}, 0
for k in pairs(t) do
  assert(not seen[k], "twice: " .. tostring(k))
  seen[k] = true n = n + 1
  t[k] = nil
end
return n .. " " .. tostring(next(t))`)
	if got != "904 nil" {
		t.Fatalf("got %q", got)
	}
}

func TestSparseAndFloatKeys(t *testing.T) {
	got := runLua(t, `
local t = {}
t[2^53] = "big" t[20000000] = "n" t[1.0] = "one" t[-0.0] = "zero" t[0.5] = "half"
return table.concat({t[2^53], t[20000000], t[1], t[0], t[0.5], #t, table.maxn(t)}, " ")`)
	if got != "big n one zero half 1 9007199254740992" {
		t.Fatalf("got %q", got)
	}
}
