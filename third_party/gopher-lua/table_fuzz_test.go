package lua

// The project's (PATCHES.md): random operations on one LTable checked
// against a plain Go map.

import (
	"fmt"
	"math"
	"testing"
)

var fuzzTableObjs = []*LTable{newLTable(0, 0), newLTable(0, 0), newLTable(0, 0)}

// fuzzKey maps a byte to a key: mostly small integers (the array part),
// then sparse and float numbers, strings, booleans and tables.
func fuzzKey(b byte) LValue {
	switch {
	case b < 100:
		return LNumber(b%48 + 1)
	case b < 110:
		return []LValue{LNumber(0), LNumber(-3), LNumber(1 << 53), LNumber(1e6), LNumber(2.5),
			LNumber(-0.5), LNumber(1<<26 + 1), LNumber(65), LNumber(128), LNumber(1e300)}[b-100]
	case b < 200:
		return LString(fmt.Sprintf("k%d", b%24))
	case b < 240:
		return fuzzTableObjs[int(b)%len(fuzzTableObjs)]
	}
	return LBool(b%2 == 0)
}

type fuzzModel map[LValue]LValue

func (m fuzzModel) set(k LValue, v LValue) {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
}

func modelKey(k LValue) LValue {
	if n, ok := k.(LNumber); ok && n == 0 {
		return LNumber(0) // -0
	}
	return k
}

func checkBorder(t *testing.T, tb *LTable, m fuzzModel) int {
	n := tb.Len()
	if n < 0 || (n > 0 && m[LNumber(n)] == nil) || m[LNumber(n+1)] != nil {
		t.Fatalf("#t = %d is not a border", n)
	}
	return n
}

