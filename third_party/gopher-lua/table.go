package lua

// This file is the project's (see PATCHES.md): LTable keeps an array part
// and a hash part the way Lua 5.1 does, so that removed keys are forgotten,
// sparse integer keys cost O(1) and next does not slow down with history.
//
// Array part: t[1..len(array)], holes hold LNil; it never ends in LNil.
// Hash part: slots in insertion order; a map from each key's identity to
// its slot. Removing a key clears its slot (key and value become garbage at
// once) but keeps the map entry, so next can go on from a removed key during
// a traversal. Dead slots are dropped, and integer keys moved between the
// two parts by Lua's rule, only when a new key is added ("rehash"), which is
// what keeps traversals valid while fields are cleared.

import (
	"math"
	"reflect"
	"unsafe"
)

const defaultArrayCap = 32
const defaultHashCap = 32

type lValueArraySorter struct {
	L      *LState
	Fn     *LFunction
	Values []LValue
}

func (lv lValueArraySorter) Len() int {
	return len(lv.Values)
}

func (lv lValueArraySorter) Swap(i, j int) {
	lv.Values[i], lv.Values[j] = lv.Values[j], lv.Values[i]
}

func (lv lValueArraySorter) Less(i, j int) bool {
	if lv.Fn != nil {
		lv.L.Push(lv.Fn)
		lv.L.Push(lv.Values[i])
		lv.L.Push(lv.Values[j])
		lv.L.Call(2, 1)
		return LVAsBool(lv.L.reg.Pop())
	}
	return lessThan(lv.L, lv.Values[i], lv.Values[j])
}

// hashKey is the identity of a non-string key: a number's bits, a boolean,
// or the address of a reference value. An address keeps nothing alive; the
// slot holds the key itself while it is live.
type hashKey struct {
	kind uint8
	bits uint64
}

const (
	keyNumber uint8 = iota + 1
	keyBool
	keyRef
)

// tableSlot is one hash part entry; value == nil (not LNil) marks it dead.
type tableSlot struct {
	key   LValue
	value LValue
}

func numberKey(n LNumber) hashKey {
	f := float64(n)
	if f == 0 {
		f = 0 // -0 and 0 are one key
	}
	return hashKey{kind: keyNumber, bits: math.Float64bits(f)}
}

// identity returns the hash identity of a non-string key; ok is false for
// keys no table can hold (nil, NaN).
func identity(key LValue) (hashKey, bool) {
	switch k := key.(type) {
	case LNumber:
		if k != k {
			return hashKey{}, false
		}
		return numberKey(k), true
	case LBool:
		if k {
			return hashKey{kind: keyBool, bits: 1}, true
		}
		return hashKey{kind: keyBool}, true
	case *LNilType, nil:
		return hashKey{}, false
	case *LTable:
		return refKey(unsafe.Pointer(k)), true
	case *LFunction:
		return refKey(unsafe.Pointer(k)), true
	case *LUserData:
		return refKey(unsafe.Pointer(k)), true
	case *LState:
		return refKey(unsafe.Pointer(k)), true
	case LChannel:
		return hashKey{kind: keyRef, bits: uint64(reflect.ValueOf(k).Pointer())}, true
	}
	// any other LValue: its interface data word (a pointer to it, or to a
	// boxed copy); the type switch above keeps the common keys from
	// escaping to the heap.
	return hashKey{kind: keyRef, bits: uint64((*[2]uintptr)(unsafe.Pointer(&key))[1])}, true
}

func refKey(p unsafe.Pointer) hashKey {
	return hashKey{kind: keyRef, bits: uint64(uintptr(p))}
}

// intKey reports whether n is an integer that the array part could hold.
func intKey(n LNumber) (int, bool) {
	f := float64(n)
	if f < 1 || f > maxIntKey {
		return 0, false
	}
	i := int(f)
	return i, float64(i) == f
}

// maxIntKey is 2^53: every integer up to it is exact in a float64.
const maxIntKey = 1 << 53

