package lua

import (
	"runtime"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"pocketlua/bindings"
)

// Each benchmark compiles its Lua once; setup builds the inputs, work is
// what one iteration runs.
func runLua(b *testing.B, setup, work string) {
	b.Helper()
	L := lua.NewState()
	defer L.Close()
	bindings.PreloadJSON(L)
	if err := L.DoString(setup); err != nil {
		b.Fatal(err)
	}
	fn, err := L.LoadString(work)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, ok := processCPU()
	for i := 0; i < b.N; i++ {
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

const million = `N = 1000000
skeys = {} for i = 1, N do skeys[i] = "key" .. i end
ikeys = {} for i = 1, N do ikeys[i] = (i * 2654435761) % 2147483648 + 1 end`

func BenchmarkStringKeys1M(b *testing.B) {
	runLua(b, million, `
local t, keys, n = {}, skeys, N
for i = 1, n do t[keys[i]] = i end
local sum = 0
for i = 1, n do sum = sum + t[keys[i]] end
for i = 1, n do t[keys[i]] = nil end
assert(next(t) == nil and sum == n * (n + 1) / 2)`)
}

func BenchmarkSparseIntKeys1M(b *testing.B) {
	runLua(b, million, `
local t, keys, n = {}, ikeys, N
for i = 1, n do t[keys[i]] = i end
local sum = 0
for i = 1, n do sum = sum + t[keys[i]] end
for i = 1, n do t[keys[i]] = nil end
assert(next(t) == nil)`)
}

func BenchmarkSeqIntKeys1M(b *testing.B) {
	runLua(b, `N = 1000000`, `
local t, n = {}, N
for i = 1, n do t[i] = i end
local sum = 0
for i = 1, n do sum = sum + t[i] end
for i = n, 1, -1 do t[i] = nil end
assert(next(t) == nil and sum == n * (n + 1) / 2)`)
}

func BenchmarkAppendIpairs1M(b *testing.B) {
	runLua(b, `N = 1000000`, `
local t = {}
for i = 1, N do t[#t + 1] = i end
local sum = 0
for _, v in ipairs(t) do sum = sum + v end
assert(sum == N * (N + 1) / 2)`)
}

func BenchmarkPairs100k(b *testing.B) {
	runLua(b, `T = {} for i = 1, 100000 do T["k" .. i] = i end`, `
local sum = 0
for _, v in pairs(T) do sum = sum + v end
assert(sum == 100000 * 100001 / 2)`)
}

// A 1 MB document: an array of objects with strings, numbers and a nested
// array.
const jsonDoc = `json = require "json"
local items = {}
for i = 1, 9000 do
  items[i] = {id = i, name = "user" .. i, email = "user" .. i .. "@example.org",
    active = i % 2 == 0, score = i * 1.5, tags = {"a", "bb", "ccc"}}
end
DOC = json.encode({items = items})
assert(#DOC > 900000 and #DOC < 1200000, "document of " .. #DOC .. " bytes")`

func BenchmarkJSONDecode1MB(b *testing.B) {
	runLua(b, jsonDoc, `local v = json.decode(DOC) assert(#v.items == 9000)`)
}

func BenchmarkJSONEncode1MB(b *testing.B) {
	runLua(b, jsonDoc+"\nVALUE = json.decode(DOC)", `local s = json.encode(VALUE) assert(#s == #DOC)`)
}

// The chat fan-out: a room of 1,000 members; each message goes to every
// other member, and one member leaves and another joins per message, as
// connections come and go.
func BenchmarkChatFanout(b *testing.B) {
	runLua(b, `
Member = {} Member.__index = Member
function Member:send(text) self.got = self.got + 1 self.last = text end
room, ids = {}, 0
function join() ids = ids + 1 local m = setmetatable({id = ids, got = 0, name = "u" .. ids}, Member) room[m] = true return m end
for i = 1, 1000 do join() end`, `
for msg = 1, 100 do
  local from = next(room)
  local text = from.name .. ": hello " .. msg
  for m in pairs(room) do if m ~= from then m:send(text) end end
  room[from] = nil
  join()
end`)
}

// BenchmarkTableMemory reports the heap kept per table for shapes scripts
// make by the million: an empty table, a 3-element array, a small object.
func BenchmarkTableMemory(b *testing.B) {
	for _, shape := range []struct{ name, ctor string }{
		{"empty", "{}"},
		{"array3", "{1, 2, 3}"},
		{"object3", "{x = 1, y = 2, name = 'n'}"},
		{"setfield3", "(function() local t = {} t.x = 1 t.y = 2 t.name = 'n' return t end)()"},
	} {
		b.Run(shape.name, func(b *testing.B) {
			L := lua.NewState()
			defer L.Close()
			const n = 100000
			src := "local k = {} for i = 1, " + "100000" + " do k[i] = " + shape.ctor + " end KEEP = k"
			var perTable float64
			for i := 0; i < b.N; i++ {
				L.SetGlobal("KEEP", lua.LNil)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if err := L.DoString(strings.TrimSpace(src)); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perTable = float64(after.HeapAlloc-before.HeapAlloc) / n
			}
			b.ReportMetric(perTable, "B/table")
		})
	}
}
