package lua

// The project's (PATCHES.md): the sizes of LTable's parts under the
// patterns that used to make them grow or reallocate.

import (
	"testing"
)

// A FIFO queue (push at the tail, pop at the head) with few live items
// keeps both parts small however many items went through it.
func TestTableQueueStaysSmall(t *testing.T) {
	tb := newLTable(0, 0)
	head, tail := 1, 1
	for i := 0; i < 1000000; i++ {
		tb.RawSetInt(tail, LNumber(tail))
		tail++
		if tail-head > 10 {
			if got := tb.RawGetInt(head); got != LNumber(head) {
				t.Fatalf("q[%d] = %v", head, got)
			}
			tb.RawSetInt(head, LNil)
			head++
		}
	}
	if c := cap(tb.array); c > 64 {
		t.Errorf("array part capacity %d with %d live items", c, tail-head)
	}
	if c := cap(tb.slots); c > 64 {
		t.Errorf("hash part capacity %d with %d live items", c, tail-head)
	}
	if n := len(tb.objs); n > 64 {
		t.Errorf("hash part map holds %d keys with %d live items", n, tail-head)
	}
	for k := head; k < tail; k++ {
		if got := tb.RawGetInt(k); got != LNumber(k) {
			t.Fatalf("q[%d] = %v at the end", k, got)
		}
	}
	if got := tb.RawGetInt(head - 1); got != LNil {
		t.Fatalf("popped q[%d] = %v", head-1, got)
	}
}

// The same queue through the VM, as a script writes it.
func TestTableQueueStaysSmallLua(t *testing.T) {
	L := NewState()
	defer L.Close()
	if err := L.DoString(`
q, head, tail = {}, 1, 1
for i = 1, 200000 do
  q[tail] = i tail = tail + 1
  if tail - head > 10 then assert(q[head] == head) q[head] = nil head = head + 1 end
end`); err != nil {
		t.Fatal(err)
	}
	tb := L.GetGlobal("q").(*LTable)
	if ca, cs := cap(tb.array), cap(tb.slots); ca > 64 || cs > 64 {
		t.Errorf("queue of 10 items: array capacity %d, hash capacity %d", ca, cs)
	}
}

// An array mostly cleared from the front keeps its size until a new key
// needs the hash part; that rehash gives it Lua's size and frees the rest.
func TestTableArrayShrinksOnRehash(t *testing.T) {
	const n = 100000
	tb := newLTable(0, 0)
	for i := 1; i <= n; i++ {
		tb.RawSetInt(i, LNumber(i))
	}
	for i := 1; i <= n-10; i++ {
		tb.RawSetInt(i, LNil)
	}
	if len(tb.array) != n {
		t.Fatalf("array part length %d before the rehash, want %d", len(tb.array), n)
	}
	tb.RawSetString("new", LTrue)
	if c := cap(tb.array); c > 64 {
		t.Errorf("array part capacity %d after the rehash, 10 keys live", c)
	}
	for i := n - 9; i <= n; i++ {
		if got := tb.RawGetInt(i); got != LNumber(i) {
			t.Fatalf("t[%d] = %v after the rehash", i, got)
		}
	}
	if got := tb.RawGetInt(n - 10); got != LNil {
		t.Fatalf("t[%d] = %v after the rehash", n-10, got)
	}
	if got, want := tb.MaxN(), n; got != want {
		t.Errorf("maxn %d, want %d", got, want)
	}

	// A dense array part cut short from the end keeps its backing array
	// until it is mostly unused; then the next rehash fits it.
	tb = newLTable(0, 0)
	for i := 1; i <= 1000; i++ {
		tb.RawSetInt(i, LNumber(i))
	}
	for i := 1000; i > 100; i-- {
		tb.RawSetInt(i, LNil)
	}
	if c := cap(tb.array); c < 1000 {
		t.Fatalf("array part reallocated to %d while a tenth was still used", c)
	}
	tb.RawSetString("new", LTrue)
	if c := cap(tb.array); c < 100 || c > 200 {
		t.Errorf("array part capacity %d after the rehash, 100 keys live", c)
	}
	if tb.Len() != 100 {
		t.Errorf("#t = %d, want 100", tb.Len())
	}
}

// Clearing an array from the end reslices in place: the backing array is
// replaced only a few times, and an emptied table keeps none.
func TestTableClearFromEndReslices(t *testing.T) {
	const n = 1 << 20
	tb := newLTable(0, 0)
	for i := 1; i <= n; i++ {
		tb.RawSetInt(i, LTrue)
	}
	moves, last := 0, &tb.array[0]
	for i := n; i >= 1; i-- {
		tb.RawSetInt(i, LNil)
		if len(tb.array) > 0 && &tb.array[0] != last {
			moves++
			last = &tb.array[0]
			if c := cap(tb.array); c > 4*len(tb.array) {
				t.Fatalf("moved to capacity %d for %d entries", c, len(tb.array))
			}
		}
		if len(tb.array) != i-1 {
			t.Fatalf("array part length %d after clearing t[%d]", len(tb.array), i)
		}
		if c := cap(tb.array); c > 256 && len(tb.array) < c/64 {
			t.Fatalf("capacity %d kept for %d entries", c, len(tb.array))
		}
	}
	if moves > 5 {
		t.Errorf("the array part moved %d times while it was cleared", moves)
	}
	if c := cap(tb.array); c > defaultArrayCap {
		t.Errorf("an emptied table keeps an array part of capacity %d", c)
	}
	if k, _ := tb.Next(LNil); k != LNil {
		t.Errorf("next of an emptied table gave %v", k)
	}
}

// A rehash that finds dead slots compacts them into the slots the table
// already has when the live ones fit, without new storage.
func TestTableCompactsInPlace(t *testing.T) {
	tb := newLTable(0, 0)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for _, k := range keys[:32] {
		tb.RawSetString(k, LString(k))
	}
	for _, k := range keys[:24] {
		tb.RawSetString(k, LNil)
	}
	slots := &tb.slots[:1][0]
	c := cap(tb.slots)
	for _, k := range keys[32:40] {
		tb.RawSetString(k, LString(k))
	}
	if &tb.slots[:1][0] != slots || cap(tb.slots) != c {
		t.Errorf("compaction moved the slots (capacity %d, was %d)", cap(tb.slots), c)
	}
	if len(tb.slots) != 16 || len(tb.strs) != 16 {
		t.Errorf("%d slots, %d map entries after compaction, want 16 live", len(tb.slots), len(tb.strs))
	}
	for i, k := range keys[:40] {
		want := LValue(LString(k))
		if i < 24 {
			want = LNil
		}
		if got := tb.RawGetString(k); got != want {
			t.Errorf("t[%q] = %v, want %v", k, got, want)
		}
	}
	seen := 0
	for k, _ := tb.Next(LNil); k != LNil; k, _ = tb.Next(k) {
		seen++
	}
	if seen != 16 {
		t.Errorf("next visited %d keys, want 16", seen)
	}
}
