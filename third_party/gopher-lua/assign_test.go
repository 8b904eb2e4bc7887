package lua

import "testing"

// TestMultipleAssignment: every right-hand side is evaluated before any
// target is assigned, for locals, upvalues, globals and fields alike
// (upstream issue 440: locals were assigned one by one).
func TestMultipleAssignment(t *testing.T) {
	L := NewState()
	defer L.Close()
	err := L.DoString(`
local a, b = 1, 2
a, b = b, a
assert(a == 2 and b == 1, "locals swap: " .. a .. " " .. b)
local x, y = 100, 0
y, x = 200, y
assert(x == 0 and y == 200, "y, x = 200, y: " .. x .. " " .. y)
local p, q, r = 1, 2, 3
p, q, r = r, p, q
assert(p == 3 and q == 1 and r == 2, "rotate: " .. p .. q .. r)
local u, v = 1, 2
local function swap() u, v = v, u end
swap()
assert(u == 2 and v == 1, "upvalues swap")
g1, g2 = 1, 2
g1, g2 = g2, g1
assert(g1 == 2 and g2 == 1, "globals swap")
local t = {1, 2}
t[1], t[2] = t[2], t[1]
assert(t[1] == 2 and t[2] == 1, "fields swap")
local i = 1
i, t[i] = i + 1, 20
assert(i == 2 and t[1] == 20, "the key is the old i")
local m, n = 5
m, n = n, m
assert(m == nil and n == 5, "nil moves too")
local function two() return 7, 8 end
local c, d = 1, 2
c, d = two()
assert(c == 7 and d == 8, "a call's results")
c, d = d
assert(c == 8 and d == nil, "fewer values than names")
local aa, dd, ff = {}, "e", 1
ff, aa.d = ff, dd
assert(ff == 1 and aa.d == "e", "issue 315")
g3, aa.x = ff, dd
assert(g3 == 1 and aa.x == "e", "a global before a field")
aa.y, ff = ff, 2
assert(aa.y == 1 and ff == 2, "a field reads the local before it is assigned")
local e = 1
e = e + 1
assert(e == 2, "single assignment")
`)
	if err != nil {
		t.Fatal(err)
	}
}