func newLTable(acap int, hcap int) *LTable {
	tb := &LTable{Metatable: LNil}
	if acap > 0 {
		tb.array = make([]LValue, 0, acap)
	}
	if hcap > 0 {
		tb.slots = make([]tableSlot, 0, hcap)
	}
	return tb
}

// Len returns a border of this LTable (Lua 5.1 §2.5.5) without using __len.
func (tb *LTable) Len() int {
	n := len(tb.array)
	if tb.intKeys == 0 {
		return n
	}
	// Like Lua's unbound search: double j while t[j] is set, then bisect.
	i, j := n, n+1
	for tb.hashGetInt(j) != LNil {
		i = j
		if j > maxIntKey/2 {
			for k := i + 1; tb.hashGetInt(k) != LNil; k++ {
				i = k
			}
			return i
		}
		j *= 2
	}
	for j-i > 1 {
		m := i + (j-i)/2
		if tb.RawGetInt(m) == LNil {
			j = m
		} else {
			i = m
		}
	}
	return i
}

// Append appends a given LValue to this LTable.
func (tb *LTable) Append(value LValue) {
	if value == LNil {
		return
	}
	tb.RawSetInt(tb.Len()+1, value)
}

// Insert inserts a given LValue at position `i` in this table, moving
// t[i..#t] up by one as table.insert does.
func (tb *LTable) Insert(i int, value LValue) {
	n := tb.Len()
	if i > n || i <= 0 {
		tb.RawSetInt(i, value)
		return
	}
	tb.firstArray = 0
	if n == len(tb.array) && value != LNil {
		tb.pushArray(LNil)
		copy(tb.array[i:], tb.array[i-1:])
		tb.array[i-1] = value
		tb.migrate()
		return
	}
	for j := n; j >= i; j-- {
		tb.RawSetInt(j+1, tb.RawGetInt(j))
	}
	tb.RawSetInt(i, value)
}

// MaxN returns the largest positive integer key with a non-nil value (the
// largest positive numerical index, as table.maxn).
func (tb *LTable) MaxN() int {
	maxn := len(tb.array)
	if tb.intKeys == 0 {
		return maxn
	}
	for i := range tb.slots {
		if n, ok := tb.slots[i].key.(LNumber); ok && tb.slotValue(i) != nil {
			if k, ok := intKey(n); ok && k > maxn {
				maxn = k
			}
		}
	}
	return maxn
}

// Remove removes from this table the element at a given position (the
// last one, #t, when pos <= 0) and moves the ones above it down.
func (tb *LTable) Remove(pos int) LValue {
	n := tb.Len()
	if n == 0 {
		return LNil
	}
	if pos <= 0 {
		pos = n
	}
	if pos > n {
		return LNil
	}
	old := tb.RawGetInt(pos)
	tb.firstArray = 0
	if n == len(tb.array) {
		copy(tb.array[pos-1:], tb.array[pos:])
		tb.setArray(n-1, LNil)
		return old
	}
	for j := pos; j < n; j++ {
		tb.RawSetInt(j, tb.RawGetInt(j+1))
	}
	tb.RawSetInt(n, LNil)
	return old
}

// RawSet sets a given LValue to a given index without the __newindex metamethod.
// It is recommended to use `RawSetString` or `RawSetInt` for performance
// if you already know the given LValue is a string or number.
func (tb *LTable) RawSet(key LValue, value LValue) {
	switch k := key.(type) {
	case LString:
		tb.RawSetString(string(k), value)
		return
	case LNumber:
		if i, ok := intKey(k); ok {
			tb.RawSetInt(i, value)
			return
		}
	}
	tb.RawSetH(key, value)
}

