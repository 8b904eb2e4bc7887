package sandbox

import (
	"fmt"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// String bounds: string.rep, string.format and table.concat refuse a
// result over --max-string before allocating it.

func (lim *luaLimits) tooBig(L *lua.LState, fn string, n float64) {
	L.RaiseError("%s: the result would be %.0f bytes, over the %d-byte limit (--max-string)", fn, n, lim.maxString)
}

// rep is string.rep(s, n[, sep]): n copies of s separated by sep (Lua 5.2).
func (lim *luaLimits) rep(L *lua.LState) int {
	s := L.CheckString(1)
	n := float64(L.CheckNumber(2))
	sep := L.OptString(3, "")
	n = math.Trunc(n) // as CheckInt would
	if n < 1 || n != n || s == "" && sep == "" {
		L.Push(lua.LString(""))
		return 1
	}
	size := float64(len(s))*n + float64(len(sep))*(n-1)
	if size > float64(lim.maxString) {
		lim.tooBig(L, "string.rep", size)
	}
	count := int(n)
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, count)))
		return 1
	}
	var b strings.Builder
	b.Grow(int(size))
	for i := 0; i < count; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// format is gopher-lua's string.format with an upper bound on the result
// checked first: Go's fmt takes widths and precisions up to 1e6, so a
// format string of a few KB with enough arguments could ask for GBs.
func (lim *luaLimits) format(L *lua.LState) int {
	f := L.CheckString(1)
	top := L.GetTop()
	npat := strings.Count(f, "%") - strings.Count(f, "%%")
	nargs := max(min(npat, top-1), 0)
	if bound := formatBound(L, f, nargs); bound > float64(lim.maxString) {
		lim.tooBig(L, "string.format", bound)
	}
	args := make([]any, nargs)
	for i := range args {
		args[i] = L.Get(i + 2)
	}
	L.Push(lua.LString(fmt.Sprintf(f, args...)))
	return 1
}

// formatBound is an upper bound on the length of fmt.Sprintf(f, args...)
// with the first nargs arguments after f on L's stack.
func formatBound(L *lua.LState, f string, nargs int) float64 {
	argLen := func(i int) (float64, bool) {
		if i >= nargs {
			return 0, false
		}
		if s, ok := L.Get(i + 2).(lua.LString); ok {
			return float64(len(s)), true
		}
		return 0, false
	}
	// Every argument once more, for "%!(EXTRA ...)" or a bad verb.
	bound := float64(len(f))
	longest, anyString := 0.0, false
	for i := 0; i < nargs; i++ {
		n, ok := argLen(i)
		bound += n + 400
		if ok {
			longest, anyString = max(longest, n), true
		}
	}
	// %[n]v and * take arguments out of order: assume the longest each time.
	explicit := strings.ContainsAny(f, "[*")
	arg := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		num := func() float64 {
			n := 0.0
			for i < len(f) && strings.IndexByte("+-# 0123456789[]*", f[i]) >= 0 {
				if f[i] >= '0' && f[i] <= '9' {
					n = min(n*10+float64(f[i]-'0'), 1e7)
				}
				i++
			}
			return n
		}
		width := num()
		prec := 0.0
		if i < len(f) && f[i] == '.' {
			i++
			prec = num()
		}
		verb := byte('v')
		if i < len(f) {
			verb = f[i]
		}
		n, isString := argLen(arg)
		if explicit {
			n, isString = longest, anyString
		}
		arg++
		out := 400.0 // a number (%f of 1e308 has 309 digits), a value's name
		if isString {
			switch verb {
			case 'q':
				out = 4*n + 2
			case 'x', 'X':
				out = 3 * n
			default:
				out = n + 64
			}
		}
		bound += max(width, out) + prec + 64
	}
	return bound
}

// checkConcat bounds table.concat(t[, sep[, i[, j]]]) before gopher-lua
// builds it: a few thousand references to one large string make a huge
// result. It mirrors gopher-lua's argument handling and leaves every error
// to it.
func (lim *luaLimits) checkConcat(L *lua.LState) {
	tbl, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return
	}
	sep := ""
	if s, ok := L.Get(2).(lua.LString); ok {
		sep = string(s)
	}
	n := tbl.Len()
	i, j := 1, n
	if v := L.Get(3); v != lua.LNil {
		i = int(lua.LVAsNumber(v)) // a numeric string counts, as in CheckInt
	}
	if v := L.Get(4); v != lua.LNil {
		j = int(lua.LVAsNumber(v))
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	size := 0.0
	for k := i; k <= j; k++ {
		switch v := tbl.RawGetInt(k).(type) {
		case lua.LString:
			size += float64(len(v))
		case lua.LNumber:
			size += 24
		default:
			return // gopher-lua raises its error
		}
		if k != j {
			size += float64(len(sep))
		}
	}
	if size > float64(lim.maxString) {
		lim.tooBig(L, "table.concat", size)
	}
}
