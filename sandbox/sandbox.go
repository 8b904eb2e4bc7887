package sandbox

import lua "github.com/yuin/gopher-lua"

// Default limits. Limits' zero values take them; for the guard's memory
// cap zero means no cap (the CLI's --max-memory defaults to
// DefaultMaxMemory).
const (
	DefaultMaxString      = 64 << 20
	DefaultMaxMemory      = 2 << 30
	DefaultMaxSyntaxDepth = 10000
)

// luaLimits are the limits one Lua state enforces.
type luaLimits struct {
	maxString int
	maxDepth  int
}

// registry key under which the state's syntax depth limit is kept for
// CheckDepth, which only gets the state.
const depthKey = "pocketlua.max_syntax_depth"

// Limits are what one library call may build; zero fields take the defaults.
type Limits struct {
	MaxString      int64 // longest string one call may build (--max-string)
	MaxSyntaxDepth int   // deepest nesting a chunk may have (--max-syntax-depth)
}

// Install replaces the unbounded library functions of L and adds
// table.compact.
func Install(L *lua.LState, limits Limits) {
	lim := &luaLimits{maxString: DefaultMaxString, maxDepth: DefaultMaxSyntaxDepth}
	if limits.MaxString > 0 {
		lim.maxString = int(min(limits.MaxString, int64(maxInt)))
	}
	if limits.MaxSyntaxDepth > 0 {
		lim.maxDepth = limits.MaxSyntaxDepth
	}
	L.SetField(L.Get(lua.RegistryIndex), depthKey, lua.LNumber(lim.maxDepth))

	str := L.GetGlobal("string").(*lua.LTable) // also the strings' __index
	str.RawSetString("rep", L.NewFunction(lim.rep))
	str.RawSetString("format", L.NewFunction(lim.format))
	str.RawSetString("gsub", L.NewFunction(lim.gsub))
	gmatch := L.NewFunction(lim.gmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)

	tbl := L.GetGlobal("table").(*lua.LTable)
	concat := tbl.RawGetString("concat").(*lua.LFunction).GFunction
	tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int {
		lim.checkConcat(L)
		return concat(L)
	}))

	installTableCompact(L)

	L.SetGlobal("loadstring", L.NewFunction(lim.loadstring))
	L.SetGlobal("load", L.NewFunction(lim.load))
	L.SetGlobal("loadfile", L.NewFunction(lim.loadfile))
	L.SetGlobal("dofile", L.NewFunction(lim.dofile))

	co := L.GetGlobal("coroutine").(*lua.LTable)
	create := co.RawGetString("create").(*lua.LFunction).GFunction
	co.RawSetString("create", L.NewFunction(func(L *lua.LState) int {
		n := create(L)
		if th, ok := L.Get(-1).(*lua.LState); ok {
			shareContext(L, th)
		}
		return n
	}))
	wrap := co.RawGetString("wrap").(*lua.LFunction).GFunction
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		n := wrap(L)
		if fn, ok := L.Get(-1).(*lua.LFunction); ok && len(fn.Upvalues) > 0 {
			if th, ok := fn.Upvalues[0].Value().(*lua.LState); ok {
				shareContext(L, th)
			}
		}
		return n
	}))
}

const maxInt = int(^uint(0) >> 1)

// shareContext gives a new coroutine its creator's context (the guard's).
func shareContext(L, th *lua.LState) {
	if ctx := L.Context(); ctx != nil {
		th.SetContext(ctx)
	}
}