// RawSetInt sets a given LValue at a position `key` without the __newindex metamethod.
func (tb *LTable) RawSetInt(key int, value LValue) {
	if i := key - 1; uint(i) < uint(len(tb.array)) {
		// setArray, written out: this is the hottest path
		tb.array[i] = value
		if !isNil(value) {
			if i < int(tb.firstArray) {
				tb.firstArray = int32(i)
			}
		} else if i == len(tb.array)-1 {
			tb.trimArray()
		}
		return
	}
	// The common append: room in the array part, nothing to bring over
	// from the hash part.
	if key == len(tb.array)+1 && len(tb.array) < cap(tb.array) && tb.intKeys == 0 && tb.weak == 0 && !isNil(value) {
		tb.array = append(tb.array, value)
		return
	}
	tb.rawSetIntSlow(key, value)
}

func (tb *LTable) rawSetIntSlow(key int, value LValue) {
	if key == len(tb.array)+1 && value != LNil && tb.weak == 0 {
		// Growing the array part is where Lua would rehash: an array that
		// is mostly nil (a queue popped from the front) gets Lua's size
		// first, so its live keys move to the hash part and it stays small.
		if len(tb.array) == cap(tb.array) && tb.arrayMostlyNil() {
			tb.resizeArray()
			tb.fitArrayCap()
			if key <= len(tb.array) {
				tb.setArray(key-1, value)
				return
			}
		}
		if key == len(tb.array)+1 {
			if int(tb.firstArray) > len(tb.array) {
				tb.firstArray = int32(len(tb.array))
			}
			tb.pushArray(value)
			tb.migrate()
			return
		}
	}
	if key < 1 || key > maxIntKey {
		tb.RawSetH(LNumber(key), value)
		return
	}
	id := numberKey(LNumber(key))
	if idx, ok := tb.objs[id]; ok && value != LNil && tb.weak == 0 {
		if s := &tb.slots[idx]; s.value != nil {
			s.value = value // the common case, without boxing the key
			return
		}
	}
	tb.setSlot(id, LNumber(key), value, true)
}

// setArray stores array[i] (i < len(array)); the part never ends in LNil.
func (tb *LTable) setArray(i int, value LValue) {
	tb.array[i] = value
	if !isNil(value) {
		if i < int(tb.firstArray) {
			tb.firstArray = int32(i)
		}
	} else if i == len(tb.array)-1 {
		tb.trimArray()
	}
}

// isNil is value == LNil without the call an interface comparison makes.
func isNil(value LValue) bool {
	_, ok := value.(*LNilType)
	return ok
}

// trimArray cuts the nils off the end of the array part.
func (tb *LTable) trimArray() {
	n := len(tb.array) - 1
	for n > 0 && isNil(tb.array[n-1]) {
		n--
	}
	// Reslicing is enough: the cut slots hold LNil, so they keep nothing
	// alive, and appending again reuses them.
	tb.array = tb.array[:n]
	if int(tb.firstArray) > n {
		tb.firstArray = int32(n)
	}
	// A mostly dead array gives its memory back, rarely enough that
	// clearing from the end allocates about 1/16 of what it frees; an
	// emptied one is dropped.
	if c := cap(tb.array); (c > 256 && n < c>>6) || (n == 0 && c > defaultArrayCap) {
		tb.setArrayCap(4 * n)
	}
}

// setArrayCap moves the array part to a backing array of capacity c (none
// when it is empty).
func (tb *LTable) setArrayCap(c int) {
	if len(tb.array) == 0 {
		tb.array = nil
		return
	}
	tb.array = append(make([]LValue, 0, c), tb.array...)
}

// fitArrayCap shrinks the array part's capacity, at a rehash, when less
// than a quarter of it is in use.
func (tb *LTable) fitArrayCap() {
	if n, c := len(tb.array), cap(tb.array); c > defaultArrayCap && n < c/4 {
		tb.setArrayCap(n + n/4)
	}
}

// arrayMostlyNil reports whether less than half of the array part is set,
// stopping as soon as it knows.
func (tb *LTable) arrayMostlyNil() bool {
	n := len(tb.array)
	if n < 8 {
		return false
	}
	used, unused := 0, 0
	for _, v := range tb.array {
		if v == LNil {
			if unused++; unused*2 > n {
				return true
			}
		} else if used++; used*2 >= n {
			return false
		}
	}
	return false
}