func checkTraversal(t *testing.T, tb *LTable, m fuzzModel, clearEvery int) {
	seen := map[LValue]bool{}
	i := 0
	for k, v := tb.Next(LNil); k != LNil; k, v = tb.Next(k) {
		if seen[k] {
			t.Fatalf("next visited %v twice", k)
		}
		seen[k] = true
		if m[modelKey(k)] != v {
			t.Fatalf("next gave %v = %v, model has %v", k, v, m[modelKey(k)])
		}
		i++
		if clearEvery > 0 && i%clearEvery == 0 {
			tb.RawSet(k, LNil)
			delete(m, modelKey(k))
		}
	}
	for k := range m {
		if !seen[k] {
			t.Fatalf("next never visited %v", k)
		}
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 2, 2, 0, 3, 3, 4, 0, 5, 0, 6, 1})
	f.Add([]byte{0, 105, 1, 0, 150, 2, 0, 200, 3, 1, 105, 5, 0, 6, 2, 7, 0})
	f.Add([]byte{0, 47, 1, 0, 46, 1, 0, 45, 1, 0, 0, 1, 8, 0, 2, 0, 9, 3})
	// a queue that runs past the array part, traversed while popping
	f.Add([]byte{10, 15, 1, 10, 15, 2, 11, 12, 0, 10, 15, 3, 11, 15, 0, 6, 0, 2,
		10, 15, 4, 11, 15, 0, 150, 1, 1, 10, 15, 5, 6, 0, 1, 11, 3, 0, 5, 0, 0})
	// an array cleared from the end, then a hash key (a rehash)
	f.Add([]byte{10, 15, 1, 10, 15, 1, 10, 15, 1, 3, 47, 0, 3, 46, 0, 3, 45, 0,
		8, 0, 0, 0, 150, 1, 5, 0, 0, 6, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tb := newLTable(0, 0)
		m := fuzzModel{}
		head, tail := 1, 1 // a FIFO queue on keys head..tail-1
		for i := 0; i+2 < len(ops); i += 3 {
			op, key, val := ops[i]%12, fuzzKey(ops[i+1]), LNumber(ops[i+2])
			switch op {
			case 0, 1, 2: // set
				tb.RawSet(key, val)
				m[modelKey(key)] = val
			case 3: // delete
				tb.RawSet(key, LNil)
				delete(m, modelKey(key))
			case 4: // get
				want := m[modelKey(key)]
				if want == nil {
					want = LNil
				}
				if got := tb.RawGet(key); got != want {
					t.Fatalf("t[%v] = %v, model %v", key, got, want)
				}
			case 5: // len
				checkBorder(t, tb, m)
			case 6: // next, clearing every k-th key on the way
				checkTraversal(t, tb, m, int(ops[i+2]%4))
			case 7: // insert at a position in 1..#t+1
				n := checkBorder(t, tb, m)
				pos := int(ops[i+1])%(n+1) + 1
				tb.Insert(pos, val)
				for j := n; j >= pos; j-- {
					m.set(LNumber(j+1), m[LNumber(j)])
				}
				m[LNumber(pos)] = val
			case 8: // remove
				n := checkBorder(t, tb, m)
				if n == 0 {
					break
				}
				pos := int(ops[i+1])%n + 1
				want := m[LNumber(pos)]
				if want == nil {
					want = LNil
				}
				if got := tb.Remove(pos); got != want {
					t.Fatalf("remove(%d) = %v, model %v", pos, got, want)
				}
				for j := pos; j < n; j++ {
					m.set(LNumber(j), m[LNumber(j+1)])
				}
				delete(m, LNumber(n))
			case 9: // append
				n := checkBorder(t, tb, m)
				tb.Append(val)
				m[LNumber(n+1)] = val
			case 10: // queue: push up to 16 items at the tail, 64 live at most
				for j := 0; j <= int(ops[i+1]%16) && tail-head < 64; j++ {
					tb.RawSetInt(tail, val)
					m[LNumber(tail)] = val
					tail++
				}
			case 11: // queue: pop up to 16 items at the head
				for j := 0; j <= int(ops[i+1]%16) && head < tail; j++ {
					tb.RawSetInt(head, LNil)
					delete(m, LNumber(head))
					head++
				}
			}
			checkParts(t, tb)
		}
		checkTraversal(t, tb, m, 0)
		for k, v := range m {
			if got := tb.RawGet(k); got != v {
				t.Fatalf("t[%v] = %v at the end, model %v", k, got, v)
			}
		}
		// the counts the rehash works from match what the table holds
		if held := tb.arrayUsed() + tb.liveSlots(); held != len(m) {
			t.Fatalf("array and live slots hold %d entries, model %d", held, len(m))
		}
		checkParts(t, tb)
	})
}

// checkParts checks the invariants the table's code relies on: the array
// part does not end in nil, intKeys counts the hash map's integer keys,
// every map entry names a slot, and no live slot holds a key the array
// part covers.
func checkParts(t *testing.T, tb *LTable) {
	if n := len(tb.array); n > 0 && tb.array[n-1] == LNil {
		t.Fatalf("the array part (length %d) ends in nil", n)
	}
	ints := int32(0)
	for id, idx := range tb.objs {
		if int(idx) >= len(tb.slots) {
			t.Fatalf("map entry %v names slot %d of %d", id, idx, len(tb.slots))
		}
		if id.kind == keyNumber {
			if k, ok := intKey(LNumber(math.Float64frombits(id.bits))); ok {
				ints++
				if k <= len(tb.array) {
					t.Fatalf("the hash part has an entry for t[%d], inside the array part", k)
				}
			}
		}
	}
	for _, idx := range tb.strs {
		if int(idx) >= len(tb.slots) {
			t.Fatalf("string map entry names slot %d of %d", idx, len(tb.slots))
		}
	}
	if ints != tb.intKeys {
		t.Fatalf("intKeys is %d, the map has %d integer keys", tb.intKeys, ints)
	}
	if int(tb.firstArray) > len(tb.array) {
		t.Fatalf("firstArray %d past the array part's length %d", tb.firstArray, len(tb.array))
	}
}
