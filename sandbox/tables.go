package sandbox

import lua "github.com/yuin/gopher-lua"

// installTableCompact adds table.compact(t), a no-op kept for scripts
// written when the runtime's tables never forgot a removed key: the
// vendored runtime's tables (third_party/gopher-lua/table.go) drop removed
// keys and shrink by themselves.
func installTableCompact(L *lua.LState) {
	tbl := L.GetGlobal("table").(*lua.LTable)
	tbl.RawSetString("compact", L.NewFunction(tableCompact))
}

func tableCompact(L *lua.LState) int {
	L.Push(L.CheckTable(1))
	return 1
}