// RawSetString sets a given LValue to a given string index without the __newindex metamethod.
func (tb *LTable) RawSetString(key string, value LValue) {
	if idx, ok := tb.strs[key]; ok {
		if s := &tb.slots[idx]; s.value != nil && value != LNil && tb.weak == 0 {
			s.value = value // the common case, without boxing the key
			return
		}
		if tb.updateSlot(idx, LString(key), value) {
			return
		}
	}
	if value == LNil {
		return
	}
	if len(tb.slots) == cap(tb.slots) {
		tb.rehash()
	}
	if tb.strs == nil {
		tb.strs = make(map[string]int32, cap(tb.slots)-len(tb.slots))
	}
	tb.strs[key] = int32(len(tb.slots))
	tb.appendSlot(LString(key), value)
}

// RawSetH sets a given LValue to a given index without the __newindex metamethod.
func (tb *LTable) RawSetH(key LValue, value LValue) {
	if s, ok := key.(LString); ok {
		tb.RawSetString(string(s), value)
		return
	}
	if n, ok := key.(LNumber); ok {
		if i, ok := intKey(n); ok {
			tb.RawSetInt(i, value) // integer keys live where RawGetInt looks
			return
		}
	}
	if id, ok := identity(key); ok {
		tb.setSlot(id, key, value, false)
	}
}

func (tb *LTable) setSlot(id hashKey, key LValue, value LValue, isInt bool) {
	if idx, ok := tb.objs[id]; ok {
		if tb.updateSlot(idx, key, value) {
			return
		}
	}
	if value == LNil {
		return
	}
	if len(tb.slots) == cap(tb.slots) {
		tb.rehash()
		if isInt && tb.weak == 0 {
			// the rehash may have grown the array part over this key
			if k, _ := intKey(key.(LNumber)); k <= len(tb.array)+1 {
				tb.RawSetInt(k, value)
				return
			}
		}
	}
	if tb.objs == nil {
		tb.objs = make(map[hashKey]int32, cap(tb.slots)-len(tb.slots))
	}
	tb.objs[id] = int32(len(tb.slots))
	if isInt {
		tb.intKeys++
	}
	tb.appendSlot(key, value)
}

// updateSlot sets the value of the slot a key's map entry names and reports
// whether it did; a dead slot with that identity is brought back to life,
// which is not a rehash (no slot moves).
func (tb *LTable) updateSlot(idx int32, key LValue, value LValue) bool {
	s := &tb.slots[idx]
	if tb.slotValue(int(idx)) == nil {
		if value == LNil {
			return true
		}
		if s.value != nil { // a weak entry whose object died: forget it first
			tb.killSlot(idx)
		}
		if idx < tb.firstSlot {
			tb.firstSlot = idx
		}
		tb.storeSlot(s, key, value)
		return true
	}
	if value == LNil {
		tb.killSlot(idx)
		return true
	}
	if tb.weak != 0 {
		tb.storeSlot(s, key, value)
	} else {
		s.value = value
	}
	return true
}

func (tb *LTable) appendSlot(key LValue, value LValue) {
	tb.slots = append(tb.slots, tableSlot{})
	tb.storeSlot(&tb.slots[len(tb.slots)-1], key, value)
}

func (tb *LTable) killSlot(idx int32) {
	s := &tb.slots[idx]
	s.key, s.value = nil, nil
}

// slotValue returns slot i's value, nil when the slot is dead (or, in a
// weak table, when its weak key or value has been collected).
func (tb *LTable) slotValue(i int) LValue {
	v := tb.slots[i].value
	if tb.weak != 0 && v != nil {
		return tb.weakValue(i)
	}
	return v
}

// migrate moves t[#array+1], t[#array+2], ... from the hash part to the end
// of the array part, so the hash part never holds key len(array)+1.
func (tb *LTable) migrate() {
	for tb.intKeys > 0 {
		n := len(tb.array) + 1
		idx, ok := tb.objs[numberKey(LNumber(n))]
		if !ok {
			return
		}
		v := tb.slotValue(int(idx))
		if v == nil {
			return
		}
		tb.pushArray(v)
	}
}

