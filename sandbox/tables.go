package sandbox

import lua "github.com/yuin/gopher-lua"

// installTableCompact adds table.compact(t). gopher-lua 1.1.2 never drops
// a hash key from a table's iteration list once set, even after t[k] = nil,
// so a table whose keys churn (a set of connection instances) keeps every
// key it ever held, with all it references. compact rebuilds t's storage
// from its live entries in place: the same table, same metatable, the dead
// keys gone.
func installTableCompact(L *lua.LState) {
	tbl := L.GetGlobal("table").(*lua.LTable)
	tbl.RawSetString("compact", L.NewFunction(tableCompact))
}

func tableCompact(L *lua.LState) int {
	t := L.CheckTable(1)
	strs := 0 // sizes the string-key map: gopher-lua makes 32 slots otherwise
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		if _, ok := k.(lua.LString); ok {
			strs++
		}
	}
	fresh := L.CreateTable(0, strs)
	// In next's order, so a traversal whose current key is still in the
	// table goes on where it was.
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		fresh.RawSet(k, v)
	}
	fresh.Metatable = t.Metatable
	*t = *fresh
	L.Push(t)
	return 1
}
