package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

const sharedType = "pocketlua.shared"

// SharedDict is one server.shared dictionary; values are string,
// float64 or bool.
type SharedDict interface {
	Get(key string) (any, bool)
	Set(key string, value any, ttl time.Duration) error
	Add(key string, value any, ttl time.Duration) (bool, error)
	Incr(key string, n float64, init *float64) (sum float64, found bool, err error)
	Delete(key string)
	TTL(key string) (time.Duration, bool)
	Keys(max int) []string
	Capacity() int64
	Used() int64
}

// SharedDicts is a Server with server.shared.
type SharedDicts interface {
	// Shared returns the process's dictionary name, made with capacity
	// bytes (0: the default) on first use.
	Shared(name string, capacity int64) (SharedDict, error)
}

var sharedMethods = map[string]lua.LGFunction{
	"get": func(L *lua.LState) int {
		v, ok := checkShared(L).Get(L.CheckString(2))
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(sharedToLua(v))
		return 1
	},
	"set": func(L *lua.LState) int {
		d, key := checkShared(L), L.CheckString(2)
		if L.Get(3) == lua.LNil {
			d.Delete(key)
			L.Push(lua.LTrue)
			return 1
		}
		if err := d.Set(key, sharedValue(L, 3), sharedTTL(L, 4)); err != nil {
			L.RaiseError("%s", err.Error())
		}
		L.Push(lua.LTrue)
		return 1
	},
	"add": func(L *lua.LState) int {
		d, key := checkShared(L), L.CheckString(2)
		added, err := d.Add(key, sharedValue(L, 3), sharedTTL(L, 4))
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		L.Push(lua.LBool(added))
		return 1
	},
	"incr": func(L *lua.LState) int {
		d, key, n := checkShared(L), L.CheckString(2), float64(L.CheckNumber(3))
		var init *float64
		if L.Get(4) != lua.LNil {
			v := float64(L.CheckNumber(4))
			init = &v
		}
		sum, found, err := d.Incr(key, n, init)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		if !found {
			L.Push(lua.LNil)
			L.Push(lua.LString("not found"))
			return 2
		}
		L.Push(lua.LNumber(sum))
		return 1
	},
	"delete": func(L *lua.LState) int {
		checkShared(L).Delete(L.CheckString(2))
		return 0
	},
	"ttl": func(L *lua.LState) int {
		left, ok := checkShared(L).TTL(L.CheckString(2))
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("not found"))
			return 2
		}
		L.Push(lua.LNumber(left.Seconds()))
		return 1
	},
	"keys": func(L *lua.LState) int {
		keys := checkShared(L).Keys(L.OptInt(2, 1024))
		t := L.CreateTable(len(keys), 0)
		for _, k := range keys {
			t.Append(lua.LString(k))
		}
		L.Push(t)
		return 1
	},
	"capacity": func(L *lua.LState) int { L.Push(lua.LNumber(checkShared(L).Capacity())); return 1 },
	"used":     func(L *lua.LState) int { L.Push(lua.LNumber(checkShared(L).Used())); return 1 },
}

func registerShared(L *lua.LState) {
	mt := L.NewTypeMetatable(sharedType)
	methods := L.SetFuncs(L.NewTable(), sharedMethods)
	L.SetField(mt, "methods", methods)
	L.SetField(mt, "__index", methods)
}

// addShared installs server.shared(name[, capacity]).
func addShared(L *lua.LState, mod *lua.LTable, srv Server) {
	dicts, _ := srv.(SharedDicts)
	mod.RawSetString("shared", L.NewFunction(func(L *lua.LState) int {
		if dicts == nil {
			L.RaiseError("shared: this server has no shared dictionaries")
		}
		name := L.CheckString(1)
		capacity := int64(L.OptNumber(2, 0))
		if L.Get(2) != lua.LNil && capacity <= 0 {
			L.ArgError(2, "capacity must be a positive number of bytes")
		}
		d, err := dicts.Shared(name, capacity)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		ud := L.NewUserData()
		ud.Value = d
		L.SetMetatable(ud, L.GetTypeMetatable(sharedType))
		L.Push(ud)
		return 1
	}))
}

func checkShared(L *lua.LState) SharedDict {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if d, ok := ud.Value.(SharedDict); ok {
			return d
		}
	}
	L.ArgError(1, "shared dictionary expected (call it with a colon: dict:get(key))")
	return nil
}

func sharedValue(L *lua.LState, n int) any {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case lua.LBool:
		return bool(v)
	}
	L.ArgError(n, "a shared value is a string, a number or a boolean, not "+L.Get(n).Type().String())
	return nil
}

func sharedTTL(L *lua.LState, n int) time.Duration {
	if L.Get(n) == lua.LNil {
		return 0
	}
	return checkSeconds(L, n)
}

func sharedToLua(v any) lua.LValue {
	switch x := v.(type) {
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	}
	return lua.LNil
}