// pushArray appends v as t[len(array)+1], dropping that key's hash entry,
// live or dead: a key the array part covers has no place in the hash part.
func (tb *LTable) pushArray(v LValue) {
	if tb.intKeys > 0 {
		id := numberKey(LNumber(len(tb.array) + 1))
		if idx, ok := tb.objs[id]; ok {
			if tb.slots[idx].value != nil {
				tb.killSlot(idx)
			}
			delete(tb.objs, id)
			tb.intKeys--
		}
	}
	tb.array = append(tb.array, v)
}

// rehash runs when a new key needs a slot and the hash part is full: it
// resizes the array part by Lua's rule and drops dead slots.
func (tb *LTable) rehash() {
	if tb.weak != 0 {
		tb.sweepWeak()
	}
	if tb.weak == 0 && (tb.intKeys > 0 || tb.arrayMostlyNil()) {
		tb.resizeArray()
	}
	tb.fitArrayCap()
	// Growing without dead slots keeps the maps: append grows the slots.
	// Counting here, not on every write, keeps LTable small; a rehash
	// comes once per doubling or per compaction, so this is amortized O(1).
	live := tb.liveSlots()
	if dead := len(tb.slots) - live; dead > 0 && dead*4 >= len(tb.slots) {
		tb.compact(max(2*live, 4))
	}
}

// liveSlots counts the hash part's live entries.
func (tb *LTable) liveSlots() int {
	live := 0
	for i := range tb.slots {
		if tb.slotValue(i) != nil {
			live++
		}
	}
	return live
}

func (tb *LTable) arrayUsed() int {
	used := 0
	for _, v := range tb.array {
		if v != LNil {
			used++
		}
	}
	return used
}

// resizeArray gives the array part Lua's size: the largest power of two n
// such that more than n/2 of the keys 1..n are set. Keys above n that the
// array part holds go to the hash part, keys up to n in the hash part move
// to the array part.
func (tb *LTable) resizeArray() {
	var counts [64]int // counts[b]: set keys k with 2^(b-1) < k <= 2^b
	total := 0
	for i, v := range tb.array {
		if v != LNil {
			counts[ceilLog2(i+1)]++
			total++
		}
	}
	for i := range tb.slots {
		if n, ok := tb.slots[i].key.(LNumber); ok && tb.slotValue(i) != nil {
			if k, ok := intKey(n); ok {
				counts[ceilLog2(k)]++
				total++
			}
		}
	}
	best, sum := 0, 0
	for b := 0; b < 64 && sum < total; b++ {
		sum += counts[b]
		if sum > (1<<b)/2 {
			best = 1 << b
		}
	}
	if best < len(tb.array) {
		// In place: the cut part is cleared and resliced away; the
		// caller's fitArrayCap gives back the capacity if it is now mostly
		// unused.
		for i := best; i < len(tb.array); i++ {
			if v := tb.array[i]; v != LNil {
				tb.placeInHash(i+1, v)
				tb.array[i] = LNil
			}
		}
		n := best
		for n > 0 && tb.array[n-1] == LNil {
			n--
		}
		tb.array = tb.array[:n]
	}
	if best > len(tb.array) && tb.intKeys > 0 {
		top := len(tb.array)
		for i := range tb.slots {
			if n, ok := tb.slots[i].key.(LNumber); ok {
				if k, ok := intKey(n); ok && k <= best && tb.slotValue(i) != nil && k > top {
					top = k
				}
			}
		}
		for len(tb.array) < top {
			tb.array = append(tb.array, LNil)
		}
		// Every hash entry the array part now covers goes, dead ones too:
		// next must not find a place in the hash part for an array key.
		for id, idx := range tb.objs {
			if id.kind != keyNumber {
				continue
			}
			k, ok := intKey(LNumber(math.Float64frombits(id.bits)))
			if !ok || k > top {
				continue
			}
			if v := tb.slotValue(int(idx)); v != nil {
				tb.array[k-1] = v
				tb.killSlot(idx)
			}
			delete(tb.objs, id)
			tb.intKeys--
		}
	}
	tb.firstArray = 0
	tb.migrate()
}

