package bindings

import lua "github.com/yuin/gopher-lua"

// PreloadJSON makes require "json" work in L without the rest of Register:
// for benchmarks and tools that run Lua outside a server.
func PreloadJSON(L *lua.LState) { L.PreloadModule("json", jsonLoader) }
