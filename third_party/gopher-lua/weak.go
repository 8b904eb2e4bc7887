//go:build go1.24

package lua

// This file is the project's (see PATCHES.md): weak tables (Lua 5.1
// §2.10.2). A table whose metatable has __mode "k", "v" or "kv" holds its
// collectable keys or values (tables, functions, userdata, threads) through
// weak pointers. An entry whose weak key or value has been collected reads
// as absent at once: lookups, next and # skip it as soon as the collector
// has cleared the pointer, which runtime.GC (collectgarbage "collect")
// guarantees before it returns. The slot itself is reclaimed later, on the
// Lua goroutine: a runtime.AddCleanup callback, which runs on another
// goroutine, only counts the deaths in an atomic counter that the table
// reads at its next rehash.

import (
	"runtime"
	"strings"
	"sync/atomic"
	"weak"
)

const (
	weakKeys uint8 = 1 << iota
	weakValues
)

// weakDeaths counts collected objects that were in some weak table. The
// cleanups that add to it run on the runtime's cleanup goroutine, so it is
// all they touch; a weak table frees its dead slots at its next rehash, on
// the goroutine that owns it, when the count says something died.
var weakDeaths atomic.Int64

// weakBox stands in a weak table's slot for a collectable key or value.
type weakBox struct {
	tbl weak.Pointer[LTable]
	fn  weak.Pointer[LFunction]
	ud  weak.Pointer[LUserData]
	th  weak.Pointer[LState]
}

func (wb *weakBox) String() string   { return "weak reference" }
func (wb *weakBox) Type() LValueType { return LTNil }

// target returns the boxed object, nil once it has been collected.
func (wb *weakBox) target() LValue {
	if p := wb.tbl.Value(); p != nil {
		return p
	}
	if p := wb.fn.Value(); p != nil {
		return p
	}
	if p := wb.ud.Value(); p != nil {
		return p
	}
	if p := wb.th.Value(); p != nil {
		return p
	}
	return nil
}

func countDeath(deaths *atomic.Int64) { deaths.Add(1) }

// boxWeak returns v as a weakBox when v is collectable, else v itself.
func boxWeak(v LValue) LValue {
	switch o := v.(type) {
	case *LTable:
		runtime.AddCleanup(o, countDeath, &weakDeaths)
		return &weakBox{tbl: weak.Make(o)}
	case *LFunction:
		runtime.AddCleanup(o, countDeath, &weakDeaths)
		return &weakBox{fn: weak.Make(o)}
	case *LUserData:
		runtime.AddCleanup(o, countDeath, &weakDeaths)
		return &weakBox{ud: weak.Make(o)}
	case *LState:
		runtime.AddCleanup(o, countDeath, &weakDeaths)
		return &weakBox{th: weak.Make(o)}
	}
	return v
}

// unboxWeak returns what a slot field stands for: nil for a collected object.
func unboxWeak(v LValue) LValue {
	if wb, ok := v.(*weakBox); ok {
		return wb.target()
	}
	return v
}

// storeSlot writes a live entry into s, through weak boxes in a weak table.
func (tb *LTable) storeSlot(s *tableSlot, key LValue, value LValue) {
	if tb.weak == 0 {
		s.key, s.value = key, value
		return
	}
	if tb.weak&weakKeys != 0 {
		if _, boxed := s.key.(*weakBox); !boxed || unboxWeak(s.key) != key {
			key = boxWeak(key)
		} else {
			key = s.key
		}
	}
	if tb.weak&weakValues != 0 {
		value = boxWeak(value)
	}
	s.key, s.value = key, value
}

// weakEntry returns slot i's key and value, nils when the slot is dead or
// its weak key or value is gone.
func (tb *LTable) weakEntry(i int) (LValue, LValue) {
	s := &tb.slots[i]
	if s.value == nil {
		return nil, nil
	}
	k, v := unboxWeak(s.key), unboxWeak(s.value)
	if k == nil || v == nil {
		return nil, nil
	}
	return k, v
}

func (tb *LTable) weakValue(i int) LValue {
	_, v := tb.weakEntry(i)
	return v
}

// sweepWeak frees the slots of entries whose weak key or value is gone.
func (tb *LTable) sweepWeak() {
	if weakDeaths.Load() == 0 {
		return
	}
	for i := range tb.slots {
		if tb.slots[i].value != nil && tb.weakValue(i) == nil {
			tb.killSlot(int32(i))
		}
	}
}

// setMode makes the table weak as its metatable's __mode says (or strong
// again when the metatable has none), converting the entries it holds.
func (tb *LTable) setMode(mt LValue) {
	mode := uint8(0)
	if m, ok := mt.(*LTable); ok {
		if s, ok := m.RawGetString("__mode").(LString); ok {
			if strings.Contains(string(s), "k") {
				mode |= weakKeys
			}
			if strings.Contains(string(s), "v") {
				mode |= weakValues
			}
		}
	}
	if tb.weak == mode {
		return
	}
	type entry struct{ k, v LValue }
	var live []entry
	for i := range tb.slots {
		if k, v := tb.entry(i); v != nil {
			live = append(live, entry{k, v})
		}
	}
	for i, v := range tb.array {
		if v != LNil && mode != 0 {
			live = append(live, entry{LNumber(i + 1), v})
		}
	}
	if mode != 0 {
		tb.array = nil // a weak table keeps everything in its hash part
	}
	tb.weak = mode
	tb.slots, tb.strs, tb.objs = nil, nil, nil
	tb.intKeys, tb.firstSlot, tb.firstArray = 0, 0, 0
	for _, e := range live {
		tb.RawSet(e.k, e.v)
	}
}

// entry returns slot i's key and value, nils when the slot is dead.
func (tb *LTable) entry(i int) (LValue, LValue) {
	if tb.weak != 0 {
		return tb.weakEntry(i)
	}
	s := &tb.slots[i]
	return s.key, s.value
}