// placeInHash appends t[k] = v to the hash part during a rehash.
func (tb *LTable) placeInHash(k int, v LValue) {
	if tb.objs == nil {
		tb.objs = make(map[hashKey]int32)
	}
	id := numberKey(LNumber(k))
	if idx, ok := tb.objs[id]; ok && tb.slots[idx].value == nil {
		tb.storeSlot(&tb.slots[idx], LNumber(k), v)
		return
	}
	tb.objs[id] = int32(len(tb.slots))
	tb.intKeys++
	tb.appendSlot(LNumber(k), v)
}

func ceilLog2(k int) int {
	b := 0
	for (1 << b) < k {
		b++
	}
	return b
}

// compact leaves the hash part with only its live slots, in their order,
// and room for about size slots: in place when the slots it has are enough
// and not more than four times that, else in new ones.
func (tb *LTable) compact(size int) {
	if c := cap(tb.slots); c < size || c > 4*size {
		tb.compactInto(size)
		return
	}
	for k, idx := range tb.strs {
		if tb.slotValue(int(idx)) == nil {
			delete(tb.strs, k)
		}
	}
	for id, idx := range tb.objs {
		if tb.slotValue(int(idx)) == nil {
			delete(tb.objs, id)
		}
	}
	j, intKeys := 0, int32(0)
	for i := range tb.slots {
		key, value := tb.entry(i)
		if value == nil {
			continue
		}
		tb.slots[j] = tb.slots[i]
		switch k := key.(type) {
		case LString:
			tb.strs[string(k)] = int32(j)
		default:
			id, _ := identity(k)
			tb.objs[id] = int32(j)
			if n, ok := k.(LNumber); ok {
				if _, isInt := intKey(n); isInt {
					intKeys++
				}
			}
		}
		j++
	}
	clear(tb.slots[j:])
	tb.slots = tb.slots[:j]
	tb.intKeys, tb.firstSlot = intKeys, 0
}

// compactInto rebuilds the hash part with only its live slots, in their
// order, in new storage with room for size slots.
func (tb *LTable) compactInto(size int) {
	slots := make([]tableSlot, 0, size)
	var strs map[string]int32
	var objs map[hashKey]int32
	intKeys := int32(0)
	for i := range tb.slots {
		key, value := tb.entry(i)
		if value == nil {
			continue
		}
		s := tb.slots[i]
		switch k := key.(type) {
		case LString:
			if strs == nil {
				strs = make(map[string]int32, size)
			}
			strs[string(k)] = int32(len(slots))
		default:
			if objs == nil {
				objs = make(map[hashKey]int32, size)
			}
			id, _ := identity(k)
			objs[id] = int32(len(slots))
			if n, ok := k.(LNumber); ok {
				if _, isInt := intKey(n); isInt {
					intKeys++
				}
			}
		}
		slots = append(slots, s)
	}
	tb.slots, tb.strs, tb.objs = slots, strs, objs
	tb.intKeys, tb.firstSlot = intKeys, 0
}

// RawGet returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGet(key LValue) LValue {
	switch k := key.(type) {
	case LString:
		return tb.RawGetString(string(k))
	case LNumber:
		if i, ok := intKey(k); ok {
			if uint(i-1) < uint(len(tb.array)) {
				return tb.array[i-1]
			}
			return tb.RawGetInt(i)
		}
	}
	return tb.RawGetH(key)
}

// RawGetInt returns an LValue at position `key` without __index metamethod.
func (tb *LTable) RawGetInt(key int) LValue {
	if uint(key-1) < uint(len(tb.array)) {
		return tb.array[key-1]
	}
	if tb.intKeys == 0 {
		return LNil
	}
	return tb.hashGetInt(key)
}

func (tb *LTable) hashGetInt(key int) LValue {
	if idx, ok := tb.objs[numberKey(LNumber(key))]; ok {
		if v := tb.slotValue(int(idx)); v != nil {
			return v
		}
	}
	return LNil
}

// RawGetH returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGetH(key LValue) LValue {
	if s, ok := key.(LString); ok {
		return tb.RawGetString(string(s))
	}
	if n, ok := key.(LNumber); ok {
		if i, ok := intKey(n); ok {
			return tb.RawGetInt(i)
		}
	}
	if tb.objs == nil {
		return LNil
	}
	id, ok := identity(key)
	if !ok {
		return LNil
	}
	if idx, ok := tb.objs[id]; ok {
		if v := tb.slotValue(int(idx)); v != nil {
			return v
		}
	}
	return LNil
}

// RawGetString returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGetString(key string) LValue {
	if idx, ok := tb.strs[key]; ok {
		if v := tb.slotValue(int(idx)); v != nil {
			return v
		}
	}
	return LNil
}

// ForEach iterates over this table of elements, yielding each in turn to a given function.
func (tb *LTable) ForEach(cb func(LValue, LValue)) {
	for i := 0; i < len(tb.array); i++ {
		if v := tb.array[i]; v != LNil {
			cb(LNumber(i+1), v)
		}
	}
	for i := 0; i < len(tb.slots); i++ {
		if k, v := tb.entry(i); v != nil {
			cb(k, v)
		}
	}
}

// This function is equivalent to lua_next ( http://www.lua.org/manual/5.1/manual.html#lua_next ).
// The fields of a table may be cleared during a traversal; the traversal
// then still visits every remaining key exactly once.
func (tb *LTable) Next(key LValue) (LValue, LValue) {
	ai, si := 0, 0 // where to resume in the array part, in the hash part
	if key == LNil {
		ai, si = int(tb.firstArray), int(tb.firstSlot)
	} else {
		pos, ok := tb.position(key)
		if !ok {
			return LNil, LNil
		}
		ai, si = pos+1, pos+1-len(tb.array)
		if si < 0 {
			si = 0
		}
	}
	for ; ai < len(tb.array); ai++ {
		if v := tb.array[ai]; v != LNil {
			if key == LNil {
				tb.firstArray = int32(ai)
			}
			return LNumber(ai + 1), v
		}
	}
	if key == LNil {
		tb.firstArray = int32(len(tb.array))
	}
	for ; si < len(tb.slots); si++ {
		if k, v := tb.entry(si); v != nil {
			if key == LNil {
				tb.firstSlot = int32(si)
			}
			return k, v
		}
	}
	if key == LNil {
		tb.firstSlot = int32(len(tb.slots))
	}
	return LNil, LNil
}

// position returns key's place in traversal order: i for array[i],
// len(array)+j for slot j. A key cleared during the traversal keeps its
// place: its slot's map entry stays until a rehash, and an integer key past
// the end of the array part was cut off with the nils at the array's end.
func (tb *LTable) position(key LValue) (int, bool) {
	switch k := key.(type) {
	case LString:
		idx, ok := tb.strs[string(k)]
		return len(tb.array) + int(idx), ok
	case LNumber:
		if i, ok := intKey(k); ok && i <= len(tb.array) {
			return i - 1, true
		}
	}
	id, ok := identity(key)
	if !ok {
		return 0, false
	}
	if idx, ok := tb.objs[id]; ok {
		return len(tb.array) + int(idx), true
	}
	if n, ok := key.(LNumber); ok {
		if _, ok := intKey(n); ok {
			return len(tb.array) - 1, true
		}
	}
	return 0, false
}

// sortable returns t[1..#t] as a slice that sorting may reorder in place,
// and a function that stores it back when it is a copy.
func (tb *LTable) sortable() ([]LValue, func()) {
	n := tb.Len()
	if n <= len(tb.array) {
		return tb.array[:n], func() {}
	}
	values := make([]LValue, n)
	for i := range values {
		values[i] = tb.RawGetInt(i + 1)
	}
	return values, func() {
		for i, v := range values {
			tb.RawSetInt(i+1, v)
		}
	}
}
